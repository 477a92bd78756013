"""Campaign contacts and outcomes from the CRM: validated like any bank table, kept per task.

A CRM export (CSV or Parquet, the `campaign_contacts` contract) is checked row by row with
the same rules as the bank's tables (types, allowed values, customers that exist, contact
not before assignment, nothing in the future); bad rows go to quarantine with the reason.
Good rows are merged into one outcomes file by `task_id`: a later export of the same task
(the call was made after all) replaces the earlier row, so exports can be re-sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from common.config import DataConfig
from common.errors import DataError, RetainError
from common.files import write_frame
from features import engine
from features.schema import CAMPAIGN_CONTACTS
from features.staging import TableReport, quarantined_rows, report_table, stage_table
from features.validation import BankData

CONTACTS_FILE = "campaign_contacts.parquet"
READABLE = (".csv", ".csv.gz", ".parquet")


@dataclass(frozen=True)
class ContactsLoad:
    """What `load_contacts` read, kept and set aside."""

    report: TableReport
    rows_kept: int
    rows_total: int  # rows in the outcomes file after the merge
    campaigns: dict[str, int]  # rows per campaign in this export
    outcomes_file: Path
    quarantine_file: Path | None


def outcomes_file(output_dir: Path) -> Path:
    return output_dir / "outcomes" / CONTACTS_FILE


def load_contacts(
    con, path: Path, bank: BankData, config: DataConfig, output_dir: Path
) -> ContactsLoad:
    """Validate a CRM export of campaign contacts and merge it into the outcomes file.

    Raises:
        DataError: the file is missing or unreadable, a required column is missing, or more
            rows are bad than `data.max_quarantine_share` allows.
    """
    if not path.is_file():
        raise DataError(f"campaign contacts: no file {path}")
    if not path.name.lower().endswith(READABLE):
        raise DataError(
            f"campaign contacts: {path.name} is not a CSV or Parquet file (expected a name "
            f"ending in {', '.join(READABLE)})"
        )
    # Contacts come after the extract the campaign was scored on: only the future is bad.
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        raw = engine.read_file(con, path)
        staged = stage_table(CAMPAIGN_CONTACTS, raw, bank.tables, now, check_duplicates=True)
        report = report_table(CAMPAIGN_CONTACTS, path, raw, staged, config)
    except RetainError:
        raise
    except Exception as exc:  # the engine's own reading errors: a corrupt or foreign file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"campaign contacts: cannot read {path.name}: {reason}") from None
    quarantine = None
    if report.rows_quarantined:
        folder = output_dir / "quarantine"
        folder.mkdir(parents=True, exist_ok=True)
        quarantine = folder / f"{CAMPAIGN_CONTACTS.name}-{path.stem}.parquet"
        quarantined_rows(raw, staged.checked()).to_parquet(quarantine)
    clean = staged.clean(fired=report.reasons).to_pandas()
    clean["satisfaction"] = clean["satisfaction"].astype("Int64")  # 1-5, may be missing
    target = outcomes_file(output_dir)
    merged = _merge(read_contacts(output_dir), clean)
    write_frame(merged, target)
    return ContactsLoad(
        report=report,
        rows_kept=len(clean),
        rows_total=len(merged),
        campaigns=clean["campaign_id"].value_counts().sort_index().to_dict(),
        outcomes_file=target,
        quarantine_file=quarantine,
    )


def read_contacts(output_dir: Path, campaign_id: str | None = None) -> pd.DataFrame:
    """The loaded contacts (of one campaign), empty with the contract's columns if none."""
    path = outcomes_file(output_dir)
    if not path.exists():
        return pd.DataFrame({name: [] for name in CAMPAIGN_CONTACTS.column_names})
    frame = pd.read_parquet(path)
    if campaign_id is not None:
        frame = frame[frame["campaign_id"] == campaign_id].reset_index(drop=True)
    return frame


def _merge(existing: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    if existing.empty:
        return new.reset_index(drop=True)
    kept = existing[~existing["task_id"].isin(new["task_id"])]
    return pd.concat([kept, new], ignore_index=True)
