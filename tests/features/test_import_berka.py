"""The Berka importer: every Czech code translated, bad rows quarantined with a reason, rows
after the extraction time set aside, and an extract that loads clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from common.config import DataConfig, FeaturesConfig
from common.errors import DataError
from features import engine
from features.importers.berka import (
    K_SYMBOLS,
    OPERATIONS,
    TYPES,
    Accounts,
    decode_birth_number,
    import_berka,
    month_end_balances,
    read_berka,
)
from features.importers.extract import (
    QUARANTINE_DIR,
    check_quarantine_share,
    whole_numbers,
    write_extract,
)
from features.schema import COUNTERPARTY_TYPES, DIRECTIONS, MANIFEST_FILE, TRANSACTION_CHANNELS
from features.staging import REASON
from features.validation import attribute_source, load_bank

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "berka-pkdd99"
TRANSACTIONS_FILE = "trans_small.asc"
DISTRICT_HEADER = ";".join(f"A{i}" for i in range(1, 17))

# A hand-made bank, in the files' own format (`;`, quoted text, CRLF, dates YYMMDD).
# Clients: 1 owns account 1; 2 owns account 2, where 3 is a user (DISPONENT); 4 owns
# account 3, opened after the extraction time; 5 has an impossible birth month (13) and 6 an
# unknown district, so their account 4 has no valid owner; 7's only disposition names an
# account that does not exist.
SMALL_BANK = {
    "district.asc": [
        DISTRICT_HEADER,
        '1;"Hl.m. Praha";"Prague";1204953;0;0;0;1;1;100.0;12541;0.29;0.43;167;85677;99107',
        '2;"Benesov";"central Bohemia";88884;80;26;6;2;5;46.7;8507;?;1.85;?;?;2674',
    ],
    "client.asc": [
        '"client_id";"birth_number";"district_id"',
        '1;"706213";1',
        '2;"450204";2',
        '3;"406009";2',
        '4;"600101";1',
        '5;"701332";1',
        '6;"700101";99',
        '7;"650101";1',
    ],
    "account.asc": [
        '"account_id";"district_id";"frequency";"date"',
        '1;1;"POPLATEK MESICNE";930101',
        '2;2;"POPLATEK TYDNE";930115',
        '3;1;"POPLATEK MESICNE";940601',
        '4;1;"POPLATEK PO OBRATU";930201',
        '5;1;"POPLATEK MESICNE";931345',
    ],
    "disp.asc": [
        '"disp_id";"client_id";"account_id";"type"',
        '1;1;1;"OWNER"',
        '2;2;2;"OWNER"',
        '3;3;2;"DISPONENT"',
        '4;4;3;"OWNER"',
        '5;5;4;"OWNER"',
        '6;7;99;"OWNER"',
    ],
    "card.asc": [
        '"card_id";"disp_id";"type";"issued"',
        '11;3;"classic";930301 00:00:00',  # issued to the user: held by the owner, client 2
        '12;1;"platinum";930301 00:00:00',
        '13;2;"gold";940501 00:00:00',
        '14;4;"junior";940701 00:00:00',
    ],
    "loan.asc": [
        '"loan_id";"account_id";"date";"amount";"duration";"payments";"status"',
        '21;1;930201;12000;12;1000.00;"A"',
        '22;3;940615;50000;24;2100.00;"C"',
        '23;2;930301;9000;x;750.00;"A"',
    ],
    "order.asc": [
        '"order_id";"account_id";"bank_to";"account_to";"amount";"k_symbol"',
        '31;1;"AB";"123";500.00;"SIPO"',
        '32;2;"CD";"456";100.00;""',
        '33;2;"EF";"789";70.00;"POJISTNE"',
        '34;1;"GH";"321";20.00;"XYZ"',
        '35;3;"IJ";"654";30.00;"UVER"',
    ],
    TRANSACTIONS_FILE: [
        '"trans_id";"account_id";"date";"type";"operation";"amount";"balance";"k_symbol";'
        '"bank";"account"',
        '101;1;930101;"PRIJEM";"VKLAD";1000.00;1000.00;"";;',
        '102;1;930110;"PRIJEM";"PREVOD Z UCTU";5000.00;6000.00;"DUCHOD";"EF";"999"',
        '103;1;930112;"VYDAJ";"PREVOD NA UCET";500.00;5500.00;"SIPO";"AB";"123"',
        '104;1;930115;"VYDAJ";"VYBER KARTOU";200.00;5300.00;"";;',
        '105;1;930120;"VYDAJ";"PREVOD NA UCET";300.00;5000.00;"POJISTNE";"KL";"111"',
        '106;1;930125;"VYDAJ";"PREVOD NA UCET";100.00;4900.00;"UVER";"GH";"222"',
        # One day, ids out of booking order: interest, then the fee, then the penalty.
        '120;1;930131;"PRIJEM";"";10.00;4910.00;"UROK";;',
        '107;1;930131;"VYDAJ";"VYBER";15.00;4895.00;"SLUZBY";;',
        '110;1;930131;"VYDAJ";"VYBER";5.00;4890.00;"SANKC. UROK";;',
        '111;1;930205;"VYBER";"VYBER";100.00;4790.00;" ";;',
        '112;1;930210;"VYDAJ";"PREVOD NA UCET";50.00;4740.00;"";"ZZ";"777"',
        '113;1;930212;"PRIJEM";"PREVOD Z UCTU";2000.00;6740.00;"";"MN";"888"',
        '114;1;930215;"VYDAJ";"VYBER";40.00;6700.00;"SIPO";;',
        '201;2;930115;"PRIJEM";"VKLAD";500.00;500.00;"";;',
        '202;2;930120;"VYDAJ";"PREVOD NA UCET";100.00;400.00;"";"CD";"456"',
        '203;2;930125;"VYDAJ";"PREVOD NA UCET";50.00;350.00;"LEASING";"OP";"999"',
        '204;2;940330;"PRIJEM";"VKLAD";100.00;450.00;"";;',
        # Bad rows, one per reason.
        '301;1;931345;"PRIJEM";"VKLAD";1.00;1.00;"";;',
        '302;99;930301;"PRIJEM";"VKLAD";1.00;1.00;"";;',
        '303;1;930301;"XXX";"VKLAD";1.00;1.00;"";;',
        '304;1;930301;"PRIJEM";"FOO";1.00;1.00;"";;',
        '305;1;930301;"PRIJEM";"VKLAD";1.00;1.00;"BAR";;',
        '306;1;930301;"PRIJEM";"";1.00;1.00;"";;',
        '307;1;930301;"PRIJEM";"VKLAD";abc;1.00;"";;',
        '308;4;930301;"PRIJEM";"VKLAD";1.00;1.00;"";;',
    ],
}


def write_small_bank(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in SMALL_BANK.items():
        (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    files = read_berka(write_small_bank(tmp_path_factory.mktemp("berka") / "src"))
    return files, import_berka(files)


def by_source(small, source: str):
    return next(report for report in small[1].reports if report.source == source)


CLIENTS_NOT_IMPORTED = {
    "3": "a user (DISPONENT) of another's account, not its owner",
    "4": "owns an account opened after the extraction time 1994-03-30",
    "5": "birth_number: not a date YYMMDD (women: month + 50)",
    "6": "district_id: unknown in district",
    "7": "no usable disposition (see disp)",
}


def imported_rows(files, extract) -> dict[str, int]:
    """Per source table, how many of its rows the extract's tables hold."""
    tables = extract.tables
    holdings = tables["holdings"]
    # Merged holdings join their source ids: "order-31,order-35".
    source_ids = pd.Series([i for ids in holdings["account_id"] for i in ids.split(",")])
    accounts = holdings.loc[holdings["product_id"] == "current_account", "account_id"]
    disp = files.frames["disp"]
    return {
        # A lookup: imported onto the customers of each district (every district has some).
        "district": tables["customers"]["district"].nunique(),
        "client": len(tables["customers"]),
        "account": len(accounts),
        # Imported as the link from customers and cards to the imported accounts.
        "disp": disp.loc[disp["account_id"].str.strip().isin(accounts), "disp_id"].nunique(),
        "card": source_ids.str.startswith("card-").sum(),
        "loan": source_ids.str.startswith("loan-").sum(),
        "order": source_ids.str.startswith("order-").sum(),
        "trans": len(tables["transactions"]),
    }


