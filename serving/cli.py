"""`retain score`: campaign lists from the champion models.

Heavy imports live inside the commands, so `--help` answers at once."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from common.console import make_console
from common.names import CALLBACKS_PARQUET, HOLDOUT, OFFERS_CSV, OWED_GROUP, TREATMENT
from features.cli import DataDir, load_extract

console = make_console()
TARGETINGS = ("risk", "expected_value", "uplift")
outbox_app = typer.Typer(
    help="The durable outbox of callback and offer tasks for the CRM.", no_args_is_help=True
)


@outbox_app.command("status")
def outbox_status(ctx: typer.Context) -> None:
    """Tasks per state (pending, delivered, dead) and the dead ones with their last error."""
    from serving.outbox import open_outbox

    outbox = open_outbox(ctx.obj.outbox_url)
    counts = outbox.counts()
    console.print(
        f"{ctx.obj.outbox_url}: "
        + (", ".join(f"{count:,} {state}" for state, count in sorted(counts.items())) or "empty")
    )
    dead = outbox.dead()
    if len(dead):
        table = RichTable(title="Dead tasks (not delivered after every attempt)")
        for column in dead.columns:
            table.add_column(column)
        for row in dead.head(20).itertuples(index=False):
            table.add_row(*[str(value) for value in row])
        console.print(table)


@outbox_app.command("deliver")
def outbox_deliver(
    ctx: typer.Context,
    webhook: Annotated[
        str | None, typer.Option(help="CRM webhook URL (default: serving.crm_webhook_url).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="One pass over the due tasks, then stop.")
    ] = False,
    poll_seconds: Annotated[
        float, typer.Option(help="Without --once: wait this long between passes.", min=0.1)
    ] = 5.0,
) -> None:
    """Post pending tasks to the CRM webhook (signed, with an idempotency key), retrying
    with exponential backoff; tasks failing every attempt are parked as dead."""
    import time

    from common.errors import ConfigError
    from serving.outbox import DeliveryPolicy, deliver, open_outbox, webhook_secret

    config = ctx.obj
    url = webhook or config.serving.crm_webhook_url
    if not url:
        raise ConfigError("no CRM webhook: pass --webhook URL or set serving.crm_webhook_url")
    policy = DeliveryPolicy(
        max_attempts=config.serving.webhook_max_attempts,
        backoff_seconds=config.serving.webhook_backoff_seconds,
        timeout_seconds=config.serving.webhook_timeout_seconds,
        # Room for a few posts per claimed batch whatever the timeout (see `deliver`).
        lease_seconds=max(60.0, 6 * config.serving.webhook_timeout_seconds),
    )
    secret = webhook_secret()
    outbox = open_outbox(config.outbox_url)
    while True:
        outcome = deliver(outbox, url, secret, policy)
        if any(outcome.values()):
            console.print(
                f"delivered {outcome['delivered']:,}, to retry {outcome['retried']:,}, "
                f"dead {outcome['dead']:,}; outbox now {outbox.counts()}"
            )
        if once:
            return
        time.sleep(poll_seconds)


def score_command(
    ctx: typer.Context,
    data: DataDir = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Campaign date, YYYY-MM-DD (default: the day after the extract)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: <output_dir>/campaign-<date>).")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Campaign id (default: campaign-<date>); seeds the holdout.")
    ] = None,
    targeting: Annotated[
        str | None,
        typer.Option(
            help="Who gets a retention callback: risk (churn probability over the tier's "
            "threshold), expected_value (risk × value), or uplift (the uplift model expects "
            "the call to lower churn). Default: serving.targeting. Recorded in every list."
        ),
    ] = None,
) -> None:
    """Score every customer with the champion models and write campaign lists: callbacks
    (ranked, with due time, channel and reasons), offers, a random holdout, a summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from common.config import with_overrides
    from common.errors import ConfigError
    from serving.batch import STAGES, score_campaign
    from serving.models import load_champions

    config = ctx.obj
    if targeting is not None:
        if targeting not in TARGETINGS:
            raise ConfigError(
                f"--targeting: expected one of {', '.join(TARGETINGS)}, got {targeting!r}"
            )
        config = with_overrides(config, "serving", targeting=targeting)
    data_dir = data or config.data_dir
    _, bank = load_extract(config, data_dir, quiet=True)
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise ConfigError(f"--as-of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    else:
        day = (bank.extracted_at + timedelta(days=1)).date()
    with console.status("loading the champion models", spinner="dots"):
        champions = load_champions(config)
    out_dir = out or config.output_dir / f"campaign-{day.isoformat()}"
    with Progress(
        TextColumn("scoring customers as of {task.fields[day]}: {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("start", total=len(STAGES), day=day)

        def advance(stage: str) -> None:
            bar.update(task, description=stage, completed=STAGES.index(stage))

        result = score_campaign(bank, champions, config, day, out_dir, campaign, advance)
    print_campaign(result)


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 3000,
) -> None:
    """Start the real-time API (BentoML) on the champion models: /score, /recommend,
    /next-best-action; keys from RETAIN_API_KEYS."""
    import os
    import shutil
    import sys

    from common.errors import RetainError
    from serving.models import load_champions
    from serving.service import API_KEYS_ENV, configured_keys

    if not configured_keys():
        raise RetainError(
            f"{API_KEYS_ENV} is not set: export the API keys callers must send in X-API-Key, "
            f"comma-separated, e.g. {API_KEYS_ENV}=$(openssl rand -hex 16)"
        )
    with console.status("checking the champion models", spinner="dots"):
        champions = load_champions(ctx.obj)  # fail here, with the reason, not in a worker
    env = dict(os.environ)
    if ctx.obj.source_file is not None:  # the workers read the same file
        env["RETAIN_CONFIG"] = str(ctx.obj.source_file)
    bentoml = shutil.which("bentoml", path=str(Path(sys.executable).parent)) or "bentoml"
    console.print(
        f"serving {', '.join(f'{k} v{v}' for k, v in champions.versions.items())} on "
        f"http://{host}:{port} (OpenAPI: /docs.json; health: /healthz, /readyz)"
    )
    os.execvpe(
        bentoml,
        [bentoml, "serve", "serving.service:Retain", "--host", host, "--port", str(port)],
        env,
    )


def print_capacity_plan(plan: list[dict]) -> None:
    """Calls a day each queue needs against its capacity (`serving.capacity_plan`)."""
    if not plan:
        return
    table = RichTable(title="Capacity plan: calls a day each queue needs (serving.calls_per_day)")
    headers = {
        "queue": "queue",
        "tasks": "tasks",
        "owed": "owed calls",
        "per_day_for_owed_on_time": "a day: owed on time",
        "per_day_for_all_on_time": "a day: all on time",
        "per_day_for_all_in_schedule": "a day: all in schedule",
        "calls_per_day": "capacity a day",
        "verdict": "verdict",
    }
    for key, header in headers.items():
        table.add_column(header, justify="left" if key in ("queue", "verdict") else "right")
    for row in plan:
        table.add_row(
            *(
                "—"
                if row[key] is None
                else f"{row[key]:,}"
                if isinstance(row[key], int)
                else row[key]
                for key in headers
            )
        )
    console.print(table)


def print_campaign(result, top: int = 5) -> None:
    """Counts per action and group, then the top of each list with its reasons."""
    import pandas as pd

    from serving.actions import product_label
    from serving.detectability import detectability_warning

    summary = result.summary
    versions = ", ".join(f"{name} v{number}" for name, number in summary["model_versions"].items())
    table = RichTable(
        title=f"{result.campaign_id}: {summary['customers_scored']:,} customers scored as of "
        f"{summary['as_of']}, targeting by {summary.get('targeting')} (models {versions})"
    )
    for column in (
        "action",
        TREATMENT,
        f"{OWED_GROUP} (never held out)",
        f"{HOLDOUT} (not contacted)",
    ):
        table.add_column(column, justify="left" if column == "action" else "right")
    for action, groups in summary["actions"].items():
        table.add_row(
            action,
            *(f"{groups.get(group, 0):,}" for group in (TREATMENT, OWED_GROUP, HOLDOUT)),
        )
    console.print(table)
    check = summary.get("detectability")
    warning = detectability_warning(check) if check else None
    if warning:
        console.print(f"[yellow]warning:[/] {warning}")
    print_capacity_plan(summary.get("capacity_plan") or [])
    if summary["over_capacity"]:
        console.print(
            f"[yellow]{summary['over_capacity']:,} tasks did not fit the daily capacity[/] "
            "(status over_capacity in the lists; raise serving.calls_per_day or "
            "serving.schedule_days)"
        )
    callbacks = pd.read_parquet(result.files[CALLBACKS_PARQUET])
    first = callbacks[callbacks["status"] == "scheduled"].head(top)
    shown = RichTable(title=f"Top {len(first)} callbacks")
    for column in ("rank", "customer", "action", "risk", "tier", "queue", "due", "reasons"):
        shown.add_column(column)
    for row in first.itertuples():
        shown.add_row(
            str(row.rank),
            row.customer_id,
            row.action,
            f"{row.churn_probability:.0%}",
            row.tier,
            row.queue,
            f"{row.due_at:%Y-%m-%d %H:%M}",
            row.reasons,
        )
    console.print(shown)
    offers = pd.read_csv(result.files[OFFERS_CSV])
    first_offers = offers[offers["status"] == "scheduled"].head(top)
    shown = RichTable(title=f"Top {len(first_offers)} offers")
    for column in ("rank", "customer", "product", "expected value", "channel", "reason"):
        shown.add_column(column)
    for row in first_offers.itertuples():
        shown.add_row(
            str(row.rank),
            row.customer_id,
            product_label(row.product_name, row.product_id),
            f"{row.expected_value:,.0f}",
            row.channel,
            str(row.offer_reason),
        )
    console.print(shown)
    console.print("lists → " + ", ".join(str(path) for path in result.files.values()))
