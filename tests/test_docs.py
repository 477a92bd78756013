"""Docs move with code."""

from __future__ import annotations

from pathlib import Path

from common.config import RetainConfig
from features.contract_doc import render_data_contract
from features.feature_doc import render_features_doc

ROOT = Path(__file__).resolve().parents[1]


def test_data_contract_doc_matches_the_declaration():
    assert (ROOT / "docs" / "data-contract.md").read_text() == render_data_contract(), (
        "run: retain data contract --write docs/data-contract.md"
    )


def test_features_doc_matches_the_declarations():
    assert (ROOT / "docs" / "features.md").read_text() == render_features_doc(), (
        "run: retain features doc --write docs/features.md"
    )


def _keys(model, prefix=""):
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            yield from _keys(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_configuration_doc_mentions_every_key():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in _keys(RetainConfig) if f"`{key}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"