def assert_every_row_accounted_for(files, extract) -> None:
    """Nothing vanishes: rows read = imported + quarantined + set aside, file by file."""
    reports = {report.source: report for report in extract.reports}
    imported = imported_rows(files, extract)
    for table, source in files.names.items():
        report = reports[source]
        assert report.rows_read == len(files.frames[table]), source
        accounted = imported[table] + report.rows_quarantined + report.rows_set_aside
        assert report.rows_read == accounted, (source, imported[table], report)
        rejected = extract.rejected.get(source, [])
        assert len(rejected) == report.rows_quarantined + report.rows_set_aside, source


@pytest.mark.parametrize(
    ("number", "born", "gender"),
    [
        ("706213", date(1970, 12, 13), "F"),  # month 62 = December, a woman
        ("450204", date(1945, 2, 4), "M"),
        ("406009", date(1940, 10, 9), "F"),
        ("805131", date(1980, 1, 31), "F"),
    ],
)
def test_birth_number_decodes_date_and_gender(number, born, gender):
    decoded = decode_birth_number(pd.Series([number]))
    assert decoded["birth_date"].iloc[0].date() == born
    assert decoded["gender"].iloc[0] == gender


@pytest.mark.parametrize("number", ["701332", "700230", "7001", "abcdef", ""])
def test_impossible_birth_number_is_not_a_date(number):
    assert decode_birth_number(pd.Series([number]))["birth_date"].isna().all()


