"""`retain demo campaign`: two campaign cycles on the synthetic bank, evaluated against the truth.

1. The bank is generated; churn and cross-sell models are trained on what was known on the
   first campaign day (labels that end before it).
2. Cycle 1, test and learn: a wide retention list (every customer at some risk) with half
   held out, so the effect of a call can be learnt. The call centre works the list
   (`simulation.call_centre`), the CRM export is loaded like a real one, and the bank is
   generated again with the calls that reached customers: its months after the campaign
   day show their effect. The campaign is evaluated (report, effect with interval) and an
   uplift model is trained on its randomised groups.
3. Cycle 2, three months later: the list is targeted by uplift, worked, fed back, and
   evaluated; at the same number of calls, targeting by risk and by uplift are compared
   from the truth's own probabilities with and without a call.

Everything lives under DIR (bank, models in DIR/mlruns, lists, reports): the demo never
touches the main registry's champions.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.rule import Rule
from rich.table import Table as RichTable

from common.config import RetainConfig, TierPolicy
from common.console import make_console
from common.dates import add_months
from common.names import SCORES_FILE, TASKS_FILE, TREATMENT, TRUTH_CHURN
from evaluation.programme_report import json_ready

console = make_console()
FIRST_CYCLE_MONTHS_BEFORE_END = 8  # cycle 1 eight months before the extract ends ...
CYCLE_GAP_MONTHS = 4  # ... cycle 2 four months later: both horizons end inside the extract
TEST_AND_LEARN_THRESHOLD = 0.0  # cycle 1 lists everyone at or above this churn risk
EFFECT_KEYS = (
    "itt_churn_effect",
    "itt_ci_low",
    "itt_ci_high",
    "itt_p_value",
    "true_itt_churn_effect",
    "coverage",
    "retained_per_1000_calls_risk",
    "retained_per_1000_calls_uplift",
    "qini_uplift_model",
    "qini_optimum",
)


def campaign_config(config: RetainConfig, out_dir: Path) -> RetainConfig:
    """The demo's own bank, outputs, registry and stores under `out_dir`."""
    training = config.training.model_copy(
        update={
            "tracking_uri": f"sqlite:///{out_dir / 'mlruns' / 'mlflow.db'}",
            # Each cycle regenerates the bank: cached snapshots of an earlier bank must
            # never be reused.
            "snapshot_cache": False,
        }
    )
    serving = config.serving.model_copy(update={"outbox_url": None, "feature_store_url": None})
    return config.model_copy(
        update={
            "data_dir": out_dir / "bank",
            "output_dir": out_dir / "outputs",
            "training": training,
            "serving": serving,
        }
    )


def test_and_learn(config: RetainConfig) -> RetainConfig:
    """Cycle 1's settings: a wide list, half held out, capacity for all of it."""
    tiers = {
        name: TierPolicy(
            churn_threshold=1.0 if name == "churned" else TEST_AND_LEARN_THRESHOLD,
            assignee=policy.assignee,
            due_hours=policy.due_hours,
        )
        for name, policy in config.serving.tiers.items()
    }
    serving = config.serving.model_copy(
        update={
            "tiers": tiers,
            "holdout_share": 0.5,
            "targeting": "risk",
            # A retention call for everyone listed: offers would be a different treatment.
            "offer_min_expected_value": float("inf"),
            "calls_per_day": {queue: 100_000 for queue in config.serving.calls_per_day},
        }
    )
    return config.model_copy(update={"serving": serving})


