"""The Santander importer: holdings from monthly flags, messy values, quarantine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from common.config import DataConfig, FeaturesConfig
from common.errors import DataError
from features import engine
from features.importers.extract import write_extract
from features.importers.santander import ATTRIBUTES, FLAGS, import_santander, read_santander
from features.staging import REASON
from features.validation import load_bank

SHARED = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "santander-product-recommendation"
)
JAN, FEB, MAR = "2015-01-28", "2015-02-28", "2015-03-28"
CCO, CARD, DEBIT, PAYROLL = (
    "ind_cco_fin_ult1",
    "ind_tjcr_fin_ult1",
    "ind_recibo_ult1",
    "ind_nomina_ult1",
)


def row(month, customer, held=(), age=" 35", joined="2012-08-03", **values) -> dict:
    """One line of train_ver2.csv as written: text, spaces and all."""
    line = {
        "fecha_dato": month,
        "ncodpers": customer,
        "ind_empleado": "N",  # a column the importer does not read
        "sexo": "V",
        "age": age,
        "fecha_alta": joined,
        "nomprov": "MADRID",
        "renta": "50000.00",
        "segmento": "02 - PARTICULARES",
    }
    line |= {flag: "0" for flag in FLAGS}
    line |= {flag: "1" for flag in held}
    return line | values


ROWS = [
    # 1: card held in February only; direct debit dropped in February, back in March.
    row(JAN, "1", [CCO, DEBIT], sexo="", renta="   NA", segmento="01 - TOP"),
    row(FEB, "1", [CCO, CARD], sexo="", renta="   NA", segmento="01 - TOP"),
    row(MAR, "1", [CCO, DEBIT], sexo="", renta="   NA", segmento="01 - TOP"),
    # 2: leaves after February.
    row(JAN, "2", [CCO], sexo="H", renta="20000.0"),
    row(FEB, "2", [CCO], sexo="H", renta="20000.0"),
    # 3: new in February.
    row(FEB, "3", [CCO], joined="2015-02-10", renta="90000.0", segmento="03 - UNIVERSITARIO"),
    row(MAR, "3", [CCO], joined="2015-02-10", renta="90000.0", segmento="03 - UNIVERSITARIO"),
    # 4: missing from February's file: a gap, not a closing.
    row(JAN, "4", [CCO], nomprov=""),
    row(MAR, "4", [CCO], nomprov=""),
    # 5: age unreadable in January; from February on the row is sound.
    row(JAN, "5", [CCO], age=" NA"),
    row(FEB, "5", [CCO], age="40"),
    row(MAR, "5", [CCO], age="40"),
    # Bad rows, one per reason.
    row(JAN, "6", [CCO], joined=""),
    row(JAN, "7", [CCO], **{PAYROLL: " NA"}),
    row(JAN, "8", [CCO]),
    row(JAN, "8", [CCO, CARD]),
    row(JAN, "9", [CCO], joined="2015-02-01"),
    row(JAN, "10", [CCO], age="130"),
    row("2015-13-28", "11", [CCO]),
    row(JAN, "x12", [CCO]),
    # A bad row still shows the customer is there: its month is unknown, not an absence
    # (renta NA keeps these customers out of the quintiles checked below).
    # 13: March's row has an unknown flag: still in the file, so nothing closes.
    row(JAN, "13", [CCO], renta="   NA"),
    row(FEB, "13", [CCO], renta="   NA"),
    row(MAR, "13", [CCO], renta="   NA", **{PAYROLL: " NA"}),
    # 14: twice in February (both rows bad), gone in March: closed in March, not February.
    row(JAN, "14", [CCO], renta="   NA"),
    row(FEB, "14", [CCO], renta="   NA"),
    row(FEB, "14", [CCO], renta="   NA"),
    # 15: February unknown: the card neither closes nor reopens there.
    row(JAN, "15", [CCO, CARD], renta="   NA"),
    row(FEB, "15", [CCO], age=" NA", renta="   NA"),
    row(MAR, "15", [CCO, CARD], renta="   NA"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("santander") / "train_ver2_small.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    return import_santander(read_santander(path))


def test_holdings_open_when_first_held_and_close_when_dropped(small):
    holdings = small.tables["holdings"].sort_values(["customer_id", "product_id", "opened_at"])
    got = [
        (
            h.customer_id,
            h.product_id,
            f"{h.opened_at:%Y-%m-%d}",
            None if pd.isna(h.closed_at) else f"{h.closed_at:%Y-%m-%d}",
        )
        for h in holdings.itertuples()
    ]
    assert got == [
        ("1", CCO, "2012-08-03", None),  # held in the first month: dated at fecha_alta
        ("1", DEBIT, "2012-08-03", FEB),
        ("1", DEBIT, MAR, None),  # held in March, not in February: opened in March
        ("1", CARD, FEB, MAR),
        ("13", CCO, "2012-08-03", None),
        ("14", CCO, "2012-08-03", MAR),
        ("15", CCO, "2012-08-03", None),
        ("15", CARD, "2012-08-03", None),
        ("2", CCO, "2012-08-03", MAR),  # no row after February: closed in the next month
        ("3", CCO, "2015-02-10", None),
        ("4", CCO, "2012-08-03", None),
        ("5", CCO, "2012-08-03", None),
    ]


def test_messy_rows_are_quarantined_with_their_reason(small):
    (report,) = small.reports
    assert report.rows_read == len(ROWS)
    assert report.quarantined == {
        "age: missing or not a number": 2,
        "fecha_alta: missing or not a date YYYY-MM-DD": 1,
        f"{PAYROLL}: not 0 or 1 (holding unknown)": 2,
        "ncodpers: twice in one month": 4,
        "fecha_alta: after fecha_dato": 1,
        "age: outside 0-120": 1,
        "fecha_dato: not a date YYYY-MM-DD": 1,
        "ncodpers: not a whole number": 1,
    }
    assert report.examples["age: missing or not a number"] == " NA"
    rejected = small.rejected[report.source]
    rows = rejected[["ncodpers", "fecha_dato", REASON]].itertuples(index=False)
    assert sorted(tuple(row) for row in rows) == [
        ("10", JAN, "age: outside 0-120"),
        ("11", "2015-13-28", "fecha_dato: not a date YYYY-MM-DD"),
        ("13", MAR, f"{PAYROLL}: not 0 or 1 (holding unknown)"),
        ("14", FEB, "ncodpers: twice in one month"),
        ("14", FEB, "ncodpers: twice in one month"),
        ("15", FEB, "age: missing or not a number"),
        ("5", JAN, "age: missing or not a number"),
        ("6", JAN, "fecha_alta: missing or not a date YYYY-MM-DD"),
        ("7", JAN, f"{PAYROLL}: not 0 or 1 (holding unknown)"),
        ("8", JAN, "ncodpers: twice in one month"),
        ("8", JAN, "ncodpers: twice in one month"),
        ("9", JAN, "fecha_alta: after fecha_dato"),
        ("x12", JAN, "ncodpers: not a whole number"),
    ]


def test_customers_take_their_latest_sound_row(small):
    customers = small.tables["customers"].set_index("customer_id")
    assert sorted(customers.index) == ["1", "13", "14", "15", "2", "3", "4", "5"]
    assert customers.loc["2", "gender"] == "F" and customers.loc["3", "gender"] == "M"
    assert pd.isna(customers.loc["1", "gender"])  # blank sexo
    assert customers.loc["1", "segment"] == "affluent" and customers.loc["3", "segment"] == "mass"
    assert pd.isna(customers.loc["1", "income_band"])  # renta "   NA"
    # Quintiles of renta among the four customers who give one: 20,000 is the second.
    assert customers.loc["2", "income_band"] == "lower_middle"
    assert customers.loc["3", "income_band"] == "high"
    assert pd.isna(customers.loc["4", "region"]) and customers.loc["2", "region"] == "MADRID"
    # Age 35 at the end of March: born between 36 and 35 years before.
    age = (pd.Timestamp(MAR) - customers.loc["1", "birth_date"]).days / 365.25
    assert 35 <= age < 36
    assert (customers["birth_date"] <= customers["joined_at"]).all()


def test_extraction_time_is_the_last_month(small):
    assert small.extracted_at == datetime(2015, 3, 28, 23, 59, 59)
    assert small.tables["transactions"].empty and small.tables["interactions"].empty


def test_written_extract_validates_clean(small, tmp_path):
    write_extract(small, tmp_path / "bank")
    bank = load_bank(engine.connect(FeaturesConfig()), tmp_path / "bank", DataConfig())
    assert all(report.rows_quarantined == 0 for report in bank.reports)
    assert len(bank.tables["products"].to_pandas()) == 24


def test_import_refuses_to_mix_with_another_extract(small, tmp_path):
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "balances.parquet").write_bytes(b"from an earlier import")
    with pytest.raises(DataError, match="balances.parquet belongs to another extract"):
        write_extract(small, tmp_path / "bank")
    (tmp_path / "bank" / "balances.parquet").unlink()
    write_extract(small, tmp_path / "bank")
    write_extract(small, tmp_path / "bank")  # the same import again replaces its own files


def test_missing_flag_column_is_named(tmp_path):
    path = tmp_path / "train_ver2.csv"
    pd.DataFrame(ROWS).drop(columns=[CARD]).to_csv(path, index=False)
    with pytest.raises(DataError, match=f"train_ver2.csv: column.s. {CARD} missing"):
        read_santander(path)
    with pytest.raises(DataError, match="santander: no file .*nowhere.csv"):
        read_santander(tmp_path / "nowhere.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected one train_ver2.*csv in .*, found none"):
        read_santander(tmp_path / "empty")


# ------------------------------------------------------------------ the shared Santander file

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} not present")


@needs_shared
def test_shared_file_holdings_match_its_flags(tmp_path):
    name, raw = read_santander(SHARED)
    extract = import_santander((name, raw))
    (report,) = extract.reports
    assert report.rows_read == 9999
    # The 50 rows without any attribute (age " NA", blank dates): quarantined, not guessed.
    assert report.quarantined == {"age: missing or not a number": 50}
    sound = raw[raw["age"].str.strip() != "NA"]
    customers, holdings = extract.tables["customers"], extract.tables["holdings"]
    assert len(customers) == 9949 == sound["ncodpers"].nunique()
    flags = sound.set_index(sound["ncodpers"].str.strip())[list(FLAGS)]
    held = flags.apply(lambda column: column.str.strip()).eq("1").stack()
    expected = sorted(held[held].index)
    assert sorted(zip(holdings["customer_id"], holdings["product_id"], strict=True)) == expected
    assert len(holdings) == 11960
    # One month: every holding is dated at the customer's fecha_alta and still open.
    joined = customers.set_index("customer_id")["joined_at"]
    assert (holdings["opened_at"].to_numpy() == joined[holdings["customer_id"]].to_numpy()).all()
    assert holdings["closed_at"].isna().all()
    assert extract.extracted_at == datetime(2015, 1, 28, 23, 59, 59)
    write_extract(extract, tmp_path / "santander")
    bank = load_bank(engine.connect(FeaturesConfig()), tmp_path / "santander", DataConfig())
    assert all(report.rows_quarantined == 0 for report in bank.reports)


def test_attribute_columns_are_the_ones_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "data-import.md").read_text()
    missing = [name for name in (*ATTRIBUTES, *FLAGS) if f"`{name}`" not in text]
    assert not missing, f"docs/data-import.md does not mention {missing}"


def test_attribute_versions_start_in_the_month_a_change_shows(tmp_path):
    rows = [
        # 21: moves from Madrid to Sevilla in February, becomes TOP in March.
        row(JAN, "21", [CCO], renta="30000.0"),
        row(FEB, "21", [CCO], renta="30000.0", nomprov="SEVILLA"),
        row(MAR, "21", [CCO], renta="30000.0", nomprov="SEVILLA", segmento="01 - TOP"),
        # 22: nothing changes (renta unknown throughout): one version, from joining.
        row(JAN, "22", [CCO], renta="   NA", joined="2014-05-05"),
        row(FEB, "22", [CCO], renta="   NA", joined="2014-05-05"),
        # 23: renta rises from the bottom to the top of the extract's quintiles in March;
        # February's row is bad (age NA): unknown, so no version starts there.
        row(JAN, "23", [CCO], renta="10000.0"),
        row(FEB, "23", [CCO], age=" NA", renta="10000.0"),
        row(MAR, "23", [CCO], renta="90000.0"),
        row(MAR, "24", [CCO], renta="50000.0"),
    ]
    path = tmp_path / "train_ver2.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    extract = import_santander(read_santander(path))
    versions = extract.tables["customer_attributes"]
    got = [
        (
            v.customer_id,
            f"{v.valid_from:%Y-%m-%d}",
            None if pd.isna(v.valid_to) else f"{v.valid_to:%Y-%m-%d}",
            v.region,
            v.income_band,
            v.segment,
        )
        for v in versions.itertuples()
    ]
    # Bands are quintiles of the latest renta (30,000, 50,000, 90,000: lower_middle,
    # upper_middle, high); January's 10,000 is below them all: low.
    assert got == [
        ("21", "2012-08-03", FEB, "MADRID", "lower_middle", "mass"),
        ("21", FEB, MAR, "SEVILLA", "lower_middle", "mass"),
        ("21", MAR, None, "SEVILLA", "lower_middle", "affluent"),
        ("22", "2014-05-05", None, "MADRID", None, "mass"),
        ("23", "2012-08-03", MAR, "MADRID", "low", "mass"),
        ("23", MAR, None, "MADRID", "high", "mass"),
        ("24", "2012-08-03", None, "MADRID", "upper_middle", "mass"),
    ]
    # customers = the last version, as a bank's extract holds them.
    customers = extract.tables["customers"].set_index("customer_id")
    last = versions[versions["valid_to"].isna()].set_index("customer_id")
    for column in ("region", "income_band", "segment"):
        pd.testing.assert_series_equal(
            customers[column].sort_index(), last[column].sort_index(), check_dtype=False
        )
    write_extract(extract, tmp_path / "bank")
    bank = load_bank(engine.connect(FeaturesConfig()), tmp_path / "bank", DataConfig())
    assert all(report.rows_quarantined == 0 for report in bank.reports)
    assert bank.tables["customer_attributes"].count().execute() == 7