@pytest.mark.parametrize(("text", "number"), [(" 12 ", 12), ("12.0", 12), ("1e3", 1000)])
def test_ids_read_as_whole_numbers(text, number):
    assert whole_numbers(pd.Series([text])).tolist() == [number]


@pytest.mark.parametrize("text", ["", "x", "12.5", "inf", "1e30"])
def test_an_id_that_is_no_whole_number_is_missing_not_an_error(text):
    assert whole_numbers(pd.Series([text])).isna().all()


def test_owners_become_customers_with_region_and_district(small):
    customers = small[1].tables["customers"].set_index("customer_id")
    assert list(customers.index) == ["1", "2"]
    first = customers.loc["1"]
    assert (first["birth_date"].date(), first["gender"]) == (date(1970, 12, 13), "F")
    assert first["joined_at"].date() == date(1993, 1, 1)
    assert (first["region"], first["district"]) == ("Prague", "Hl.m. Praha")
    second = customers.loc["2"]
    assert second["region"] == "central Bohemia"
    assert pd.isna(second["district_entrepreneurs_per_1000"])  # '?' in the source


def test_district_figures_dated_after_the_extraction_are_not_imported(small):
    """Unemployment and crimes of 1995 and 1996 would tell a 1994 snapshot the future."""
    customers = small[1].tables["customers"]
    assert [c for c in customers.columns if c.endswith(("_1995", "_1996"))] == []
    assert any("A12, A13, A15, A16" in note for note in small[1].notes)


def test_every_client_is_imported_set_aside_or_quarantined_with_a_reason(small):
    report = by_source(small, "client.asc")
    assert report.set_aside == {
        "a user (DISPONENT) of another's account, not its owner": 1,
        "owns an account opened after the extraction time 1994-03-30": 1,
        "no usable disposition (see disp)": 1,
    }
    assert report.quarantined == {
        "birth_number: not a date YYMMDD (women: month + 50)": 1,
        "district_id: unknown in district": 1,
    }
    rejected = small[1].rejected["client.asc"]
    assert dict(zip(rejected["client_id"], rejected[REASON], strict=True)) == CLIENTS_NOT_IMPORTED
    assert by_source(small, "disp.asc").quarantined == {
        "client_id: no valid client in client": 1,
        "account_id: no valid account in account": 1,
    }


def test_every_row_of_every_file_is_imported_set_aside_or_quarantined(small):
    files, extract = small
    assert_every_row_accounted_for(files, extract)


def test_extraction_time_is_the_last_transaction_day_and_later_accounts_are_set_aside(small):
    extract = small[1]
    assert extract.extracted_at == datetime(1994, 3, 30, 23, 59, 59)
    accounts = by_source(small, "account.asc")
    assert accounts.set_aside == {"opened after the extraction time 1994-03-30": 1}
    assert accounts.quarantined == {"date: not a date YYMMDD": 1, "no single OWNER in disp": 1}
    loans = by_source(small, "loan.asc")
    assert loans.set_aside == {"account opened after the extraction time": 1}
    assert loans.quarantined == {"duration: not a whole number of months > 0": 1}
    assert any("accounts opened later have no transactions" in note for note in extract.notes)
    # order.asc is as of 1998: an order cancelled before then is in no file.
    assert any("orders cancelled earlier are missing" in note for note in extract.notes)


