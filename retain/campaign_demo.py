"""`retain demo campaign`: two campaign cycles on the synthetic bank, evaluated against the truth.

1. The bank is generated; churn and cross-sell models are trained on what was known on the
   first campaign day (labels that end before it).
2. Cycle 1, test and learn: a wide retention list (every customer at some risk) with half
   held out, so the effect of a call can be learnt. The call centre works the list
   (`simulation.call_centre`), the CRM export is loaded like a real one, and the bank is
   generated again with the calls that reached customers: its months after the campaign
   day show their effect. The campaign is evaluated (report, effect with interval) and an
   uplift model is trained on its randomised groups.
3. Cycle 2, four months later: the list is targeted by uplift (with the exploration slice
   and the call capacity), worked, fed back, and evaluated; at the same number of calls,
   targeting by risk and by uplift are compared from the truth's own probabilities with
   and without a call, and the logged cycle's doubly-robust estimate against the truth.
4. With `cycles` > 2, after each targeted cycle the uplift model is retrained on every
   cycle so far and promoted only if the logged campaigns' estimate says it keeps at least
   as many customers per call as the champion; the next cycle is targeted by the champion.
5. The plans' service standards over the bank's last 12 months, with every cycle's calls
   (`retain report service`), in DIR/service-report.

Everything lives under DIR (bank, models in DIR/mlruns, lists, reports): the demo never
touches the main registry's champions.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from rich.rule import Rule

from common.config import RetainConfig, TierPolicy
from common.console import make_console
from common.dates import add_months, start_of
from common.names import (
    CHAMPION,
    HOLDOUT,
    OWED,
    OWED_GROUP,
    SCORES_FILE,
    SUMMARY_FILE,
    TASKS_FILE,
    TREATMENT,
    TRUTH_CHURN,
)
from evaluation.programme_report import REPORT_HTML, json_ready
from retain.campaign_figures import (
    compare_targeting,
    cycle_rows,
    effect_summary,
    logged_check,
    print_effect,
)
from retain.campaign_folder import clear_demo_folder

console = make_console()
FIRST_CYCLE_MONTHS_BEFORE_END = 8  # cycle 1 eight months before the extract ends ...
CYCLE_GAP_MONTHS = 4  # ... cycle 2 four months later: both horizons end inside the extract
TEST_AND_LEARN_THRESHOLD = 0.0  # cycle 1 lists everyone at or above this churn risk
CYCLE_1, CYCLE_2 = "cycle-1", "cycle-2"  # each cycle's campaign id and folder under DIR
EFFECT_FILE = "effect.json"


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
            "exploration_share": 0.0,  # everyone at any risk is listed: nothing to explore
            # A retention call for everyone listed: offers would be a different treatment.
            "offer_min_expected_value": float("inf"),
            "calls_per_day": {queue: 100_000 for queue in config.serving.calls_per_day},
        }
    )
    return config.model_copy(update={"serving": serving})


class DemoRun:
    """One run of the demo: its own settings (everything under `out_dir`), the bank's size,
    the two campaign days, and the bank as it lives on: generated again after each cycle
    with the calls that reached customers so far, and loaded like an extract."""

    def __init__(
        self, config: RetainConfig, out_dir: Path, customers: int, months: int, cycles: int = 2
    ):
        self.out_dir = out_dir
        self.config = campaign_config(config, out_dir)
        self.customers, self.cycles = customers, cycles
        # Each cycle after the second adds CYCLE_GAP_MONTHS to the bank, so that the first
        # cycle keeps its history and the last one's horizon ends inside the extract.
        self.months = months + CYCLE_GAP_MONTHS * (cycles - 2)
        start = self.config.synth.start
        self.first_day = add_months(start, months - FIRST_CYCLE_MONTHS_BEFORE_END)
        self.days = [add_months(self.first_day, CYCLE_GAP_MONTHS * k) for k in range(cycles)]
        self.second_day = self.days[1]
        self.calls: dict = {}  # campaign day -> the customers its calls reached
        self.con = self.bank = None  # the latest generation's; an earlier one is let go

    def generate_bank(self) -> None:
        """Generate the bank with `calls` into the demo's data folder and load it."""
        from features import engine
        from features.validation import load_bank
        from simulation.bank import generate_bank

        config, settings = self.config, self.config.synth
        generate_bank(
            config.data_dir,
            n_customers=self.customers,
            months=self.months,
            seed=settings.seed,
            start=settings.start,
            transactions_per_month=settings.transactions_per_month,
            calls=self.calls,
            mechanisms=settings.mechanisms,
        )
        self.con = engine.connect(config.features)
        quarantine = config.output_dir / "quarantine"
        self.bank = load_bank(self.con, config.data_dir, config.data, quarantine)


