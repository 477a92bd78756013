"""The campaign demo's figures: targetings compared on the truth, what the logged campaign
says without it (the doubly-robust estimate a bank would have), and the tables printed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.table import Table as RichTable

from common.console import make_console
from common.names import RETENTION_CALLBACK, TREATMENT
from evaluation.programme_report import json_ready

console = make_console()
EFFECT_KEYS = (
    "itt_churn_effect",
    "itt_ci_low",
    "itt_ci_high",
    "itt_p_value",
    "minimum_detectable_churn_difference",
    "true_itt_churn_effect",
    "coverage",
    "retained_per_1000_calls_risk",
    "retained_per_1000_calls_uplift",
    "retained_per_1000_calls_list",
    "retained_value_per_1000_calls_risk",
    "retained_value_per_1000_calls_uplift",
    "retained_value_per_1000_calls_optimum",
    "qini_uplift_model",
    "qini_optimum",
)
LOGGED_RULES = {"uplift": "champion", "risk": "churn risk", "the_list": "the campaigns' lists"}


def logged_check(
    bank, config, folder, model, truth: pd.DataFrame, reached: list[str], population=None
) -> dict:
    """What the campaign in `folder` says, without the truth, about the customers per
    1,000 calls that the uplift model's targeting, churn risk's and the rules' own picks keep
    (doubly-robust, `training.uplift_promotion.logged_values`), and what the truth says
    for the same calls. The estimate is intention to treat (a call handed to a caller), so
    the truth's figure is its uplift times the share of the support's calls that reached
    the customer.

    Returns:
        Per rule: `dr_retained_per_1000_calls_<rule>` with `_ci_low` / `_ci_high`, and
        `true_itt_retained_per_1000_calls_<rule>`; the support's size.
    """
    from training.uplift_promotion import logged_values

    logged = logged_values(
        bank, config, [folder], {"champion": model}, model, unseen_only=False, population=population
    )
    support = logged.support.merge(truth, on="customer_id", how="left")
    true_uplift = (support["p_churn_90d"] - support["p_churn_90d_if_called"]).to_numpy()
    called = support["called"].to_numpy()
    reach = float(support.loc[called, "customer_id"].isin(reached).mean())
    row = {"logged_support": len(support), "logged_reach_share": reach}
    for key, rule in LOGGED_RULES.items():
        value = logged.values[rule]
        chosen = support[f"chosen: {rule}"].to_numpy()
        row[f"dr_retained_per_1000_calls_{key}"] = value.retained_per_1000_calls
        row[f"dr_retained_per_1000_calls_{key}_ci_low"] = _known(value.ci_low)
        row[f"dr_retained_per_1000_calls_{key}_ci_high"] = _known(value.ci_high)
        row[f"dr_retained_per_1000_calls_{key}_effective"] = value.effective_customers
        row[f"true_itt_retained_per_1000_calls_{key}"] = (
            1000 * reach * float(np.nanmean(true_uplift[chosen]))
        )
    difference = logged.difference("champion", "churn risk")
    row["dr_uplift_minus_risk"] = difference.difference
    row["dr_uplift_minus_risk_ci_low"] = _known(difference.ci_low)
    row["dr_uplift_minus_risk_ci_high"] = _known(difference.ci_high)
    row["dr_uplift_minus_risk_effective"] = difference.effective_customers
    return row


def _known(value: float) -> float | None:
    """None for an interval not given (too few effective customers): JSON has no NaN."""
    return None if np.isnan(value) else float(value)


def effect_summary(
    evaluation_1,
    evaluation_2,
    comparison: pd.DataFrame,
    uplift_metrics: dict,
    reports: dict[str, str],
    seconds: float,
) -> dict:
    """effect.json: cycle 1's measured effect, the targetings compared in cycle 2, the
    uplift model's Qini, both cycles' key figures, where the reports are; JSON-ready."""
    by_name = comparison.set_index("targeting")
    effect = {
        **{key: evaluation_1.headline.get(key) for key in EFFECT_KEYS[:7]},
        "retained_per_1000_calls_risk": float(by_name.at["risk", "retained_per_1000_calls"]),
        "retained_per_1000_calls_uplift": float(by_name.at["uplift", "retained_per_1000_calls"]),
        "retained_per_1000_calls_optimum": float(
            by_name.at["truth optimum", "retained_per_1000_calls"]
        ),
        "retained_per_1000_calls_list": float(by_name.at["the list", "retained_per_1000_calls"]),
        "retained_value_per_1000_calls_risk": float(
            by_name.at["risk", "retained_value_per_1000_calls"]
        ),
        "retained_value_per_1000_calls_uplift": float(
            by_name.at["uplift × value", "retained_value_per_1000_calls"]
        ),
        "retained_value_per_1000_calls_optimum": float(
            by_name.at["truth value optimum", "retained_value_per_1000_calls"]
        ),
        "calls_compared": int(by_name.at["uplift", "calls"]),
        "qini_uplift_model": uplift_metrics["qini_uplift_model"],
        "qini_churn_risk": uplift_metrics["qini_churn_risk"],
        "qini_optimum": uplift_metrics["qini_truth"],
        "cycle_1": evaluation_1.headline,
        "cycle_2": evaluation_2.headline,
        "reports": reports,
        "seconds": seconds,
    }
    return json_ready(effect)


def cycle_rows(comparisons: list[pd.DataFrame], logged: list[dict]) -> list[dict]:
    """Per targeted cycle: its calls and the customers and value each ranking would keep
    with them (from the truth), the running totals of customers kept, and what the logged
    campaign estimates without the truth (`logged_check`)."""
    rows, totals = [], {}
    for cycle, (comparison, estimate) in enumerate(zip(comparisons, logged, strict=True), 2):
        row = {"cycle": cycle, "calls": int(comparison["calls"].iat[0]), **estimate}
        for _, targeting in comparison.iterrows():
            key = targeting["targeting"].replace(" ", "_").replace("×", "x")
            row[f"retained_per_1000_calls_{key}"] = targeting["retained_per_1000_calls"]
            row[f"retained_value_per_1000_calls_{key}"] = targeting["retained_value_per_1000_calls"]
            totals[key] = totals.get(key, 0.0) + targeting["retained_customers"]
            row[f"cumulative_retained_{key}"] = totals[key]
        rows.append(row)
    return rows


def compare_targeting(scored: dict, truth: pd.DataFrame, uplift_metrics: dict) -> pd.DataFrame:
    """At the number of retention calls the uplift-targeted list makes, whom would risk
    targeting, uplift targeting and the truth itself call, and how many customers would
    those calls keep (truth: churn probability without minus with a call)? The Qini
    coefficients are the uplift model's validation on cycle 1's held-back list."""
    scores = scored["scores"]
    tasks = scored["tasks"]
    retention = (
        (tasks["action"] == RETENTION_CALLBACK)
        & (tasks["group"] == TREATMENT)
        & (tasks["status"] == "scheduled")
    )
    calls = int(retention.sum())  # the retention calls made (over capacity: not made)
    candidates = scores[scores["tier"] != "churned"].merge(truth, on="customer_id", how="inner")
    candidates["true_uplift"] = candidates["p_churn_90d"] - candidates["p_churn_90d_if_called"]
    candidates["value_kept"] = candidates["uplift"] * candidates["customer_value"]
    candidates["true_value_kept"] = candidates["true_uplift"] * candidates["customer_value"]
    made = candidates[candidates["customer_id"].isin(tasks.loc[retention, "customer_id"])]
    rows = []
    for name, chosen, qini in (
        ("risk", candidates.nlargest(calls, "churn_probability"), "qini_churn_risk"),
        ("uplift", candidates.nlargest(calls, "uplift"), "qini_uplift_model"),
        ("uplift × value", candidates.nlargest(calls, "value_kept"), None),
        ("the list", made, None),
        ("truth optimum", candidates.nlargest(calls, "true_uplift"), "qini_truth"),
        ("truth value optimum", candidates.nlargest(calls, "true_value_kept"), None),
    ):
        rows.append(
            {
                "targeting": name,
                "calls": calls,
                "retained_customers": float(chosen["true_uplift"].sum()),
                "retained_per_1000_calls": 1000 * float(chosen["true_uplift"].mean()),
                "retained_value_per_1000_calls": 1000 * float(chosen["true_value_kept"].mean()),
                "mean_churn_probability": float(chosen["p_churn_90d"].mean()),
                "qini": uplift_metrics.get(qini, np.nan) if qini else np.nan,
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
    cycles = RichTable(title="Targeted cycles: customers kept per 1,000 calls (from the truth)")
    for column in (
        "cycle",
        "calls",
        "risk",
        "uplift",
        "uplift × value",
        "the list",
        "truth optimum",
        "kept so far: risk",
        "kept so far: the list",
    ):
        cycles.add_column(column, justify="right")
    for row in effect["cycles"]:
        cycles.add_row(
            str(row["cycle"]),
            f"{row['calls']:,}",
            *(
                f"{row[f'retained_per_1000_calls_{key}']:.1f}"
                for key in (
                    "risk",
                    "uplift",
                    "uplift_x_value",
                    "the_list",
                    "truth_optimum",
                )
            ),
            f"{row['cumulative_retained_risk']:.1f}",
            f"{row['cumulative_retained_the_list']:.1f}",
        )
    console.print(cycles)
    print_logged(effect["cycles"])
    slice_ = effect.get("exploration") or {}
    if slice_.get("tasks"):
        console.print(
            f"exploration slice of cycle 2: {slice_['scheduled']:,} of {slice_['tasks']:,} "
            f"drawn calls made, {slice_['share_of_retention_calls_made']:.0%} of the "
            f"retention calls made (a customer's chance of being drawn, by queue: "
            + ", ".join(f"{q} {p:.3f}" for q, p in slice_["assignment_probability"].items())
            + ")"
        )


def print_logged(rows: list[dict]) -> None:
    """Per targeted cycle, the doubly-robust estimate from the logged campaign against the
    truth's figure for the same calls (both intention to treat), with the effective
    customers each estimate rests on (no interval below the minimum)."""
    table = RichTable(
        title="What the logged campaign says without the truth: customers kept per 1,000 calls "
        "handed to callers (doubly-robust [95 % CI] (effective customers) | truth)"
    )
    for column in ("cycle", "support", *(rule for rule in LOGGED_RULES), "uplift − risk"):
        table.add_column(column.replace("_", " "), justify="right")
    for row in rows:
        cells = [str(row["cycle"]), f"{row['logged_support']:,}"]
        for key in LOGGED_RULES:
            name = f"dr_retained_per_1000_calls_{key}"
            cells.append(
                f"{_estimate(row, name, '.1f')} | "
                f"{row[f'true_itt_retained_per_1000_calls_{key}']:.1f}"
            )
        cells.append(_estimate(row, "dr_uplift_minus_risk", "+.1f"))
        table.add_row(*cells)
    console.print(table)


def _estimate(row: dict, name: str, spec: str) -> str:
    """`value [low, high] (n)`; without the interval when it was not given."""
    low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
    interval = "" if low is None else f" [{low:{spec}}, {high:{spec}}]"
    effective = row.get(f"{name}_effective", np.inf)
    count = "" if np.isinf(effective) else f" ({effective:,.0f})"
    return f"{row[name]:{spec}}{interval}{count}"