def test_holdings_cover_accounts_cards_loans_and_dated_orders(small):
    holdings = small[1].tables["holdings"].set_index(["customer_id", "product_id"])
    assert sorted(holdings.index) == [
        ("1", "current_account"),
        ("1", "loan"),
        ("1", "order_household"),
        ("2", "card_classic"),
        ("2", "current_account"),
        ("2", "order_other"),
    ]
    loan = holdings.loc[("1", "loan")]
    assert (loan["opened_at"], loan["closed_at"]) == (
        pd.Timestamp("1993-02-01"),
        pd.Timestamp("1994-02-01"),
    )
    # Orders are dated by their first payment; the card given to the user is the owner's.
    assert holdings.loc[("1", "order_household"), "opened_at"] == pd.Timestamp("1993-01-12")
    assert holdings.loc[("2", "order_other"), "opened_at"] == pd.Timestamp("1993-01-20")
    assert holdings.loc[("2", "card_classic"), "opened_at"] == pd.Timestamp("1993-03-01")
    assert holdings.loc[("1", "current_account"), "balance_or_limit"] == 6700.0
    cards = by_source(small, "card.asc")
    assert cards.quarantined == {"type: not one of junior, classic, gold": 1}
    assert cards.set_aside == {
        "issued after the extraction time 1994-03-30": 1,
        "account opened after the extraction time": 1,
    }
    orders = by_source(small, "order.asc")
    assert orders.quarantined == {"k_symbol: not one of SIPO, POJISTNE, UVER, LEASING or blank": 1}
    assert orders.set_aside == {
        "no payment before the extraction time: when it started is unknown (no date in order)": 1,
        "account opened after the extraction time": 1,
    }


# (type, operation, k_symbol) as in the file → what the contract gets.
TRANSLATIONS = {
    "PRIJEM/VKLAD/": ("credit", "branch", "cash", "cash deposit"),
    "PRIJEM/PREVOD Z UCTU/DUCHOD": ("credit", "system", "pension", "old-age pension"),
    "VYDAJ/PREVOD NA UCET/SIPO": ("debit", "system", "bill", "household payment"),
    "VYDAJ/VYBER KARTOU/": ("debit", "atm", "cash", "card withdrawal"),
    "VYDAJ/PREVOD NA UCET/POJISTNE": ("debit", "system", "bill", "insurance payment"),
    "VYDAJ/PREVOD NA UCET/UVER": ("debit", "system", "loan_payment", "loan payment"),
    "PRIJEM//UROK": ("credit", "system", "interest", "interest credited"),
    "VYDAJ/VYBER/SLUZBY": ("debit", "system", "fee", "statement fee"),
    "VYDAJ/VYBER/SANKC. UROK": ("debit", "system", "fee", "penalty interest"),
    "VYBER/VYBER/": ("debit", "branch", "cash", "cash withdrawal"),
    "PRIJEM/PREVOD Z UCTU/": ("credit", "system", "transfer_in", "transfer from another bank"),
    "VYDAJ/VYBER/SIPO": ("debit", "branch", "bill", "household payment"),
    "VYDAJ/PREVOD NA UCET/LEASING": ("debit", "system", "loan_payment", "leasing payment"),
}


def test_every_czech_code_is_translated(small):
    tx = small[1].tables["transactions"]
    seen = tx.drop_duplicates("source_code").set_index("source_code")
    columns = ["direction", "channel", "counterparty_type", "category"]
    for code, expected in TRANSLATIONS.items():
        assert tuple(seen.loc[code, columns]) == expected, code
    # A transfer to another bank: ad hoc from the branch, or run by the bank for an order.
    transfers = tx[tx["source_code"] == "VYDAJ/PREVOD NA UCET/"].set_index("account_id")
    assert transfers.loc["1", "channel"] == "branch"
    assert transfers.loc["1", "counterparty_type"] == "transfer_out_other_bank"
    assert transfers.loc["2", "channel"] == "system"
    codes = {part for code in tx["source_code"] for part in code.split("/")} - {""}
    assert codes <= set(TYPES) | set(OPERATIONS) | set(K_SYMBOLS)
    assert set(K_SYMBOLS) <= codes and set(TYPES) <= codes
    assert set(OPERATIONS) - {""} <= codes


