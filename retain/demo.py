"""`retain demo` / `make demo`: the product end to end on the built-in synthetic bank."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from rich.rule import Rule

from common.config import RetainConfig, with_overrides
from common.console import make_console
from common.dates import add_months, start_of
from features import engine, pipeline
from features.cli import print_load
from features.report import data_quality_frame, summary_table, write_data_quality
from features.validation import load_bank
from simulation.cli import generate

console = make_console()


def labelled_snapshots(extracted_at: datetime, horizon_days: int, count: int) -> list[date]:
    """The last `count` month starts whose label horizon the extract fully covers, plus the
    month start right after the extract (today's scoring snapshot, unlabelled)."""
    scoring = (extracted_at + timedelta(days=1)).date().replace(day=1)
    if scoring <= extracted_at.date():
        scoring = add_months(scoring, 1)
    dates = []
    month = add_months(scoring, -1)
    while len(dates) < count:
        if start_of(month) + timedelta(days=horizon_days) <= extracted_at:
            dates.append(month)
        month = add_months(month, -1)
    return sorted(dates) + [scoring]


def run_demo(config: RetainConfig, customers: int | None = None, months: int | None = None) -> None:
    """Generate the synthetic bank, validate it, build features and labels, print summaries."""
    started = time.perf_counter()
    config = with_overrides(config, "synth", customers=customers, months=months)
    settings = config.synth
    console.print(Rule("1. Synthetic bank"))
    summary = generate(settings, config.data_dir)
    console.print(
        f"{settings.customers:,} customers × {settings.months} months in {config.data_dir}: "
        + ", ".join(f"{rows:,} {name}" for name, rows in summary.row_counts.items())
        + f"; realised annual churn {summary.annual_churn_rate:.1%}"
    )

    console.print(Rule("2. Validation against the data contract"))
    con = engine.connect(config.features)
    bank = load_bank(con, config.data_dir, config.data, config.output_dir / "quarantine")
    print_load(bank)
    quality = data_quality_frame(bank, config.data.completeness_threshold)
    flagged = quality[quality["status"] == "below threshold"]
    console.print(
        f"completeness ≥ {config.data.completeness_threshold:.0%} on "
        f"{(quality['status'] == 'ok').sum()} of {len(quality)} columns; "
        f"{len(flagged)} below; report → {write_data_quality(quality, config.output_dir)}"
    )

    console.print(Rule("3. Point-in-time features and labels"))
    snapshots = labelled_snapshots(bank.extracted_at, config.features.horizon_days, count=6)
    out = config.output_dir / "features.parquet"
    build = pipeline.build_feature_file(bank, snapshots, config.features, out, with_labels=True)
    console.print(
        f"{build.rows:,} customer-snapshots × {build.columns} columns → {out} "
        f"in {build.seconds:.1f} s"
    )
    console.print(summary_table(out, build.attributes))

    console.print(Rule("4. Churn model: out-of-time test against baselines, rules and the truth"))
    from training.churn import train_churn
    from training.cli import print_churn_result

    with console.status("training the churn model", spinner="dots"):
        result = train_churn(bank, config.data_dir, config)
    print_churn_result(result)

    console.print(Rule("5. Cross-sell model: which product to offer whom"))
    from training.cli import print_xsell_result
    from training.xsell import train_xsell

    with console.status("training the cross-sell model", spinner="dots"):
        xsell = train_xsell(bank, config.data_dir, config)
    print_xsell_result(xsell)

    console.print(Rule("6. Campaign lists: retention callbacks and offers from the champions"))
    from serving.batch import score_campaign
    from serving.cli import print_campaign
    from serving.models import load_champions

    campaign_day = (bank.extracted_at + timedelta(days=1)).date()
    with console.status("scoring every customer", spinner="dots"):
        campaign = score_campaign(
            bank,
            load_champions(config),
            config,
            campaign_day,
            config.output_dir / f"campaign-{campaign_day.isoformat()}",
        )
    print_campaign(campaign)

    console.print(Rule("7. Real-time API"))
    someone = campaign.summary.get("example_customer") or "C0000001"
    console.print(
        "start it:  RETAIN_API_KEYS=demo-key .venv/bin/retain serve --port 3000\n"
        "call it:   curl -s -X POST http://127.0.0.1:3000/next-best-action "
        "-H 'X-API-Key: demo-key' -H 'content-type: application/json' "
        f'-d \'{{"customer_ids": ["{someone}"]}}\'',
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s")
