"""Declared dependencies match what the code imports, and optional back ends stay optional."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "features", "simulation", "training", "serving", "evaluation", "retain")
# Declared only to pin what another dependency runs on (see the comments in pyproject.toml):
# Ibis compiles with sqlglot and executes on DuckDB.
PINNED_NOT_IMPORTED = {"sqlglot", "duckdb"}
OPTIONAL_BACK_ENDS = {"psycopg", "redis"}


def _normalise(requirement: str) -> str:
    name = requirement.split(";")[0]
    for stop in "[<>=!~ ":
        name = name.split(stop)[0]
    return name.lower().replace("_", "-")


def _imports(paths, top_level_only: bool = False) -> dict[str, set[Path]]:
    """Top-level module names imported by the files, with the files importing each."""
    found: dict[str, set[Path]] = {}
    for path in paths:
        tree = ast.parse(path.read_text())
        nodes = tree.body if top_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path)
    return found


def _distributions(modules) -> dict[str, set[str]]:
    """Third-party module name -> the distributions that install it (several for namespace
    packages and mlflow / mlflow-skinny); stdlib and Retain's own left out."""
    by_module = packages_distributions()
    # The model runtime is imported by its own name inside a logged model (training/pyfunc).
    local = {*PACKAGES, "tests", "banks", "servers", "browser", "test_cli", "conftest"}
    local |= {"retain_model_runtime"}
    local |= {path.stem for path in (ROOT / "bench").glob("*.py")}
    # Test modules a benchmark reuses (bench/off_policy_coverage.py: the simulated campaign).
    local |= {path.stem for path in (ROOT / "tests").rglob("test_*.py")}
    return {
        module: {_normalise(dist) for dist in by_module.get(module, [module])}
        for module in modules
        if module not in sys.stdlib_module_names and module not in local
    }


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _product_files():
    return [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]


def test_product_code_imports_exactly_what_it_declares(project):
    declared = {_normalise(r) for r in project["project"]["dependencies"]}
    extras = project["project"]["optional-dependencies"]
    optional = {_normalise(r) for requirements in extras.values() for r in requirements}
    used = _distributions(_imports(_product_files()))
    undeclared = {module for module, dists in used.items() if not dists & (declared | optional)}
    assert undeclared == set(), "imported but not declared"
    imported = set().union(*used.values())
    assert declared - imported - PINNED_NOT_IMPORTED == set(), "declared but never imported"


def test_tests_and_benchmarks_import_only_declared_packages(project):
    everything = [
        *project["project"]["dependencies"],
        *[r for rs in project["project"]["optional-dependencies"].values() for r in rs],
        *project["dependency-groups"]["dev"],
        *project["dependency-groups"]["bench"],  # bench/uplift_learners.py: causalml
    ]
    declared = {_normalise(r) for r in everything}
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    used = _distributions(_imports(files))
    undeclared = {module: dists for module, dists in used.items() if not dists & declared}
    assert undeclared == {}


def test_optional_back_ends_are_imported_only_when_their_url_is_used():
    at_import_time = _imports(_product_files(), top_level_only=True)
    assert {name: at_import_time[name] for name in OPTIONAL_BACK_ENDS & set(at_import_time)} == {}
