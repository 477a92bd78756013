"""Santander product recommendation (Kaggle 2016, `train_ver2.csv` format) → the contract.

One row per customer per month (`fecha_dato`): 24 customer attributes and 24 product flags
`ind_*_ult1` (1 = held that month). The mapping, decided once here:

* customers: `ncodpers`; attributes from the customer's latest sound row; born `age` years
  before that month (the middle of the possible year, so ± 6 months); joined at
  `fecha_alta`; gender from `sexo` (H → F, V → M, read as *hembra* / *varón*: the
  competition does not document the codes); region `nomprov`; segment from `segmento`;
  income band = the quintile of `renta` among the extract's customers (their latest rows);
* customer_attributes: the monthly rows are snapshots, so region, income band (each row's
  `renta` on the same quintiles) and segment get a new version in the month a customer's
  sound row first shows a change; the first version runs from `fecha_alta` (the first row's
  values are taken to hold since joining: nothing earlier is known). The last version is
  the customers row;
* products: the 24 flags, with readable names and contract families (`CATALOGUE`);
* holdings: a product held in a customer's month m and not in their previous month is
  opened in m and closed in the first later month without it. Held in the customer's
  first month: opened at `fecha_alta`, the earliest it can have been (the true date is not
  in the data). A month whose row is quarantined is unknown, like a missing month: it
  neither opens nor closes anything. A customer who stops appearing (in any row, sound or
  not) before the last month closes everything in the month after their last row;
* no transactions or interactions: empty tables (features from them are 0 or null).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import DataError
from features.importers.extract import (
    Check,
    ImportedExtract,
    Product,
    Triage,
    assemble,
    end_of_day,
    require_columns,
    whole_numbers,
)
from features.schema import INCOME_BANDS

SOURCE = "Santander product recommendation (Kaggle 2016, train_ver2.csv format)"

# The 24 flags; product id = the flag's column. Family, risk and minimum age read from the
# competition's product names.
CATALOGUE = (
    Product("ind_ahor_fin_ult1", "Saving account", "savings"),
    Product("ind_aval_fin_ult1", "Guarantees", "other", 2, 18),
    Product("ind_cco_fin_ult1", "Current account", "current_account"),
    Product("ind_cder_fin_ult1", "Derivatives account", "other", 5, 18),
    Product("ind_cno_fin_ult1", "Payroll account", "current_account"),
    Product("ind_ctju_fin_ult1", "Junior account", "current_account"),
    Product("ind_ctma_fin_ult1", "Más particular account", "current_account"),
    Product("ind_ctop_fin_ult1", "Particular account", "current_account"),
    Product("ind_ctpp_fin_ult1", "Particular Plus account", "current_account"),
    Product("ind_deco_fin_ult1", "Short-term deposit", "time_deposit"),
    Product("ind_deme_fin_ult1", "Medium-term deposit", "time_deposit"),
    Product("ind_dela_fin_ult1", "Long-term deposit", "time_deposit"),
    Product("ind_ecue_fin_ult1", "e-account", "current_account"),
    Product("ind_fond_fin_ult1", "Funds", "funds", 3),
    Product("ind_hip_fin_ult1", "Mortgage", "mortgage", 3, 18),
    Product("ind_plan_fin_ult1", "Pension plan", "pension", 3),
    Product("ind_pres_fin_ult1", "Loan", "personal_loan", 3, 18),
    Product("ind_reca_fin_ult1", "Taxes", "other"),
    Product("ind_tjcr_fin_ult1", "Credit card", "credit_card", 2, 18),
    Product("ind_valo_fin_ult1", "Securities", "funds", 4),
    Product("ind_viv_fin_ult1", "Home account", "savings"),
    Product("ind_nomina_ult1", "Payroll (salary paid in)", "other"),
    Product("ind_nom_pens_ult1", "Pension paid in", "other"),
    Product("ind_recibo_ult1", "Direct debit", "other"),
)
FLAGS = tuple(product.product_id for product in CATALOGUE)
ATTRIBUTES = ("fecha_dato", "ncodpers", "sexo", "age", "fecha_alta", "nomprov", "renta", "segmento")
GENDER = {"H": "F", "V": "M"}
SEGMENT = {"01 - TOP": "affluent", "02 - PARTICULARES": "mass", "03 - UNIVERSITARIO": "mass"}
NOTES = (
    "birth dates are estimated from age (± 6 months); income band = renta quintile",
    "customer_attributes: a version from each month whose row changes region, income "
    "band or segment; the first from fecha_alta (the first month's values are taken to "
    "hold since joining); risk appetite, channel and do-not-contact are not in the source",
    "no transactions, balances or interactions in the source: those features are 0 or null",
)
MAX_AGE = 120
DAYS_PER_YEAR = 365.25


def read_santander(path: Path) -> tuple[str, pd.DataFrame]:
    """Read a `train_ver2.csv`-format file (or the one such file in a folder) as text.

    Returns:
        The file name and its rows, every value as written (blank, " NA" and all).

    Raises:
        DataError: no such file, several candidates, or a column the importer needs missing.
    """
    if path.is_dir():
        candidates = sorted(path.glob("train_ver2*.csv"))
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            raise DataError(f"santander: expected one train_ver2*.csv in {path}, found {found}")
        path = candidates[0]
    if not path.exists():
        raise DataError(f"santander: no file {path}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    require_columns(path.name, frame, (*ATTRIBUTES, *FLAGS))
    return path.name, frame


def import_santander(source: tuple[str, pd.DataFrame]) -> ImportedExtract:
    """Translate monthly product flags into customers, products and holdings.

    Returns:
        The contract tables (transactions and interactions empty), every row not imported
        listed with its reason. The input is unchanged.

    Raises:
        DataError: no row has a readable `fecha_dato` (the extraction time is unknown), or
            no row is sound.
    """
    name, raw = source
    triage = Triage()
    month = pd.to_datetime(raw["fecha_dato"].str.strip(), format="%Y-%m-%d", errors="coerce")
    if month.isna().all():
        raise DataError(f"{name}: no fecha_dato reads as a date like 2015-01-28")
    customer = whole_numbers(raw["ncodpers"])
    age = pd.to_numeric(raw["age"].str.strip(), errors="coerce")
    joined = pd.to_datetime(raw["fecha_alta"].str.strip(), format="%Y-%m-%d", errors="coerce")
    customer_id = customer.astype(str)
    flags = raw[list(FLAGS)].apply(lambda column: column.str.strip())
    good = triage.quarantine(
        name,
        raw,
        [
            Check(month.isna(), "fecha_dato: not a date YYYY-MM-DD", "fecha_dato"),
            Check(customer.isna(), "ncodpers: not a whole number", "ncodpers"),
            Check(
                customer.notna() & pd.DataFrame({"c": customer, "m": month}).duplicated(keep=False),
                "ncodpers: twice in one month",
                "ncodpers",
            ),
            Check(age.isna(), "age: missing or not a number", "age"),
            Check((age < 0) | (age > MAX_AGE), f"age: outside 0-{MAX_AGE}", "age"),
            Check(joined.isna(), "fecha_alta: missing or not a date YYYY-MM-DD", "fecha_alta"),
            Check(joined > month, "fecha_alta: after fecha_dato", "fecha_alta"),
            *[
                Check(~flags[flag].isin(["0", "1"]), f"{flag}: not 0 or 1 (holding unknown)", flag)
                for flag in FLAGS
            ],
        ],
    )
    rows = pd.DataFrame(
        {
            "customer_id": customer_id,
            "month": month,
            "age": age,
            "joined_at": joined,
            "sexo": raw["sexo"].str.strip(),
            "region": raw["nomprov"].str.strip(),
            "renta": pd.to_numeric(raw["renta"].str.strip(), errors="coerce"),
            "segmento": raw["segmento"].str.strip(),
        }
    )[good]
    if rows.empty:
        (report,) = triage.reports
        raise DataError(f"{name}: no row is sound; reasons: {report.quarantined}")
    held = flags[good].astype(int).set_axis(rows.index)
    # A bad row still shows its customer in the file that month.
    seen = pd.DataFrame({"customer_id": customer_id, "month": month})[
        customer.notna() & month.notna()
    ]
    notes = (
        f"{month.nunique()} month(s) of product flags; holdings held in a customer's first "
        "month are dated at fecha_alta (the earliest possible: the true opening date is "
        "unknown); a month whose row is quarantined neither opens nor closes a holding",
        *NOTES,
    )
    tables = {"holdings": holdings_frame(rows, held, seen), **customer_tables(rows)}
    return assemble(f"{SOURCE}: {name}", triage, tables, CATALOGUE, end_of_day(month.max()), notes)


def customer_tables(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """`customers` (the latest sound row) and `customer_attributes` (its history)."""
    attributes = attribute_rows(rows)
    customers = customers_frame(rows, attributes)
    return {
        "customers": customers,
        "customer_attributes": attribute_versions(attributes, customers),
    }


def customers_frame(rows: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """One customer per `ncodpers`, from their latest sound row.

    Args:
        rows: sound rows.
        attributes: `attribute_rows(rows)`.
    """
    latest = rows.sort_values("month").groupby("customer_id").tail(1)
    # Age in whole years at the month: born between age + 1 and age years before it, so
    # the middle, age + ½ years before; never after joining.
    born = latest["month"] - pd.to_timedelta((latest["age"] + 0.5) * DAYS_PER_YEAR, unit="D")
    born = born.where(born <= latest["joined_at"], latest["joined_at"])
    shown = attributes.loc[latest.index]
    return pd.DataFrame(
        {
            "customer_id": latest["customer_id"],
            "birth_date": born.dt.normalize(),
            "joined_at": latest["joined_at"],
            "gender": latest["sexo"].map(GENDER),
            "region": shown["region"],
            "income_band": shown["income_band"],
            "segment": shown["segment"],
        }
    ).reset_index(drop=True)


def attribute_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The changeable attributes each sound row shows (region, income band, segment),
    aligned with `rows`. Income bands are the quintiles of the customers' latest `renta`,
    so a row's band is where its `renta` falls among them."""
    latest = rows.sort_values("month").groupby("customer_id").tail(1)
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "month": rows["month"],
            "region": rows["region"].replace("", None),
            "income_band": income_bands(rows["renta"], latest["renta"]),
            "segment": rows["segmento"].map(SEGMENT),
        },
        index=rows.index,
    )


