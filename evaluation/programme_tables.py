"""The tables of a programme evaluation, one function each, frames in and a frame out:
operations by tier and channel, service standards, outcomes by group, churn by tier
against the plans' targets, the campaign's effects by segment, calibration by risk decile.

`evaluation.programme.evaluate_campaign` calls them on the joined campaign; the task
frames they take carry `contacted` and `reached` flags (`programme.flag_contacts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.names import (
    COMPLAINT_FOLLOW_UP,
    CONTACTED_GROUPS,
    HOLDOUT,
    TREATMENT,
    WELCOME_CALLBACK,
)
from evaluation.campaign_effect import adjusted_p_values, effect_on_reached, effects_by

SERVICE_ACTIONS = {
    COMPLAINT_FOLLOW_UP: "complaint follow-ups within {days} days of resolution",
    WELCOME_CALLBACK: "welcome calls within {days} days of opening",
}


def operations_by_tier(treated: pd.DataFrame, within_sla: pd.Series) -> pd.DataFrame:
    """Tasks, contacted, coverage and share within the SLA of the treatment group's tasks,
    by tier and channel."""
    frame = treated.assign(within_sla=within_sla)
    table = frame.groupby(["tier", "channel"], observed=True).agg(
        tasks=("task_id", "size"),
        contacted=("contacted", "sum"),
        within=("within_sla", "sum"),
    )
    table["coverage"] = table["contacted"] / table["tasks"]
    table["within_sla"] = table["within"] / table["contacted"].where(table["contacted"] > 0)
    return table.drop(columns="within").reset_index()


def service_standards(treated: pd.DataFrame, days: int) -> pd.DataFrame:
    """Service calls owed: contacted within `days` of the event that made them due (the
    complaint's resolution, the account's opening: the lists' `event_at`); lists written
    before `event_at` existed are measured from the task's assignment."""
    rows = []
    for action, label in SERVICE_ACTIONS.items():
        part = treated[treated["action"] == action]
        start = pd.to_datetime(part["assigned_at"])
        if "event_at" in part:
            start = pd.to_datetime(part["event_at"]).fillna(start)
        delay = pd.to_datetime(part["contacted_at"]) - start
        within = int((delay <= pd.Timedelta(days=days)).sum())
        rows.append(
            {
                "measure": label.format(days=days),
                "eligible": len(part),
                "within_7_days": within,
                "share": within / len(part) if len(part) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def outcomes_by_group(known: pd.DataFrame) -> pd.DataFrame:
    """Per group, among the customers with a known outcome: churn, repurchase,
    satisfaction before and after, complaints resolved by the follow-ups reached."""
    rows = []
    for group, part in known.groupby("group", observed=True):
        follow_ups = part[(part["action"] == COMPLAINT_FOLLOW_UP) & part["reached"]]
        rows.append(
            {
                "group": group,
                "customers": len(part),
                "contacted": int(part["contacted"].sum()),
                "churn_rate": float(part["churned"].mean()),
                "repurchase_rate": float(part["repurchased"].mean()),
                "satisfaction_before": float(part["satisfaction_before"].mean())
                if "satisfaction_before" in part
                else np.nan,
                # The CRM's scores are nullable integers: an all-missing group is NaN.
                "satisfaction_after": float(part["satisfaction"].astype("float64").mean()),
                "resolution_rate": float((follow_ups["outcome"] == "issue_resolved").mean())
                if len(follow_ups)
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def annualised(rate: pd.Series | float, horizon_days: int):
    """A churn rate over `horizon_days` compounded to a year."""
    return 1 - (1 - rate) ** (365.25 / horizon_days)


def churn_by_tier(population: pd.DataFrame, horizon_days: int, targets: dict) -> pd.DataFrame:
    """Churn over the horizon per tier of every customer scored, annualised, against the
    plans' targets (one row `overall`)."""
    known = population[population["churned"].notna() & (population["tier"] != "churned")]
    rows = []
    groups = [*known.groupby("tier", observed=True), ("overall", known)]
    for tier, part in groups:
        rate = float(part["churned"].mean())
        target = targets.get(tier, np.nan)
        yearly = float(annualised(rate, horizon_days))
        rows.append(
            {
                "tier": tier,
                "customers": len(part),
                "churn_rate_horizon": rate,
                "annualised_churn": yearly,
                "target": target,
                "meets_target": bool(yearly <= target) if np.isfinite(target) else None,
            }
        )
    return pd.DataFrame(rows)


def campaign_effects(known: pd.DataFrame, reach_share: float) -> pd.DataFrame:
    """Churn and repurchase, treatment − holdout, for everyone, by tier and by risk band
    (intention to treat); and for everyone on the reached (Bloom's estimator, its interval
    carrying the reach share's uncertainty: `effect_on_reached`) unless nobody was
    reached."""
    tables = []
    for outcome, column in (("churn", "churned"), ("repurchase", "repurchased")):
        part = known[known[column].notna()]
        itt = effects_by(part, column, by=("tier", "risk_band"))
        tables.append(itt.assign(outcome=outcome, estimand="intention to treat"))
        overall = itt[itt["segment"] == "all"].copy()
        if reach_share:
            groups = {g: part[part["group"] == g] for g in (TREATMENT, HOLDOUT)}
            overall[["difference", "ci_low", "ci_high"]] = effect_on_reached(
                groups[TREATMENT][column],
                groups[TREATMENT]["reached"],
                groups[HOLDOUT][column],
                groups[HOLDOUT]["reached"],
            )
            tables.append(overall.assign(outcome=outcome, estimand="contacted vs holdout"))
    effects = pd.concat(tables, ignore_index=True).rename(
        columns={"treated": "treated_n", "holdout": "holdout_n"}
    )
    effects = with_multiplicity(effects)
    first = ["outcome", "estimand"]
    return effects[first + [c for c in effects.columns if c not in first]]


def with_multiplicity(effects: pd.DataFrame) -> pd.DataFrame:
    """`primary` marks the one primary endpoint (churn, everyone, intention to treat),
    tested alone; every other intention-to-treat test (repurchase, each tier and risk band)
    is secondary, and `p_value_adjusted` holds their Benjamini–Hochberg p-values as one
    family. An effect on the reached is its ITT test rescaled: it takes that row's."""
    effects = effects.copy()
    itt = effects["estimand"] == "intention to treat"
    everyone = effects["segment"] == "all"
    effects["primary"] = itt & everyone & (effects["outcome"] == "churn")
    secondary = itt & ~effects["primary"]
    effects["p_value_adjusted"] = effects["p_value"]
    effects.loc[secondary, "p_value_adjusted"] = adjusted_p_values(
        effects.loc[secondary, "p_value"]
    )
    overall = effects[itt & everyone].set_index("outcome")["p_value_adjusted"]
    reached = ~itt
    if reached.any():
        effects.loc[reached, "p_value_adjusted"] = (
            effects.loc[reached, "outcome"].map(overall).astype("float64")
        )
    return effects


def calibration_by_decile(population: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Realised churn by decile of the predicted churn probability, among the customers
    the campaign did not call (the calls change the outcome of the others)."""
    called = set(tasks.loc[tasks["group"].isin(CONTACTED_GROUPS), "customer_id"])
    rows = population[population["churned"].notna() & ~population["customer_id"].isin(called)]
    if rows.empty:
        return pd.DataFrame(columns=["decile", "customers", "mean_predicted", "realised_churn"])
    bins = min(10, len(rows))  # a tiny campaign has fewer than ten customers to split
    deciles = pd.qcut(rows["churn_probability"].rank(method="first"), bins, labels=False) + 1
    table = rows.groupby(deciles).agg(
        customers=("churned", "size"),
        mean_predicted=("churn_probability", "mean"),
        realised_churn=("churned", "mean"),
    )
    return table.rename_axis("decile").reset_index()