SERVICE_REPORT_DIR = "service-report"
# Each cycle's report links to the service report the demo writes at the end.
SERVICE_LINK = {"Service standards, every cycle": f"../{SERVICE_REPORT_DIR}/report.html"}


def run_campaign_demo(
    config: RetainConfig,
    out_dir: Path,
    customers: int = 20_000,
    months: int = 30,
    cycles: int = 2,
) -> dict:
    """Run the cycles; write the reports and `out_dir/effect.json`; return the effect."""
    started = time.perf_counter()
    out_dir = out_dir.resolve()
    clear_demo_folder(out_dir, [EFFECT_FILE, SERVICE_REPORT_DIR])
    run = DemoRun(config, out_dir, customers, months, cycles)
    days = ", ".join(str(day) for day in run.days)
    console.print(Rule(f"Campaign demo: {customers:,} customers, {cycles} cycles on {days}"))
    prepare_bank_and_models(run)
    evaluation_1, first_uplift = test_and_learn_cycle(run)
    uplift, targeted = first_uplift, []
    for cycle in range(2, cycles + 1):
        targeted.append(uplift_cycle(run, uplift, cycle))
        if cycle < cycles:
            uplift = pooled_uplift(run, cycle, uplift)
    evaluation_2, comparison, _ = targeted[0]
    effect = effect_summary(
        evaluation_1,
        evaluation_2,
        comparison,
        first_uplift.metrics,
        reports={
            f"cycle_{k}": str(out_dir / f"cycle-{k}" / REPORT_HTML) for k in range(1, cycles + 1)
        },
        seconds=round(time.perf_counter() - started, 1),
    )
    for cycle, (evaluation, _, _) in enumerate(targeted[1:], start=3):
        effect[f"cycle_{cycle}"] = json_ready(evaluation.headline)
    effect["cycles"] = json_ready(
        cycle_rows([comparison for _, comparison, _ in targeted], [row for *_, row in targeted])
    )
    summary = json.loads((out_dir / "cycle-2" / SUMMARY_FILE).read_text())
    effect["exploration"] = summary["exploration"]
    (out_dir / EFFECT_FILE).write_text(json.dumps(effect, indent=2) + "\n")
    print_effect(effect)
    service = write_service_report_of(run)
    console.print(
        f"effect → {out_dir / EFFECT_FILE}; service standards → {service}; campaign demo "
        f"finished in {effect['seconds']:.0f} s"
    )
    return effect


def write_service_report_of(run: DemoRun) -> Path:
    """The plans' service standards over the bank's last 12 months, with every cycle's
    calls (`retain report service`), in `out_dir/service-report`."""
    from evaluation.service_report import service_report, write_service_report

    folders = [run.out_dir / f"cycle-{k}" for k in range(1, run.cycles + 1)]
    with console.status("measuring the service standards", spinner="dots"):
        report = service_report(run.bank, run.config, folders)
        files = write_service_report(report, run.out_dir / SERVICE_REPORT_DIR)
    return files["report"]


def pooled_uplift(run: DemoRun, cycle: int, champion):
    """The uplift model trained on cycles 1..`cycle` pooled, promoted for the next cycle
    if the logged campaigns say it keeps at least as many customers per call as the
    champion (`retain promote retain-uplift-churn`, on the customers no model was fitted
    on).

    Returns:
        The training result of the model that targets the next cycle.
    """
    from training import tracking
    from training.uplift import train_from_campaign
    from training.uplift_promotion import promote_uplift

    folders = [run.out_dir / f"cycle-{k}" for k in range(1, cycle + 1)]
    with console.status(f"training the uplift model on cycles 1-{cycle} pooled", spinner="dots"):
        challenger = train_from_campaign(run.bank, run.config, folders)
    console.print(
        f"uplift model v{challenger.version} on cycles 1-{cycle} pooled "
        f"({challenger.rows['treated_fit']:,} called customers fitted on): Qini "
        f"{challenger.metrics['qini_uplift_model']:.4f}, churn risk "
        f"{challenger.metrics['qini_churn_risk']:.4f}"
    )
    tracking.use_tracking(run.config.training.tracking_uri, run.config.training.experiment)
    if CHAMPION in challenger.aliases:
        return challenger
    with console.status("valuing champion and challenger on the logged campaigns"):
        decision = promote_uplift(run.bank, run.config, folders)
    verdict = "promoted" if decision.promoted else "kept the champion"
    console.print(f"[{'green' if decision.promoted else 'yellow'}]{verdict}[/]: {decision.reason}")
    return challenger if decision.promoted else champion