def income_bands(renta: pd.Series, reference: pd.Series) -> pd.Series:
    """Income band of each `renta`: its quintile among `reference`, by pandas' average rank
    (a value of the reference gets exactly `reference.rank(pct=True)`; one between two
    values, half a rank above the lower). Null where `renta` is."""
    known = np.sort(reference.dropna().to_numpy(dtype=float))
    values = renta.to_numpy(dtype=float)
    below = np.searchsorted(known, values, side="left")
    equal = np.searchsorted(known, values, side="right") - below
    rank = np.where(equal > 0, below + (equal + 1) / 2, below + 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        quintile = np.ceil(rank / len(known) * len(INCOME_BANDS)).clip(1, len(INCOME_BANDS))
    bands = [
        None if np.isnan(value) or not len(known) else INCOME_BANDS[int(q) - 1]
        for value, q in zip(values, quintile, strict=True)
    ]
    return pd.Series(bands, index=renta.index, dtype="object")


def attribute_versions(attributes: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """`customer_attributes` from monthly snapshots: a version from each month whose row
    shows other attributes than the customer's previous sound row; the first from joining.

    Args:
        attributes: `attribute_rows` of the sound rows.
        customers: `customers_frame` (for `joined_at`).
    """
    ordered = attributes.sort_values(["customer_id", "month"])
    shown = ordered[["region", "income_band", "segment"]].astype("object")
    shown = shown.where(shown.notna(), "\0")  # compare a missing value equal to itself
    same_customer = ordered["customer_id"].eq(ordered["customer_id"].shift())
    changed = ~same_customer | shown.ne(shown.shift()).any(axis=1)
    versions = ordered[changed].copy()
    joined = customers.set_index("customer_id")["joined_at"]
    first = ~same_customer[changed]
    versions["valid_from"] = versions["month"].where(
        ~first, joined.reindex(versions["customer_id"]).to_numpy()
    )
    following = versions["valid_from"].shift(-1)
    versions["valid_to"] = following.where(
        versions["customer_id"].eq(versions["customer_id"].shift(-1))
    )
    columns = ["customer_id", "valid_from", "valid_to", "region", "income_band", "segment"]
    return versions[columns].reset_index(drop=True)


def holdings_frame(rows: pd.DataFrame, held: pd.DataFrame, seen: pd.DataFrame) -> pd.DataFrame:
    """Holding spells from monthly flags.

    Args:
        rows: sound rows with `customer_id`, `month` and `joined_at`.
        held: 0/1 per product flag, aligned with `rows`.
        seen: `customer_id` and `month` of every row naming both, sound or not. A customer
            whose row is bad has not left; only what they held that month is unknown.

    Returns:
        One row per spell (a run of a customer's consecutive sound rows holding the product:
        a month missing or unknown in between neither opens nor closes it): opened in its
        first month (at `joined_at` when that is the customer's first sound row), closed in
        the customer's next sound row, or, after their last one, in the file's month after
        the customer's last row of any kind; open when that is the file's last month.
    """
    order = np.lexsort((rows["month"].to_numpy(), rows["customer_id"].to_numpy()))
    customer = rows["customer_id"].to_numpy()[order]
    month = rows["month"].to_numpy()[order]
    joined = rows["joined_at"].to_numpy()[order]
    same_as_previous = np.r_[False, customer[1:] == customer[:-1]]
    same_as_next = np.r_[customer[:-1] == customer[1:], False]
    file_months = np.append(np.unique(seen["month"].to_numpy()), np.datetime64("NaT"))
    last_seen = seen.groupby("customer_id")["month"].max().reindex(customer).to_numpy()
    left = file_months[np.searchsorted(file_months[:-1], last_seen, side="right")]
    # When a spell whose last sound row this is ends: the customer's next sound row, else
    # the month after they were last in the file.
    ends = np.where(same_as_next, np.r_[month[1:], month[:1]], left)
    parts = []
    for flag in held.columns:
        h = held[flag].to_numpy()[order] == 1
        starts = np.flatnonzero(h & ~(np.r_[False, h[:-1]] & same_as_previous))
        stops = np.flatnonzero(h & ~(np.r_[h[1:], False] & same_as_next))
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": customer[starts],
                    "product_id": flag,
                    "opened_at": np.where(same_as_previous[starts], month[starts], joined[starts]),
                    "closed_at": ends[stops],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
