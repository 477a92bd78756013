"""Small hand-built banks shared by the tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from banks import tiny_bank_frames, write_bank


@pytest.fixture
def tiny_frames() -> dict[str, pd.DataFrame]:
    return tiny_bank_frames()


@pytest.fixture
def tiny_bank(tmp_path: Path) -> Path:
    return write_bank(tiny_bank_frames(), tmp_path / "bank")


@pytest.fixture(scope="session")
def small_synthetic_bank(tmp_path_factory) -> Path:
    """400 customers over 2023, shared by the tests that need realistic volume."""
    from simulation.bank import generate_bank

    folder = tmp_path_factory.mktemp("synthetic") / "bank"
    generate_bank(folder, n_customers=400, months=12, seed=7, start=date(2023, 1, 1))
    return folder


# Modules that take minutes on one worker (xdist's loadscope keeps a module on one worker),
# scheduled first so that the other worker runs the rest meanwhile instead of waiting for
# them at the end.
LONGEST_MODULES = (
    "test_campaign_demo.py",
    "training/test_xsell.py",
    "features/test_engines.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next(
            (i for i, name in enumerate(LONGEST_MODULES) if path.endswith(f"tests/{name}")),
            len(LONGEST_MODULES),
        )

    items.sort(key=rank)  # stable: the order within a module, and among the others, stays