def prepare_bank_and_models(run: DemoRun) -> None:
    """Generate the bank and train the churn and cross-sell models on what was known on
    the first campaign day (the extract cut just before it)."""
    from training.churn import train_churn
    from training.xsell import train_xsell

    with console.status("generating the bank", spinner="dots"):
        run.generate_bank()
    cutoff = start_of(run.first_day) - timedelta(microseconds=1)
    known = replace(run.bank, extracted_at=cutoff)
    with console.status(
        f"training churn and cross-sell models on what was known on {run.first_day}",
        spinner="dots",
    ):
        churn = train_churn(known, run.config.data_dir, run.config)
        train_xsell(known, run.config.data_dir, run.config)
    console.print(
        f"churn model v{churn.version}: ROC AUC {churn.metrics['roc_auc']:.3f} "
        f"on {churn.plan.test} (oracle {churn.metrics.get('oracle_roc_auc', float('nan')):.3f})"
    )


def test_and_learn_cycle(run: DemoRun):
    """Cycle 1: the wide list with half held out is worked, the bank lives on with its
    calls, the campaign is evaluated and the uplift model trained on its groups.

    Returns:
        The cycle's evaluation and the uplift model's training result.
    """
    from evaluation.programme import evaluate_folder
    from simulation.call_centre import reached_customers
    from training.uplift import train_from_campaign

    folder = run.out_dir / CYCLE_1
    scored = _score(run.bank, test_and_learn(run.config), run.first_day, folder, CYCLE_1)
    contacts = _work_the_list(scored, run.con, run.bank, run.config, folder, seed=1)
    run.calls[run.first_day] = reached_customers(contacts)
    with console.status("the bank lives on with the calls of cycle 1", spinner="dots"):
        run.generate_bank()
    evaluation, _, _ = evaluate_folder(run.bank, run.config, folder, links=SERVICE_LINK)
    console.print(f"cycle 1 report → {folder / REPORT_HTML}")
    with console.status("training the uplift model on cycle 1", spinner="dots"):
        uplift = train_from_campaign(run.bank, run.config, folder)
    console.print(
        f"uplift model v{uplift.version} ({', '.join(uplift.aliases)}): Qini "
        f"{uplift.metrics['qini_uplift_model']:.4f}, churn risk "
        f"{uplift.metrics['qini_churn_risk']:.4f}, truth {uplift.metrics['qini_truth']:.4f} "
        f"on {uplift.rows['validation']:,} held-back customers of the list"
    )
    return evaluation, uplift


def uplift_cycle(run: DemoRun, uplift, cycle: int = 2):
    """A cycle after the first: the list targeted by uplift, with the normal holdout,
    exploration slice and capacity, is compared with risk targeting on the truth, worked,
    fed back and evaluated.

    Returns:
        The cycle's evaluation, the comparison of targetings on the truth
        (`compare_targeting`) and what the logged campaign says (`logged_check`).
    """
    from evaluation.programme import evaluate_folder, read_truth
    from simulation.call_centre import reached_customers

    name, day = f"cycle-{cycle}", run.days[cycle - 1]
    config, folder = run.config, run.out_dir / name
    uplift_config = config.model_copy(
        update={"serving": config.serving.model_copy(update={"targeting": "uplift"})}
    )
    scored = _score(run.bank, uplift_config, day, folder, name)
    truth = read_truth(config.data_dir, day)
    comparison = compare_targeting(scored, truth, uplift.metrics)
    contacts = _work_the_list(scored, run.con, run.bank, config, folder, seed=cycle)
    run.calls[day] = reached_customers(contacts)
    with console.status(f"the bank lives on with the calls of cycle {cycle}", spinner="dots"):
        run.generate_bank()
    evaluation, population, _ = evaluate_folder(
        run.bank, config, folder, None, comparison, uplift.qini_curves, SERVICE_LINK
    )
    logged = logged_check(run.bank, config, folder, uplift.model, truth, run.calls[day], population)
    return evaluation, comparison, logged


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
            f"{action} {row.get(OWED_GROUP, 0):,} owed (never held out)"
            if action in OWED
            else f"{action} {row.get(TREATMENT, 0):,} treated / {row.get(HOLDOUT, 0):,} held out"
            for action, row in counts.iterrows()
        )
    )
    if config.serving.exploration_share > 0:  # a cycle at the normal call capacity
        from serving.cli import print_capacity_plan

        print_capacity_plan(result.summary["capacity_plan"])
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
