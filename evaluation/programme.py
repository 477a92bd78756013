"""Programme evaluation: did a campaign's calls happen, and did they keep customers?

`evaluate_campaign` joins what Retain decided (the campaign's `tasks.parquet` and
`scores.parquet`), what the CRM says happened (`campaign_contacts`), and what the bank's
later extract shows (churn and product openings over the horizon after the campaign day,
by the same label definitions as training). It gives operations (coverage, SLA), outcomes
(churn, repurchase, satisfaction, problem resolution), churn by tier against the plans'
targets, the effect of the campaign (treatment − holdout, intention to treat, and on the
contacted), and the churn model's calibration on the campaign.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.errors import DataError
from common.names import (
    CAMPAIGN_GROUPS,
    CONTACTED_GROUPS,
    HOLDOUT,
    OWED_GROUP,
    SCORES_FILE,
    TASKS_FILE,
    TREATMENT,
    TRUTH_CHURN,
)
from evaluation.campaign_effect import (
    effect_on_reached,
    minimum_detectable_effect,
    rate_difference,
)
from evaluation.programme_result import ProgrammeEvaluation
from evaluation.programme_tables import (
    calibration_by_decile,
    campaign_effects,
    churn_by_tier,
    operations_by_tier,
    outcomes_by_group,
    service_standards,
)
from features.schema import REACHED_OUTCOMES


@dataclass(frozen=True)
class CampaignData:
    """One campaign's decisions, contacts and outcomes, one row per listed customer."""

    campaign_id: str
    as_of: pd.Timestamp
    tasks: pd.DataFrame  # tasks.parquet joined with contacts and outcomes
    population: pd.DataFrame  # every customer scored: churn_probability, tier, outcomes


def join_campaign(
    campaign_id: str,
    tasks: pd.DataFrame,
    scores: pd.DataFrame,
    contacts: pd.DataFrame,
    outcomes: pd.DataFrame,
) -> CampaignData:
    """Tasks + the CRM's contacts (by task id) + outcomes (by customer).

    `outcomes` has `customer_id`, `churned` and `repurchased` (0/1, NaN when not
    observable) and optionally `satisfaction_before`.

    Raises:
        DataError: no tasks, or outcomes missing for every listed customer (the extract
            does not reach the end of the horizon yet).
    """
    if tasks.empty:
        raise DataError(f"campaign {campaign_id}: no tasks ({TASKS_FILE} is empty)")
    contact_columns = ["task_id", "contacted_at", "channel", "outcome", "satisfaction"]
    joined = tasks.merge(
        contacts[contact_columns].rename(columns={"channel": "contact_channel"}),
        on="task_id",
        how="left",
    )
    joined = joined.merge(outcomes, on="customer_id", how="left")
    known = joined["churned"].notna()
    if not known.any():
        raise DataError(
            f"campaign {campaign_id}: no listed customer has a known outcome; the extract must "
            "reach the end of the horizon after the campaign day"
        )
    population = scores.merge(outcomes, on="customer_id", how="left")
    as_of = pd.Timestamp(tasks["assigned_at"].iloc[0]).normalize()
    return CampaignData(campaign_id, as_of, joined, population)


def evaluate_campaign(
    data: CampaignData,
    config: RetainConfig,
    truth: pd.DataFrame | None = None,
    targeting: pd.DataFrame | None = None,
    qini_curves: dict | None = None,
) -> ProgrammeEvaluation:
    """Every figure of the programme report for one campaign.

    Args:
        data: the joined campaign.
        config: horizon, targets.
        truth: on the synthetic bank, `customer_id`, `p_churn_90d`, `p_churn_90d_if_called`
            at the campaign day: the true effect of the assignment is computed from them.
        targeting: optional comparison of targetings (passed through to the report).
        qini_curves: optional Qini curves (passed through).

    Raises:
        DataError: the treatment or the holdout group has no customer with a known outcome.
    """
    horizon = config.features.horizon_days
    tasks = flag_contacts(data.tasks)
    # The tasks made (treatment and the calls customers are owed) for the operations and
    # service standards; the randomised arms alone for the effects.
    treated = tasks[tasks["group"].isin(CONTACTED_GROUPS)]
    observed = tasks[tasks["churned"].notna()]
    known = observed[observed["group"].isin(CAMPAIGN_GROUPS)]
    _require_both_groups(known, data.campaign_id)
    within_sla = _within_sla(treated)
    reach_share = reach_difference(known)
    headline = {
        **operations_headline(data, tasks, within_sla, horizon),
        **churn_effect_headline(known, reach_share),
    }
    if truth is not None:
        headline["true_itt_churn_effect"] = true_itt_effect(known, truth)
    return ProgrammeEvaluation(
        headline=headline,
        operations=operations_by_tier(treated[~over_capacity(treated)], within_sla),
        service=service_standards(treated, config.programme.service_days),
        outcomes=outcomes_by_group(known),
        churn_by_tier=churn_by_tier(data.population, horizon, config.programme.churn_targets),
        effects=campaign_effects(known, reach_share),
        calibration=calibration_by_decile(data.population, tasks),
        targeting=targeting,
        qini_curves=qini_curves,
        notes=campaign_notes(data.campaign_id, tasks, observed, headline, config),
    )


