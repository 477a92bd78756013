"""Feature and label definitions on hand-built cases: values, labels, leakage, one customer."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
from banks import tiny_bank_frames, tiny_bank_with_history, write_bank

from common.config import ChurnDefinition, DataConfig, FeaturesConfig
from features import engine, interactions, labels, pipeline, products, transactions
from features.definitions import (
    KEYS,
    LABEL_CHURN,
    FeatureInputs,
    build_features,
    feature_columns,
    feature_names,
)
from features.model_frame import to_model_frame
from features.online import customer_features
from features.schema import TRANSACTION_CHANNELS
from features.spec import DeclarationMismatch, Feature, FeatureFamily, PerWindow, check_computed
from features.validation import load_bank

CONFIG = FeaturesConfig()


def features_of(frames, as_of_dates, config=CONFIG, labels=True, tmp_path=None):
    folder = write_bank(frames, tmp_path / "bank")
    bank = load_bank(engine.connect(config), folder, DataConfig(max_quarantine_share=0.9))
    frame = build_features(
        FeatureInputs.from_tables(bank.tables),
        as_of_dates,
        config,
        pipeline.catalogue(bank),
        bank.extracted_at,
        labels,
    ).to_pandas()
    return frame.set_index(["customer_id", frame["as_of"].dt.date])


@pytest.fixture
def tiny_features(tmp_path):
    return features_of(
        tiny_bank_frames(),
        [
            date(2023, 10, 1),
            date(2024, 2, 1),
            date(2024, 2, 15),
            date(2024, 7, 1),
            date(2024, 12, 1),
        ],
        tmp_path=tmp_path,
    )


def test_population_is_who_is_a_customer_at_each_date(tiny_features):
    at_feb = tiny_features.xs(date(2024, 2, 1), level=1)
    assert set(at_feb.index) == {"C1", "C2", "C4"}  # C3 joins in June
    at_dec = tiny_features.xs(date(2024, 12, 1), level=1)
    # C4 closed everything on 2023-06-30: past the 365-day lookback, no longer a customer;
    # C2 left in March: a churned customer, still listed for win-back.
    assert set(at_dec.index) == {"C1", "C2", "C3"}
    assert at_dec.loc["C2", "tier"] == "churned"


@pytest.mark.parametrize(
    ("customer", "as_of", "expected"),
    [
        ("C2", date(2024, 2, 1), 1.0),  # closes everything 2024-03-15, inside [D, D+90)
        ("C2", date(2023, 10, 1), 0.0),  # horizon ends 2023-12-30, before the close
        ("C1", date(2024, 2, 1), 0.0),
        ("C4", date(2024, 2, 1), None),  # already gone: churn does not apply
        ("C1", date(2024, 12, 1), None),  # horizon runs past the extract: unknown
    ],
)
def test_churn_label(tiny_features, customer, as_of, expected):
    value = tiny_features.loc[(customer, as_of), LABEL_CHURN]
    assert pd.isna(value) if expected is None else value == expected, (customer, as_of, value)


@pytest.mark.parametrize(
    ("customer", "as_of", "product", "expected"),
    [
        ("C1", date(2024, 2, 1), "P03", 1.0),  # mortgage opened 2024-03-10
        ("C1", date(2023, 10, 1), "P03", 0.0),  # not within 90 days of October
        ("C1", date(2024, 2, 1), "P02", None),  # card already held
        ("C1", date(2024, 2, 1), "P01", None),
        ("C2", date(2024, 2, 1), "P03", 0.0),
        ("C2", date(2024, 2, 1), "P04", None),  # savings held until 2024-03-01
    ],
)
def test_cross_sell_label(tiny_features, customer, as_of, product, expected):
    value = tiny_features.loc[(customer, as_of), f"label_xsell__{product}"]
    assert pd.isna(value) if expected is None else value == expected, (customer, product, value)


def test_hand_computed_features(tiny_features):
    c2 = tiny_features.loc[("C2", date(2024, 2, 1))]
    assert c2["complaint_open"] == 1  # raised 2024-01-10, never resolved
    assert c2["complaint_sla_breach_365d"] == 1  # severity 3: 4 h SLA long gone
    assert c2["complaint_max_severity_365d"] == 3
    assert c2["transfer_out_other_bank_sum_90d"] == 2700.0
    assert c2["assets_latest"] == 500.0 and c2["assets_trend_3m"] == -2500.0
    c1 = tiny_features.loc[("C1", date(2024, 2, 1))]
    assert c1["complaint_resolution_hours_mean_365d"] == 2.0
    assert c1["complaint_open"] == 0 and c1["complaint_sla_breach_365d"] == 0
    assert c1["satisfaction_last"] == 4.0 and c1["callback_reached_365d"] == 1
    assert c1["products_held"] == 2 and c1["held_family__credit_card"] == 1
    assert c1["tier"] == "important"  # 26,000 in assets
    assert tiny_features.loc[("C4", date(2024, 2, 1)), "tier"] == "churned"
    assert tiny_features.loc[("C3", date(2024, 7, 1)), "tier"] == "new"  # joined June
    assert tiny_features.loc[("C3", date(2024, 12, 1)), "tier"] == "general"


def test_salary_that_stops_is_flagged(tiny_features):
    # C2's last salary arrived 2023-12-25: 52 days before 2024-02-15.
    assert tiny_features.loc[("C2", date(2024, 2, 15)), "salary_stopped"] == 1.0
    assert tiny_features.loc[("C1", date(2024, 2, 15)), "salary_stopped"] == 0.0
    assert tiny_features.loc[("C2", date(2023, 10, 1)), "salary_present"] == 1.0


@pytest.mark.parametrize(("balance_left", "expected"), [(20.0, 1.0), (5000.0, 0.0)])
def test_inactivity_churn_definition(tmp_path, balance_left, expected):
    frames = tiny_bank_frames()
    # C1 stops transacting after 2024-02-10 but keeps the accounts open.
    tx = frames["transactions"]
    frames["transactions"] = tx[~((tx.customer_id == "C1") & (tx.ts >= "2024-02-10"))]
    month_end = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "product_id": ["P01"],
            "snapshot_date": [date(2024, 4, 30)],
            "balance": [balance_left],
        }
    )
    frames["balances"] = pd.concat([frames["balances"], month_end], ignore_index=True)
    config = FeaturesConfig(
        churn=ChurnDefinition(
            kind="inactivity", inactivity_days=60, inactivity_balance_threshold=100.0
        )
    )
    frame = features_of(frames, [date(2024, 2, 1)], config, tmp_path=tmp_path)
    assert frame.loc[("C1", date(2024, 2, 1)), LABEL_CHURN] == expected
    # C2 stops in February and closes everything: nothing left behind, so inactive.
    assert frame.loc[("C2", date(2024, 2, 1)), LABEL_CHURN] == 1.0
    # Cross-sell labels do not depend on the churn definition.
    default = features_of(frames, [date(2024, 2, 1)], tmp_path=tmp_path / "default")
    xsell = [c for c in frame if c.startswith("label_xsell__")]
    pd.testing.assert_frame_equal(frame[xsell].sort_index(), default[xsell].sort_index())


@pytest.mark.parametrize(
    ("activity", "expected"), [("any_transaction", 0.0), ("customer_initiated", 1.0)]
)
def test_inactivity_can_count_only_what_the_customer_does(tmp_path, activity, expected):
    frames = tiny_bank_frames()
    tx = frames["transactions"]
    # C1's salary (booked by the bank, channel system) keeps arriving; C1's own card
    # spending stops after 2024-02-10.
    own_late = (tx.customer_id == "C1") & (tx.ts >= "2024-02-10") & (tx.channel != "system")
    frames["transactions"] = tx[~own_late]
    config = FeaturesConfig(
        churn=ChurnDefinition(kind="inactivity", inactivity_days=60, activity=activity)
    )
    frame = features_of(frames, [date(2024, 2, 1)], config, tmp_path=tmp_path)
    assert frame.loc[("C1", date(2024, 2, 1)), LABEL_CHURN] == expected, (
        f"with activity = {activity}, a customer whose only transactions are the bank's "
        f"bookings should be labelled {expected}"
    )


def perturb_after(frames: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> dict:
    """Change, add and delete every kind of record stamped at or after the cut-off."""
    out = {name: frame.copy() for name, frame in frames.items()}
    tx = out["transactions"]
    late = tx["ts"] >= cutoff
    tx.loc[late, "amount"] = tx.loc[late, "amount"] * 7 + 1
    tx.loc[late, "channel"] = "branch"
    extra = tx[late].head(5).assign(ts=cutoff, counterparty_type="transfer_out_other_bank")
    out["transactions"] = pd.concat([tx[~late | (tx.index % 3 != 0)], extra], ignore_index=True)
    it = out["interactions"]
    late = it["ts"] >= cutoff
    it.loc[late, "kind"] = "complaint"
    # A complaint raised before D but resolved on or after D is still open as of D.
    open_then = (it["ts"] < cutoff) & (it["resolved_at"].isna() | (it["resolved_at"] >= cutoff))
    it.loc[open_then, "resolved_at"] = cutoff + pd.Timedelta(days=1)
    out["interactions"] = pd.concat(
        [
            it,
            pd.DataFrame(
                {
                    "customer_id": ["C1", "C2"],
                    "ts": [cutoff, cutoff + pd.Timedelta(hours=5)],
                    "kind": ["complaint", "callback"],
                    "severity": pd.array([3, pd.NA], dtype="Int64"),
                    "resolved_at": [None, None],
                    "satisfaction": pd.array([pd.NA, 1], dtype="Int64"),
                    "outcome": [None, "reached"],
                    "channel": ["phone", "phone"],
                }
            ),
        ],
        ignore_index=True,
    )
    h = out["holdings"]
    closes_later = h["closed_at"].isna() | (h["closed_at"] >= cutoff)
    h.loc[closes_later, "closed_at"] = cutoff
    h = h[h["opened_at"] < cutoff]
    out["holdings"] = pd.concat(
        [
            h,
            pd.DataFrame(
                {
                    "customer_id": ["C1"],
                    "product_id": ["P04"],
                    "opened_at": [cutoff],
                    "closed_at": [None],
                    "account_id": ["new"],
                    "balance_or_limit": [1.0],
                }
            ),
        ],
        ignore_index=True,
    )
    b = out["balances"]
    late = pd.to_datetime(b["snapshot_date"]) >= cutoff
    b.loc[late, "balance"] = 0.0
    if "customer_attributes" in out:
        out = change_attributes_at(out, cutoff)
    if "market_rates" in out:
        r = out["market_rates"]
        late = r["published_at"] >= cutoff
        r.loc[late, "market_savings_rate"] = 9.0
        extra = pd.DataFrame(
            {"published_at": [cutoff], "market_savings_rate": [12.0], "bank_savings_rate": [0.1]}
        )
        out["market_rates"] = pd.concat([r[~late | (r.index % 2 == 0)], extra], ignore_index=True)
    return out


NEW_ATTRIBUTES = {
    "segment": "private",
    "income_band": "high",
    "risk_appetite": 5,
    "preferred_channel": "in_person",
    "do_not_contact": True,
    "region": "West",
}


def change_attributes_at(frames: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> dict:
    """C1 and C2 change every attribute at the cut-off, as a bank's extract records it: the
    version in force ends there, a new one starts there, later versions take the new values,
    and `customers` holds the new (current) values. C4 has no history: its attributes are
    as of extraction by design (and reported), so it is left alone."""
    out = dict(frames)
    v = frames["customer_attributes"].copy()
    movers = v["customer_id"].isin(["C1", "C2"])
    open_at_cutoff = v["valid_to"].isna() | (v["valid_to"] >= cutoff)
    in_force = movers & (v["valid_from"] < cutoff) & open_at_cutoff
    v.loc[in_force, "valid_to"] = cutoff
    later = movers & (v["valid_from"] >= cutoff)
    for name, value in NEW_ATTRIBUTES.items():
        v.loc[later, name] = value
    new = pd.DataFrame({"customer_id": ["C1", "C2"], "valid_from": [cutoff] * 2})
    # The new version runs until a later one, if the customer already had one.
    ends = [v.loc[later & (v.customer_id == c), "valid_from"].min() for c in ("C1", "C2")]
    new = new.assign(valid_to=ends)
    out["customer_attributes"] = pd.concat([v, new.assign(**NEW_ATTRIBUTES)], ignore_index=True)
    c = frames["customers"].copy()
    for name, value in NEW_ATTRIBUTES.items():
        c.loc[c["customer_id"].isin(["C1", "C2"]), name] = value
    out["customers"] = c
    return out


@pytest.mark.parametrize("bank", [tiny_bank_frames, tiny_bank_with_history])
@pytest.mark.parametrize("as_of", [date(2023, 11, 1), date(2024, 1, 20), date(2024, 2, 1)])
def test_no_leakage_records_at_or_after_the_cutoff_change_nothing(tmp_path, as_of, bank):
    frames = bank()
    cutoff = pd.Timestamp(as_of)
    changed = perturb_after(frames, cutoff)
    assert not changed["transactions"].equals(frames["transactions"])
    if "customer_attributes" in frames:
        assert not changed["customers"].equals(frames["customers"])
    before = features_of(frames, [as_of], labels=False, tmp_path=tmp_path / "a")
    after = features_of(changed, [as_of], labels=False, tmp_path=tmp_path / "b")
    pd.testing.assert_frame_equal(before.sort_index(), after.sort_index())


def test_without_the_history_an_attribute_changed_after_d_moves_the_features(tmp_path):
    """The leakage test has teeth: read from `customers` alone (the fallback, reported as
    "as of extraction"), the same change after D shows in the features before D."""
    as_of = date(2024, 1, 20)
    frames = tiny_bank_with_history()
    changed = change_attributes_at(frames, pd.Timestamp(as_of))
    without = [
        {name: frame for name, frame in bank.items() if name != "customer_attributes"}
        for bank in (frames, changed)
    ]
    before = features_of(without[0], [as_of], labels=False, tmp_path=tmp_path / "a")
    after = features_of(without[1], [as_of], labels=False, tmp_path=tmp_path / "b")
    assert after.loc[("C1", as_of), "segment"] == "private"
    assert before.loc[("C1", as_of), "segment"] == "mass"
    assert (before.loc[("C2", as_of), "income_band"], after.loc[("C2", as_of), "income_band"]) == (
        "low",
        "high",
    )


def test_output_columns_and_dtypes_are_fixed(tiny_features):
    names = feature_names(CONFIG)
    assert list(tiny_features.columns[1 : 1 + len(names)]) == names
    frame = to_model_frame(tiny_features.reset_index(drop=True), CONFIG)
    assert list(frame["tier"].cat.categories) == ["core", "important", "general", "new", "churned"]
    assert frame["txn_count_30d"].dtype == "float64"


@pytest.mark.parametrize("bank", [tiny_bank_frames, tiny_bank_with_history])
@pytest.mark.parametrize("as_of", [date(2023, 9, 1), date(2024, 1, 12), date(2024, 2, 15)])
def test_one_customer_from_raw_records_matches_the_batch(tmp_path, bank, as_of):
    frames = bank()
    batch_features = features_of(frames, [as_of], labels=False, tmp_path=tmp_path)
    market_rates = frames.get("market_rates")
    for customer in ("C1", "C2", "C4"):
        records = {
            name: frame[frame["customer_id"] == customer]
            for name, frame in frames.items()
            if name not in ("products", "market_rates")
        }
        single = customer_features(records, frames["products"], as_of, CONFIG, market_rates)
        batch = to_model_frame(
            batch_features.loc[[(customer, as_of)]].reset_index(level=1, drop=True).reset_index(),
            CONFIG,
        )
        columns = ["customer_id", *feature_names(CONFIG)]
        pd.testing.assert_frame_equal(single[columns], batch[columns], check_categorical=False)


def test_one_customer_takes_market_rates_from_the_bank_not_the_request(tiny_frames):
    from common.errors import DataError
    from features.online import CustomerFeatures

    frames = tiny_bank_with_history()
    bad = frames["market_rates"].assign(market_savings_rate=99.0)
    with pytest.raises(DataError, match="market_rates: market_savings_rate: above 50"):
        CustomerFeatures(frames["products"], CONFIG, bad)
    records = {"customers": frames["customers"].iloc[[0]], "market_rates": frames["market_rates"]}
    with pytest.raises(DataError, match="market_rates are the bank's"):
        CustomerFeatures(frames["products"], CONFIG).compute(records, date(2024, 2, 1))


def test_one_customer_with_a_bad_record_is_refused(tiny_frames):
    records = {
        name: frame[frame["customer_id"] == "C1"]
        for name, frame in tiny_frames.items()
        if name != "products"
    }
    records["transactions"] = records["transactions"].assign(amount=-1.0)
    from common.errors import DataError

    with pytest.raises(DataError, match="transactions: amount: below 0"):
        customer_features(records, tiny_frames["products"], date(2024, 2, 1), CONFIG)


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        (
            "transactions",
            "amount",
            "lots",
            "transactions: amount: not a valid float64 (value 'lots')",
        ),
        ("transactions", "channel", "fax", "transactions: channel: not one of branch"),
        ("holdings", "product_id", "P99", "holdings: product_id: unknown in products"),
        ("customers", "risk_appetite", 9, "customers: risk_appetite: above 5"),
    ],
)
def test_real_time_records_are_checked_by_the_contract(tiny_frames, table, column, value, message):
    from common.errors import DataError
    from features.online import CustomerFeatures

    computer = CustomerFeatures(tiny_frames["products"], CONFIG)
    records = {
        name: frame[frame["customer_id"] == "C1"].copy()
        for name, frame in tiny_frames.items()
        if name != "products"
    }
    records[table][column] = value
    with pytest.raises(DataError, match=re.escape(message)):
        computer.compute(records, date(2024, 2, 1))
    # The same instance keeps serving good requests after a bad one.
    good = {
        name: frame[frame["customer_id"] == "C1"]
        for name, frame in tiny_frames.items()
        if name != "products"
    }
    assert computer.compute(good, date(2024, 2, 1))["products_held"].iloc[0] == 2


def test_labels_need_a_known_extraction_time(tmp_path):
    from common.errors import DataError
    from features.validation import load_bank as load

    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    (folder / "manifest.json").unlink()
    bank = load(engine.connect(CONFIG), folder, DataConfig())
    with pytest.raises(DataError, match="labels need the extraction time"):
        pipeline.build_feature_file(
            bank, [date(2024, 2, 1)], CONFIG, tmp_path / "f.parquet", with_labels=True
        )
    # Features alone are fine without it.
    built = pipeline.build_feature_file(bank, [date(2024, 2, 1)], CONFIG, tmp_path / "f.parquet")
    assert built.rows == 3


def test_a_complaint_open_for_more_than_a_year_still_counts(tmp_path):
    frames = tiny_bank_frames()
    old = frames["interactions"].iloc[[0]].assign(ts=pd.Timestamp("2022-06-01 10:00"))
    frames["interactions"] = pd.concat([frames["interactions"], old], ignore_index=True)
    frame = features_of(frames, [date(2024, 2, 1)], labels=False, tmp_path=tmp_path)
    c2 = frame.loc[("C2", date(2024, 2, 1))]
    assert c2["complaint_open"] == 2
    assert c2["complaint_count_365d"] == 1  # the old one is outside the year


def test_real_time_refuses_a_missing_required_column(tiny_frames):
    from common.errors import DataError
    from features.online import CustomerFeatures

    records = {
        name: frame[frame["customer_id"] == "C2"]
        for name, frame in tiny_frames.items()
        if name != "products"
    }
    records["holdings"] = records["holdings"].drop(columns=["closed_at"])
    with pytest.raises(DataError, match="holdings: required column closed_at missing"):
        CustomerFeatures(tiny_frames["products"], CONFIG).compute(records, date(2024, 6, 1))


@pytest.fixture(scope="module")
def tiny_loaded(tmp_path_factory):
    folder = write_bank(tiny_bank_frames(), tmp_path_factory.mktemp("declared") / "bank")
    return load_bank(engine.connect(CONFIG), folder, DataConfig(max_quarantine_share=0.9))


@pytest.fixture(scope="module")
def history_loaded(tmp_path_factory):
    folder = write_bank(tiny_bank_with_history(), tmp_path_factory.mktemp("pit") / "bank")
    return load_bank(engine.connect(CONFIG), folder, DataConfig())


def build_declared(bank, config=CONFIG, balances=True):
    tables = {name: t for name, t in bank.tables.items() if balances or name != "balances"}
    return build_features(
        FeatureInputs.from_tables(tables),
        [date(2024, 2, 1)],
        config,
        pipeline.catalogue(bank),
        bank.extracted_at,
        with_labels=True,
    )


@pytest.mark.parametrize(
    ("config", "balances"),
    [
        (CONFIG, True),
        (CONFIG, False),
        (FeaturesConfig(windows_days=(30, 90, 180)), True),
        (FeaturesConfig(windows_days=(7, 14, 30, 60, 90, 180, 365)), False),
        (FeaturesConfig(churn=ChurnDefinition(kind="inactivity")), True),
        (
            FeaturesConfig(
                windows_days=(30, 60, 90, 180),
                churn=ChurnDefinition(kind="inactivity", activity="customer_initiated"),
            ),
            False,
        ),
    ],
)
@pytest.mark.parametrize("history", [False, True])
def test_the_output_is_exactly_the_declared_columns(
    tiny_loaded, history_loaded, config, balances, history
):
    # Building runs `check_computed` on every family: it raises on any drift.
    bank = history_loaded if history else tiny_loaded
    table = build_declared(bank, config, balances)
    product_ids = pipeline.catalogue(bank)
    declared = [column.name for column in feature_columns(config, product_ids)]
    label_names = [column.name for column in labels.LABELS.columns((), product_ids)]
    assert list(table.columns) == [*KEYS, *declared, *label_names]
    assert declared[: len(feature_names(config))] == feature_names(config)
    assert len(set(table.columns)) == len(table.columns)


@pytest.mark.parametrize(
    ("module", "function", "edit", "message"),
    [
        (
            interactions,
            "derived_features",
            lambda out, t: {**out, "complaint_mood": t.as_of_s * 2},
            "interactions: computed but not declared: ['complaint_mood']",
        ),
        (
            transactions,
            "derived_features",
            lambda out, t: {name: e for name, e in out.items() if name != "salary_stopped"},
            "transactions: declared but not computed: ['salary_stopped']",
        ),
        (
            transactions,
            "transaction_features",
            lambda out, t: out.drop("fee_sum_90d"),
            "transactions: declared but not computed: ['fee_sum_90d']",
        ),
        (
            products,
            "holding_features",
            lambda out, t: out.mutate(products_lost=0),
            "products: computed but not declared: ['products_lost']",
        ),
        (
            products,
            "derived_features",
            lambda out, t: {**out, "products_held": t.as_of_s},
            "products: computed twice: ['products_held']",
        ),
    ],
)
def test_a_computed_column_must_be_declared_and_the_other_way_round(
    tiny_loaded, monkeypatch, module, function, edit, message
):
    real = getattr(module, function)
    monkeypatch.setattr(module, function, lambda *args: edit(real(*args), args[0]))
    with pytest.raises(DeclarationMismatch, match=re.escape(message)):
        build_declared(tiny_loaded)


def test_only_aggregates_can_be_filled_with_zero():
    family = FeatureFamily("f", "", (Feature("a_count", "", missing="zero"), Feature("b", "")))
    check_computed(family, ["a_count"], ["b"], (30,), ())
    with pytest.raises(DeclarationMismatch, match="derived but declared missing='zero'"):
        check_computed(family, ["b"], ["a_count"], (30,), ())


def test_templates_expand_window_by_window_and_per_value():
    family = FeatureFamily(
        "f",
        "",
        (
            PerWindow((Feature("n_{w}d", ""), Feature("n_{channel}_{w}d", ""))),
            Feature("held__{product_id}", ""),
        ),
    )
    names = [column.name for column in family.columns((30, 90), ("P1", "P2"))]
    per_window = [
        [f"n_{w}d", *(f"n_{channel}_{w}d" for channel in TRANSACTION_CHANNELS)] for w in (30, 90)
    ]
    assert names == [*per_window[0], *per_window[1], "held__P1", "held__P2"]
    assert [c.window_days for c in family.columns((30, 90), ())] == [30] * 7 + [90] * 7
    with pytest.raises(ValueError, match="only inside a PerWindow"):
        FeatureFamily("f", "", (Feature("n_{w}d", ""),))


def test_feature_code_holds_every_module_the_definitions_import():
    """The snapshot cache is keyed on `FEATURE_CODE`: a module that decides a feature's value
    but is missing there would let a stale cache through."""
    import ast
    from pathlib import Path

    package = Path(pipeline.__file__).parent
    seen, todo = set(), ["definitions", "model_frame"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for node in ast.walk(ast.parse((package / f"{module}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "features":
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("features."):
                todo.append(node.module.split(".")[1])
    assert seen <= set(pipeline.FEATURE_CODE), sorted(seen - set(pipeline.FEATURE_CODE))


@pytest.fixture(scope="module")
def history_features(tmp_path_factory):
    return features_of(
        tiny_bank_with_history(),
        [date(2023, 9, 1), date(2023, 9, 16), date(2024, 1, 12), date(2024, 2, 1)],
        labels=False,
        tmp_path=tmp_path_factory.mktemp("history"),
    )


@pytest.mark.parametrize(
    ("customer", "as_of", "column", "expected"),
    [
        # C1's first version until 2023-09-15 10:30, then the current one.
        ("C1", date(2023, 9, 1), "income_band", "lower_middle"),
        ("C1", date(2023, 9, 1), "risk_appetite", 2.0),
        ("C1", date(2023, 9, 1), "preferred_channel", "email"),
        ("C1", date(2023, 9, 16), "income_band", "middle"),
        ("C1", date(2023, 9, 16), "risk_appetite", 3.0),
        # C2 asked not to be contacted on 2024-01-12 16:00: not yet known at its start.
        ("C2", date(2024, 1, 12), "do_not_contact", 0.0),
        ("C2", date(2024, 2, 1), "do_not_contact", 1.0),
        # C4 has no history: the customers value (as of extraction).
        ("C4", date(2024, 2, 1), "do_not_contact", 1.0),
        ("C4", date(2024, 2, 1), "income_band", "upper_middle"),
        # Days since the version in force began; null while it is the first version.
        ("C1", date(2023, 9, 1), "days_since_attribute_change", None),
        ("C1", date(2023, 9, 16), "days_since_attribute_change", 13.5 / 24),
        ("C2", date(2024, 2, 1), "days_since_attribute_change", 19 + 8 / 24),
        ("C4", date(2024, 2, 1), "days_since_attribute_change", None),
    ],
)
def test_attributes_are_those_in_force_just_before_d(
    history_features, customer, as_of, column, expected
):
    value = history_features.loc[(customer, as_of), column]
    if expected is None:
        assert pd.isna(value), (customer, as_of, column, value)
    elif isinstance(expected, float):
        assert value == pytest.approx(expected), (customer, as_of, column, value)
    else:
        assert value == expected, (customer, as_of, column, value)


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        # Overlap: the first version was never closed; the latest valid_from wins.
        ([("2010-01-01", None, "mass"), ("2023-06-01", None, "private")], "private"),
        # Replaced exactly at D: still in force as of D (D means the start of that day).
        ([("2010-01-01", "2024-02-01", "mass"), ("2024-02-01", None, "private")], "mass"),
        # A gap at D: nothing in force, so the value at extraction (customers: affluent).
        ([("2010-01-01", "2023-06-01", "mass"), ("2024-03-01", None, "private")], "affluent"),
        # Only a version that starts after D: the value at extraction.
        ([("2024-03-01", None, "private")], "affluent"),
    ],
)
def test_the_version_in_force_is_the_latest_started_and_not_yet_ended(tmp_path, versions, expected):
    frames = tiny_bank_frames()
    frames["customers"].loc[frames["customers"].customer_id == "C1", "segment"] = "affluent"
    frames["customer_attributes"] = pd.DataFrame(
        {
            "customer_id": "C1",
            "valid_from": [pd.Timestamp(start) for start, _, _ in versions],
            "valid_to": [pd.Timestamp(end) if end else pd.NaT for _, end, _ in versions],
            "segment": [segment for _, _, segment in versions],
        }
    )
    frame = features_of(frames, [date(2024, 2, 1)], labels=False, tmp_path=tmp_path)
    assert frame.loc[("C1", date(2024, 2, 1)), "segment"] == expected


def test_a_version_with_an_unknown_attribute_does_not_borrow_the_value_at_extraction(tmp_path):
    frames = tiny_bank_with_history()
    versions = frames["customer_attributes"]
    versions.loc[versions.customer_id == "C1", "income_band"] = None
    frame = features_of(frames, [date(2024, 2, 1)], labels=False, tmp_path=tmp_path)
    assert pd.isna(frame.loc[("C1", date(2024, 2, 1)), "income_band"])


@pytest.mark.parametrize(
    ("customer", "as_of", "column", "expected"),
    [
        # Published on the 1st at 09:00: as of 2024-02-01 the latest is 2024-01-01 (4.2);
        # 90 days before D is 2023-11-03, when the latest was 2023-11-01 (4.0).
        ("C1", date(2024, 2, 1), "market_savings_rate", 4.2),
        ("C4", date(2024, 2, 1), "savings_rate_gap", 1.7),
        ("C2", date(2024, 2, 1), "savings_rate_gap_change_90d", 0.2),
        ("C1", date(2023, 9, 1), "market_savings_rate", 3.7),
        # C1's current account is fixed until 2024-02-10, the mortgage until 2029-03-10
        # (not yet held on 2024-02-01); C2's savings ended their fixed rate on 2023-12-01.
        ("C1", date(2024, 2, 1), "days_to_fixed_rate_end", 9.0),
        ("C1", date(2024, 2, 1), "fixed_rate_ended_180d", 0.0),
        ("C2", date(2024, 2, 1), "fixed_rate_ended_180d", 1.0),
        ("C2", date(2024, 2, 1), "days_to_fixed_rate_end", None),
        ("C2", date(2023, 9, 1), "days_to_fixed_rate_end", 91.0),
        ("C4", date(2024, 2, 1), "fixed_rate_ended_180d", 0.0),
    ],
)
def test_market_rate_and_fixed_rate_features(history_features, customer, as_of, column, expected):
    value = history_features.loc[(customer, as_of), column]
    if expected is None:
        assert pd.isna(value), (customer, as_of, column, value)
    else:
        assert value == pytest.approx(expected), (customer, as_of, column, value)


def test_after_the_fixed_period_and_without_the_tables(tmp_path):
    as_of = date(2024, 7, 1)
    frame = features_of(tiny_bank_with_history(), [as_of], labels=False, tmp_path=tmp_path / "a")
    c1 = frame.loc[("C1", as_of)]
    assert c1["days_to_fixed_rate_end"] == 1713.0  # the mortgage, fixed until 2029-03-10
    assert c1["fixed_rate_ended_180d"] == 1.0  # the current account's ended 2024-02-10
    frames = tiny_bank_frames()  # no market_rates, no fixed_until
    plain = features_of(frames, [as_of], labels=False, tmp_path=tmp_path / "b")
    assert plain[["market_savings_rate", "savings_rate_gap_change_90d"]].isna().all().all()
    assert plain["days_to_fixed_rate_end"].isna().all()
    assert (plain["fixed_rate_ended_180d"] == 0).all()


@pytest.mark.parametrize(
    ("bank", "has_history", "fallback"),
    [
        (tiny_bank_frames, False, {date(2024, 2, 1): 3}),
        (tiny_bank_with_history, True, {date(2024, 2, 1): 1}),
    ],
)
def test_the_build_counts_rows_whose_attributes_are_as_of_extraction(
    tmp_path, bank, has_history, fallback
):
    folder = write_bank(bank(), tmp_path / "bank")
    loaded = load_bank(engine.connect(CONFIG), folder, DataConfig())
    built = pipeline.build_feature_file(loaded, [date(2024, 2, 1)], CONFIG, tmp_path / "f.parquet")
    coverage = built.attributes
    assert coverage.has_history is has_history
    assert coverage.rows == {date(2024, 2, 1): 3}  # C1, C2 and C4
    assert coverage.as_of_extraction == fallback  # with history, C4 only: it has none
    assert ("as of extraction for every row" in coverage.describe()) is not has_history
    if has_history:
        assert "except 33.3% of rows as of extraction" in coverage.describe()