def test_bad_transactions_are_quarantined_with_their_reason(small):
    report = by_source(small, TRANSACTIONS_FILE)
    assert report.quarantined == {
        "date: not a date YYMMDD": 1,
        "account_id: no imported account (see account)": 2,
        "type: not one of PRIJEM, VYDAJ, VYBER": 1,
        "operation: not one of VKLAD, VYBER, VYBER KARTOU, PREVOD Z UCTU, PREVOD NA UCET or "
        "blank": 1,
        "k_symbol: not one of POJISTNE, SLUZBY, UROK, SANKC. UROK, SIPO, DUCHOD, UVER, LEASING "
        "or blank": 1,
        "operation and k_symbol both blank: what it was is unknown": 1,
        "amount: not a number >= 0": 1,
    }
    assert report.examples["type: not one of PRIJEM, VYDAJ, VYBER"] == "XXX"
    assert len(small[1].tables["transactions"]) == len(SMALL_BANK[TRANSACTIONS_FILE]) - 1 - 8


def test_month_end_balance_is_the_days_last_booking_not_the_largest_id(small):
    balances = small[1].tables["balances"]
    first = balances[balances["customer_id"] == "1"].set_index("snapshot_date")["balance"]
    assert first[date(1993, 1, 31)] == 4890.0  # after interest, fee and penalty
    assert first[date(1993, 2, 28)] == 6700.0
    assert first[date(1994, 2, 28)] == 6700.0  # carried over the quiet months
    assert max(balances["snapshot_date"]) == date(1994, 2, 28)  # March is not over


def test_an_owner_of_two_accounts_has_one_balance_per_month_end():
    """The balances key is customer, product and day: the two accounts' balances add up."""
    accounts = Accounts(
        customer_of=pd.Series(["1", "1"], index=pd.Index([1, 7], dtype="Int64")),
        opened=pd.Series(pd.to_datetime(["1993-01-01", "1993-02-10"]), index=[1, 7]),
        late=pd.Index([], dtype="Int64"),
    )
    day_end = pd.DataFrame(
        {
            "account_id": ["1", "1", "7"],
            "day": pd.to_datetime(["1993-01-05", "1993-02-20", "1993-02-15"]),
            "balance": [100.0, 150.0, 40.0],
        }
    )
    balances = month_end_balances(day_end, accounts, pd.Timestamp("1993-03-30"))
    rows = balances[["customer_id", "snapshot_date", "balance"]].itertuples(index=False)
    assert [tuple(row) for row in rows] == [
        ("1", date(1993, 1, 31), 100.0),  # the second account is not open yet
        ("1", date(1993, 2, 28), 190.0),
    ]


def test_the_inputs_are_left_unchanged(tmp_path):
    files = read_berka(write_small_bank(tmp_path / "src"))
    before = {name: frame.copy() for name, frame in files.frames.items()}
    import_berka(files)
    for name, frame in files.frames.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_written_extract_validates_clean(small, tmp_path):
    write_extract(small[1], tmp_path / "bank")
    bank = load_bank(engine.connect(FeaturesConfig()), tmp_path / "bank", DataConfig())
    assert {r.table: r.rows_quarantined for r in bank.reports} == dict.fromkeys(
        ["customers", "products", "holdings", "transactions", "interactions", "balances"], 0
    )
    assert bank.extracted_at == datetime(1994, 3, 30, 23, 59, 59)
    # Berka has no attribute history: features read `customers` as of extraction, and say so.
    assert attribute_source(tmp_path / "bank") == "as_of_extraction"
    # A loan's end after the extraction is a plan: open as far as the extract knows.
    holdings = bank.tables["holdings"].to_pandas()
    assert holdings["closed_at"].notna().sum() == 1
    rejected = pd.read_parquet(tmp_path / "bank" / QUARANTINE_DIR / "client.parquet")
    assert dict(zip(rejected["client_id"], rejected[REASON], strict=True)) == CLIENTS_NOT_IMPORTED