def flag_contacts(tasks: pd.DataFrame) -> pd.DataFrame:
    """A copy of the joined tasks with `contacted` (the CRM recorded an attempt) and
    `reached` (its outcome is one of the contract's reached outcomes)."""
    tasks = tasks.copy()
    tasks["contacted"] = tasks["contacted_at"].notna()
    tasks["reached"] = tasks["outcome"].isin(REACHED_OUTCOMES)
    return tasks


def _require_both_groups(known: pd.DataFrame, campaign_id: str) -> None:
    for group in CAMPAIGN_GROUPS:
        if not (known["group"] == group).any():
            raise DataError(
                f"campaign {campaign_id}: no {group} customer with a known outcome, so "
                "the campaign's effect cannot be measured (was serving.holdout_share 0?)"
            )


def _within_sla(treated: pd.DataFrame) -> pd.Series:
    """Per task made: contacted at or before its due time."""
    return treated["contacted"] & (
        pd.to_datetime(treated["contacted_at"]) <= pd.to_datetime(treated["due_at"])
    )


def reach_difference(known: pd.DataFrame) -> float:
    """The share reached in the treatment group minus the holdout's. Bloom's estimator
    divides by this difference: the holdout should have none reached, but the contract
    keeps a holdout row the CRM did contact."""
    return float(known.loc[known["group"] == TREATMENT, "reached"].mean()) - float(
        known.loc[known["group"] == HOLDOUT, "reached"].mean()
    )


def operations_headline(
    data: CampaignData, tasks: pd.DataFrame, within_sla: pd.Series, horizon_days: int
) -> dict:
    """The key figures of the campaign's operations: its size, groups, coverage, reach and
    SLA (shares of the tasks scheduled within capacity, treatment and owed calls; NaN
    without any). Tasks over capacity were never given to a caller: they are counted, not
    held against coverage."""
    treated = tasks[tasks["group"].isin(CONTACTED_GROUPS)]
    over = over_capacity(treated)
    made = treated[~over]
    return {
        "campaign_id": data.campaign_id,
        "as_of": data.as_of.date().isoformat(),
        "horizon_days": horizon_days,
        "targeting": str(tasks["targeting"].iat[0]) if "targeting" in tasks else "risk",
        "tasks": len(tasks),
        TREATMENT: int((tasks["group"] == TREATMENT).sum()),
        HOLDOUT: int((tasks["group"] == HOLDOUT).sum()),
        OWED_GROUP: int((tasks["group"] == OWED_GROUP).sum()),
        "coverage": float(made["contacted"].mean()) if len(made) else np.nan,
        "reached": float(made["reached"].mean()) if len(made) else np.nan,
        "within_sla": float(within_sla[~over].sum() / made["contacted"].sum())
        if made["contacted"].any()
        else np.nan,
        "over_capacity": int(over.sum()),
        "owed_over_capacity": int((over & (treated["group"] == OWED_GROUP)).sum()),
    }


def over_capacity(tasks: pd.DataFrame) -> pd.Series:
    """Tasks that did not fit the call capacity (never given to a caller); lists written
    before the status existed have none."""
    if "status" not in tasks:
        return pd.Series(False, index=tasks.index)
    return tasks["status"] == "over_capacity"


