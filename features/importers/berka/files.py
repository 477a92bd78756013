"""Reading the Berka files as text, and parsing their fields (dates, numbers, ids).

`read_berka` is the only function here that touches the disk; the parsers are pure and
shared by the parties, the ledger and the holdings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from common.errors import DataError
from features.importers.berka.codes import COLUMNS, TRANSACTIONS_PATTERN
from features.importers.extract import Check, end_of_day, require_columns, whole_numbers


@dataclass(frozen=True)
class BerkaFiles:
    """The source files as read: text columns, nothing parsed yet.

    Attributes:
        frames: table name (`COLUMNS` keys) → the file's rows.
        names: table name → file name, for reports.
    """

    frames: dict[str, pd.DataFrame]
    names: dict[str, str]


def read_berka(folder: Path) -> BerkaFiles:
    """Read the eight `.asc` files of a Berka folder as text.

    Raises:
        DataError: the folder, a file or a column the importer needs is missing.
    """
    if not folder.is_dir():
        raise DataError(f"berka: {folder} is not a folder (expected the .asc files in it)")
    paths = {name: folder / f"{name}.asc" for name in COLUMNS if name != "trans"}
    transactions = sorted(folder.glob(TRANSACTIONS_PATTERN))
    if len(transactions) != 1:
        found = ", ".join(p.name for p in transactions) or "none"
        raise DataError(
            f"berka: expected one transaction file {TRANSACTIONS_PATTERN} in {folder}, "
            f"found {found}"
        )
    paths["trans"] = transactions[0]
    frames = {}
    for name, path in paths.items():
        if not path.exists():
            raise DataError(f"berka: no {path.name} in {folder}")
        frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
        require_columns(path.name, frame, COLUMNS[name])
        frames[name] = frame
    return BerkaFiles(frames, {name: path.name for name, path in paths.items()})


def parse_dates(values: pd.Series) -> pd.Series:
    """YYMMDD (optionally followed by a time, as in card.asc) in the 1900s."""
    return pd.to_datetime("19" + values.str.strip().str[:6], format="%Y%m%d", errors="coerce")


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers as read; text that is not one becomes NaN."""
    return pd.to_numeric(values.str.strip(), errors="coerce")


def id_checks(raw: pd.DataFrame, column: str) -> list[Check]:
    """An id column must hold whole numbers, each once."""
    ids = whole_numbers(raw[column])
    return [
        Check(ids.isna(), f"{column}: not a whole number", column),
        Check(ids.notna() & ids.duplicated(keep=False), f"{column}: duplicate", column),
    ]


def extraction_time(trans: pd.DataFrame, source: str) -> datetime:
    """The end of the last day of the transaction file.

    Raises:
        DataError: no transaction has a readable date.
    """
    last = parse_dates(trans["date"]).max()
    if pd.isna(last):
        raise DataError(f"{source}: no transaction has a date like 930101 (YYMMDD)")
    return end_of_day(last)


def after_extraction(cutoff: pd.Timestamp) -> str:
    """The words of a set-aside reason for something that starts after `cutoff`."""
    return f"after the extraction time {cutoff:%Y-%m-%d}"