def test_too_many_bad_rows_stop_with_the_file_and_reasons(small):
    with pytest.raises(
        DataError, match=r"client.asc: 2 of 7 rows \(28.6%\) are bad.*e.g. '701332'"
    ):
        check_quarantine_share(small[1], 0.05)
    check_quarantine_share(small[1], 0.5)  # set-aside rows are not errors


def test_missing_file_and_column_are_named(tmp_path):
    folder = write_small_bank(tmp_path / "src")
    (folder / "loan.asc").unlink()
    with pytest.raises(DataError, match="berka: no loan.asc in"):
        read_berka(folder)
    (folder / "loan.asc").write_text('"loan_id";"account_id";"date"\r\n1;1;930101\r\n')
    with pytest.raises(DataError, match="loan.asc: column.s. amount, duration missing"):
        read_berka(folder)


@pytest.mark.integration
def test_cli_imports_and_refuses_a_broken_file_without_a_traceback(tmp_path):
    source = write_small_bank(tmp_path / "src")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}

    def retain(*args, **extra):
        return subprocess.run(
            [sys.executable, "-m", "retain", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env | extra,
            timeout=120,
        )

    refused = retain("data", "import", "berka", str(source), "--out", str(tmp_path / "out"))
    assert refused.returncode == 2, refused.stderr
    assert "more than data.max_quarantine_share" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    done = retain(
        "data",
        "import",
        "berka",
        str(source),
        "--out",
        str(tmp_path / "out"),
        RETAIN_DATA__MAX_QUARANTINE_SHARE="0.5",
    )
    assert done.returncode == 0, done.stderr
    assert "transactions" in done.stdout and "1994-03-30" in done.stdout
    manifest = json.loads((tmp_path / "out" / MANIFEST_FILE).read_text())
    assert manifest["extracted_at"] == "1994-03-30T23:59:59"
    unknown = retain("data", "import", "bank-x", str(source), "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "berka, santander" in unknown.stderr


# ------------------------------------------------------------------ the shared Berka files

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} not present")


@pytest.fixture(scope="module")
def shared():
    return import_berka(read_berka(SHARED))


@needs_shared
def test_shared_files_import_what_the_partial_transactions_cover(shared):
    tables = shared.tables
    assert shared.extracted_at == datetime(1994, 3, 30, 23, 59, 59)
    assert {name: len(frame) for name, frame in tables.items()} == {
        "customers": 1229,
        "products": 10,
        "holdings": 2418,
        "transactions": 46997,
        "interactions": 0,
        "balances": 9729,
    }
    assert tables["holdings"]["product_id"].value_counts().to_dict() == {
        "current_account": 1229,
        "order_household": 708,
        "order_other": 289,
        "order_insurance": 115,
        "loan": 37,
        "order_loan": 34,
        "card_classic": 6,
    }
    reports = {r.source: r for r in shared.reports}
    assert all(not r.quarantined for r in reports.values())
    assert reports["account.asc"].rows_set_aside == 3271
    assert reports["card.asc"].rows_set_aside == 886


@needs_shared
def test_shared_files_lose_no_row(shared):
    assert_every_row_accounted_for(read_berka(SHARED), shared)


@needs_shared
def test_shared_transactions_are_all_translated_onto_the_contract(shared):
    tx = shared.tables["transactions"]
    assert tx[["direction", "channel", "counterparty_type", "category"]].notna().all().all()
    assert set(tx["direction"]) <= set(DIRECTIONS)
    assert set(tx["channel"]) <= set(TRANSACTION_CHANNELS)
    assert set(tx["counterparty_type"]) <= set(COUNTERPARTY_TYPES)
    codes = {part for code in tx["source_code"] for part in code.split("/")} - {""}
    assert codes == set(TYPES) | (set(OPERATIONS) - {""}) | (set(K_SYMBOLS) - {"LEASING"})


@needs_shared
def test_shared_import_validates_clean(shared, tmp_path):
    write_extract(shared, tmp_path / "berka")
    bank = load_bank(engine.connect(FeaturesConfig()), tmp_path / "berka", DataConfig())
    assert all(report.rows_quarantined == 0 for report in bank.reports)