def run_campaign_demo(
    config: RetainConfig, out_dir: Path, customers: int = 20_000, months: int = 30
) -> dict:
    """Run both cycles; write the reports and `out_dir/effect.json`; return the effect."""
    from features import engine
    from features.validation import load_bank
    from simulation.bank import generate_bank
    from simulation.call_centre import reached_customers
    from training.churn import train_churn
    from training.xsell import train_xsell

    started = time.perf_counter()
    out_dir = out_dir.resolve()
    _clear(out_dir)
    config = campaign_config(config, out_dir)
    bank_dir = config.data_dir
    settings = config.synth
    first_day = add_months(settings.start, months - FIRST_CYCLE_MONTHS_BEFORE_END)
    second_day = add_months(first_day, CYCLE_GAP_MONTHS)

    def bank_with(calls: dict):
        generate_bank(
            bank_dir,
            n_customers=customers,
            months=months,
            seed=settings.seed,
            start=settings.start,
            transactions_per_month=settings.transactions_per_month,
            calls=calls,
        )
        con = engine.connect(config.features)
        return con, load_bank(con, bank_dir, config.data, config.output_dir / "quarantine")

    console.print(
        Rule(f"Campaign demo: {customers:,} customers, cycles on {first_day} and {second_day}")
    )
    with console.status("generating the bank", spinner="dots"):
        con, bank = bank_with({})
    known = replace(
        bank,
        extracted_at=datetime.combine(first_day, datetime.min.time()) - timedelta(microseconds=1),
    )
    with console.status(
        f"training churn and cross-sell models on what was known on {first_day}", spinner="dots"
    ):
        churn = train_churn(known, bank_dir, config)
        train_xsell(known, bank_dir, config)
    console.print(
        f"churn model v{churn.version}: ROC AUC {churn.metrics['roc_auc']:.3f} "
        f"on {churn.plan.test} (oracle {churn.metrics.get('oracle_roc_auc', float('nan')):.3f})"
    )

    # Cycle 1: test and learn.
    first = _score(bank, test_and_learn(config), first_day, out_dir / "cycle-1", "cycle-1")
    contacts_1 = _work_the_list(first, con, bank, config, out_dir / "cycle-1", seed=1)
    calls = {first_day: reached_customers(contacts_1)}
    with console.status("the bank lives on with the calls of cycle 1", spinner="dots"):
        con, bank = bank_with(calls)
    evaluation_1, _ = _evaluate(bank, config, out_dir / "cycle-1")
    console.print(f"cycle 1 report → {out_dir / 'cycle-1' / 'report.html'}")

    from training.uplift import train_from_campaign

    with console.status("training the uplift model on cycle 1", spinner="dots"):
        uplift = train_from_campaign(bank, config, out_dir / "cycle-1")
    console.print(
        f"uplift model v{uplift.version} ({', '.join(uplift.aliases)}): Qini "
        f"{uplift.metrics['qini_uplift_model']:.4f}, churn risk "
        f"{uplift.metrics['qini_churn_risk']:.4f}, truth {uplift.metrics['qini_truth']:.4f} "
        f"on {uplift.rows['validation']:,} held-back customers of the list"
    )

    # Cycle 2: targeted by uplift, with the normal holdout and capacity.
    uplift_config = config.model_copy(
        update={"serving": config.serving.model_copy(update={"targeting": "uplift"})}
    )
    second = _score(bank, uplift_config, second_day, out_dir / "cycle-2", "cycle-2")
    comparison = compare_targeting(second, _truth(bank_dir, second_day), uplift.metrics)
    contacts_2 = _work_the_list(second, con, bank, config, out_dir / "cycle-2", seed=2)
    calls[second_day] = reached_customers(contacts_2)
    with console.status("the bank lives on with the calls of cycle 2", spinner="dots"):
        con, bank = bank_with(calls)
    evaluation_2, _ = _evaluate(bank, config, out_dir / "cycle-2", comparison, uplift.qini_curves)

    by_name = comparison.set_index("targeting")
    effect = {
        **{key: evaluation_1.headline.get(key) for key in EFFECT_KEYS[:6]},
        "retained_per_1000_calls_risk": float(by_name.at["risk", "retained_per_1000_calls"]),
        "retained_per_1000_calls_uplift": float(by_name.at["uplift", "retained_per_1000_calls"]),
        "retained_per_1000_calls_optimum": float(
            by_name.at["truth optimum", "retained_per_1000_calls"]
        ),
        "calls_compared": int(by_name.at["uplift", "calls"]),
        "qini_uplift_model": uplift.metrics["qini_uplift_model"],
        "qini_churn_risk": uplift.metrics["qini_churn_risk"],
        "qini_optimum": uplift.metrics["qini_truth"],
        "cycle_1": evaluation_1.headline,
        "cycle_2": evaluation_2.headline,
        "reports": {
            "cycle_1": str(out_dir / "cycle-1" / "report.html"),
            "cycle_2": str(out_dir / "cycle-2" / "report.html"),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    effect = json_ready(effect)
    (out_dir / "effect.json").write_text(json.dumps(effect, indent=2) + "\n")
    print_effect(effect)
    console.print(
        f"effect → {out_dir / 'effect.json'}; campaign demo finished in {effect['seconds']:.0f} s"
    )
    return effect


def compare_targeting(scored: dict, truth: pd.DataFrame, uplift_metrics: dict) -> pd.DataFrame:
    """At the number of retention calls the uplift-targeted list makes, whom would risk
    targeting, uplift targeting and the truth itself call, and how many customers would
    those calls keep (truth: churn probability without minus with a call)? The Qini
    coefficients are the uplift model's validation on cycle 1's held-back list."""
    scores = scored["scores"]
    tasks = scored["tasks"]
    calls = int(((tasks["action"] == "retention_callback") & (tasks["group"] == TREATMENT)).sum())
    candidates = scores[scores["tier"] != "churned"].merge(truth, on="customer_id", how="inner")
    candidates["true_uplift"] = candidates["p_churn_90d"] - candidates["p_churn_90d_if_called"]
    rows = []
    for name, column, qini in (
        ("risk", "churn_probability", "qini_churn_risk"),
        ("uplift", "uplift", "qini_uplift_model"),
        ("truth optimum", "true_uplift", "qini_truth"),
    ):
        chosen = candidates.nlargest(calls, column)
        rows.append(
            {
                "targeting": name,
                "calls": calls,
                "retained_per_1000_calls": 1000 * float(chosen["true_uplift"].mean()),
                "mean_churn_probability": float(chosen["p_churn_90d"].mean()),
                "qini": uplift_metrics.get(qini, np.nan),
            }
        )
    return pd.DataFrame(rows)


def print_effect(effect: dict) -> None:
    table = RichTable(
        title="Campaign effect (cycle 1: randomised test and learn; targeting: cycle 2)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in EFFECT_KEYS:
        value = effect.get(key)
        table.add_row(
            key,
            "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value),
        )
    console.print(table)


def _score(bank, config: RetainConfig, day: date, out_dir: Path, campaign_id: str) -> dict:
    from serving.batch import score_campaign
    from serving.models import load_champions

    with console.status(
        f"{campaign_id}: scoring every customer as of {day} ({config.serving.targeting})",
        spinner="dots",
    ):
        result = score_campaign(bank, load_champions(config), config, day, out_dir, campaign_id)
    tasks = pd.read_parquet(result.files[TASKS_FILE])
    counts = tasks.groupby(["action", "group"]).size().unstack(fill_value=0)
    console.print(
        f"{campaign_id} ({config.serving.targeting}): "
        + "; ".join(
            f"{action} {row.get('treatment', 0):,} treated / {row.get('holdout', 0):,} held out"
            for action, row in counts.iterrows()
        )
    )
    return {
        "result": result,
        "tasks": tasks,
        "scores": pd.read_parquet(result.files[SCORES_FILE]),
    }


def _work_the_list(
    scored: dict, con, bank, config: RetainConfig, out_dir: Path, seed: int
) -> pd.DataFrame:
    """The call centre works the list; its export is loaded like a real CRM's."""
    from features.outcomes import load_contacts
    from simulation.call_centre import simulate_contacts

    tasks = scored["tasks"]
    truth = pd.read_parquet(
        config.data_dir / TRUTH_CHURN,
        columns=["customer_id", "month_start", "response"],
        filters=[("month_start", "==", pd.Timestamp(tasks["assigned_at"].iat[0]).date())],
    )
    export = simulate_contacts(tasks, seed, truth.set_index("customer_id")["response"].astype(str))
    path = out_dir / "crm-export.csv"
    export.to_csv(path, index=False)
    loaded = load_contacts(con, path, bank, config.data, config.output_dir)
    console.print(
        f"CRM export {path.name}: {loaded.report.rows_read:,} rows, {loaded.rows_kept:,} loaded, "
        f"{loaded.report.rows_quarantined:,} quarantined"
    )
    return export


def _evaluate(bank, config, folder: Path, targeting=None, curves=None):
    from evaluation.programme import evaluate_folder

    evaluation, population, _ = evaluate_folder(bank, config, folder, None, targeting, curves)
    return evaluation, population


def _truth(data_dir: Path, day: date) -> pd.DataFrame:
    from evaluation.programme import read_truth

    return read_truth(data_dir, day)


MARKER = ".retain-campaign-demo"


def _clear(out_dir: Path) -> None:
    """Start from nothing: an earlier run's registry would keep its champions (a new
    version is only a challenger) and its outcomes would mix with this run's. Only a
    folder the demo made itself (its marker file) or an empty one is used.

    Raises:
        ConfigError: `out_dir` is a file, or a folder with other contents.
    """
    import shutil

    from common.errors import ConfigError

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file; give a folder for the demo")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise ConfigError(
            f"--out {out_dir}: the folder has other contents; the campaign demo writes its "
            "bank, registry and lists into a folder of its own (a new or empty one)"
        )
    for name in ("bank", "outputs", "mlruns", "cycle-1", "cycle-2"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / "effect.json").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("written by `retain demo campaign`; the demo may clear it\n")