def churn_effect_headline(known: pd.DataFrame, reach_share: float) -> dict:
    """The key figures of the campaign's effect on churn: each group's rate, the
    intention-to-treat difference with its interval and p-value, and the effect on the
    reached."""
    treated, holdout = known[known["group"] == TREATMENT], known[known["group"] == HOLDOUT]
    churn_effect = rate_difference(treated["churned"], holdout["churned"])
    reached_effect = (
        effect_on_reached(
            treated["churned"], treated["reached"], holdout["churned"], holdout["reached"]
        )
        if reach_share
        else (np.nan,) * 3
    )
    return {
        "treatment_churn_rate": churn_effect.treated_rate,
        "holdout_churn_rate": churn_effect.holdout_rate,
        "itt_churn_effect": churn_effect.difference,
        "itt_ci_low": churn_effect.ci_low,
        "itt_ci_high": churn_effect.ci_high,
        "itt_p_value": churn_effect.p_value,
        # What these group sizes could see at all (80 % power, two-sided 5 % level, at the
        # holdout's churn rate): an effect smaller than this is likely to go unseen.
        "minimum_detectable_churn_difference": minimum_detectable_effect(
            churn_effect.treated, churn_effect.holdout, churn_effect.holdout_rate
        ),
        # Bloom's estimator: the effect on those reached is the ITT effect over the share
        # reached (minus the holdout's, normally none); its interval carries the
        # uncertainty of that share.
        "contacted_churn_effect": reached_effect[0],
        "contacted_ci_low": reached_effect[1],
        "contacted_ci_high": reached_effect[2],
    }


def campaign_notes(
    campaign_id: str,
    tasks: pd.DataFrame,
    known: pd.DataFrame,
    headline: dict,
    config: RetainConfig,
) -> list[str]:
    """The caveats shown at the top of the report: listed customers without an outcome,
    no contact loaded yet, tasks over capacity, coverage below the plans' target."""
    coverage = headline["coverage"]
    notes = []
    if len(known) < len(tasks):
        notes.append(
            f"{len(tasks) - len(known):,} of {len(tasks):,} listed customers have no observable "
            "outcome (they had left before the campaign day) and are not counted in the effects."
        )
    matched = tasks["outcome"].notna() | tasks["contacted_at"].notna()
    if not matched.any():
        notes.append(
            f"No contact of campaign {campaign_id} has been loaded (`retain outcomes load`):"
            " coverage and the effect on the contacted count nobody as contacted."
        )
    if headline.get("over_capacity"):
        owed = headline.get("owed_over_capacity", 0)
        notes.append(
            f"{headline['over_capacity']:,} tasks did not fit the call capacity "
            "(serving.calls_per_day × serving.schedule_days) and were never given to a caller; "
            "coverage and SLA count the tasks scheduled."
            + (
                f" {owed:,} of them are calls customers are owed: capacity does not allow "
                "the plans' service standard."
                if owed
                else ""
            )
        )
    if coverage < config.programme.coverage_target:
        notes.append(
            f"Callback coverage {coverage:.1%} is below the plans' "
            f"{config.programme.coverage_target:.0%}."
        )
    return notes


def true_itt_effect(known: pd.DataFrame, truth: pd.DataFrame) -> float:
    """The truth's effect of assignment on the treated group: their expected churn as
    assigned (reached customers at the called probability, the others not) minus the same
    customers' churn probability without a call."""
    rows = known[known["group"] == TREATMENT].merge(truth, on="customer_id", how="left")
    as_assigned = np.where(rows["reached"], rows["p_churn_90d_if_called"], rows["p_churn_90d"])
    return float(np.nanmean(as_assigned - rows["p_churn_90d"]))


def campaign_outcomes(bank, as_of, config: RetainConfig) -> pd.DataFrame:
    """Every customer's features at the campaign day with what happened over the horizon
    after it: `churned` and `repurchased` (opened a product not held), NaN when the extract
    does not show it; `satisfaction_before` from the year before."""
    from features import pipeline
    from features.definitions import LABEL_CHURN, LABEL_XSELL_PREFIX

    frame = pipeline.feature_frame(bank, [as_of], config.features, with_labels=True)
    xsell = [c for c in frame.columns if c.startswith(LABEL_XSELL_PREFIX)]
    frame["churned"] = frame[LABEL_CHURN]
    # Opened any product not held: NaN only when no product's outcome is known.
    frame["repurchased"] = frame[xsell].max(axis=1, skipna=True) if xsell else np.nan
    frame["satisfaction_before"] = frame.get("satisfaction_mean_365d", np.nan)
    return frame


def read_truth(data_dir, as_of, features_config=None) -> pd.DataFrame | None:
    """The synthetic bank's churn probabilities without and with a call at the campaign
    day, or None for a real bank's extract, or when the churn label is not the truth's
    (all products closed within 90 days)."""
    from pathlib import Path

    if features_config is not None and (
        features_config.horizon_days != 90 or features_config.churn.kind != "all_products_closed"
    ):
        return None

    path = Path(data_dir) / TRUTH_CHURN
    if not path.exists():
        return None
    truth = pd.read_parquet(
        path,
        columns=["customer_id", "month_start", "p_churn_90d", "p_churn_90d_if_called"],
        filters=[("month_start", "==", pd.Timestamp(as_of).date())],
    )
    if truth.empty or "p_churn_90d_if_called" not in truth:
        return None
    return truth.drop(columns="month_start")


def evaluate_folder(
    bank,
    config: RetainConfig,
    campaign_dir,
    out_dir=None,
    targeting: pd.DataFrame | None = None,
    qini_curves: dict | None = None,
    links: dict[str, str] | None = None,
):
    """Evaluate the campaign `retain score` wrote to `campaign_dir` on a later extract
    (`bank`) and the contacts loaded with `retain outcomes load`; write the report (with
    `links` to related reports, label -> URL relative to it).

    Returns:
        The evaluation, every customer's features and outcomes at the campaign day, and
        the files written.

    Raises:
        DataError: the folder has no campaign lists, or the extract ends before the
            horizon after the campaign day.
    """
    from pathlib import Path

    from evaluation.programme_report import write_report
    from features.outcomes import read_contacts

    tasks, scores, as_of = campaign_files(campaign_dir, bank, config)
    campaign_id = str(tasks["campaign_id"].iat[0])
    population = campaign_outcomes(bank, as_of, config)
    outcome_columns = ["customer_id", "churned", "repurchased", "satisfaction_before"]
    data = join_campaign(
        campaign_id,
        tasks,
        scores,
        read_contacts(config.output_dir, campaign_id),
        population[outcome_columns],
    )
    truth = read_truth(bank.data_dir, as_of, config.features) if bank.data_dir is not None else None
    evaluation = evaluate_campaign(data, config, truth, targeting, qini_curves)
    evaluation = replace(evaluation, links=links or {})
    files = write_report(
        evaluation, Path(out_dir or campaign_dir), title=f"Campaign {campaign_id} ({as_of})"
    )
    return evaluation, population, files


def campaign_files(campaign_dir, bank, config: RetainConfig):
    """A campaign's tasks and scores as `retain score` wrote them, and its day; checks the
    extract reaches the end of its horizon.

    Raises:
        DataError: no campaign lists in the folder, or the extract ends too early.
    """
    from pathlib import Path

    campaign_dir = Path(campaign_dir)
    paths = {"tasks": campaign_dir / TASKS_FILE, "scores": campaign_dir / SCORES_FILE}
    for path in paths.values():
        if not path.exists():
            raise DataError(
                f"{campaign_dir}: no {path.name}; point --campaign-dir at a folder "
                "`retain score` wrote"
            )
    tasks = pd.read_parquet(paths["tasks"])
    if tasks.empty:
        raise DataError(f"campaign {campaign_dir.name}: no tasks ({TASKS_FILE} is empty)")
    campaign_id = str(tasks["campaign_id"].iat[0])
    as_of = pd.Timestamp(tasks["assigned_at"].iat[0]).date()
    horizon_end = pd.Timestamp(as_of) + pd.Timedelta(days=config.features.horizon_days)
    if horizon_end > pd.Timestamp(bank.extracted_at):
        raise DataError(
            f"campaign {campaign_id} of {as_of}: its {config.features.horizon_days}-day horizon "
            f"ends {horizon_end.date()}, after this extract ({bank.extracted_at:%Y-%m-%d}); "
            "use an extract taken after the horizon"
        )
    return tasks, pd.read_parquet(paths["scores"]), as_of
