"""The one typed configuration: defaults in code, an optional TOML file, `RETAIN_*` env overrides.

Precedence (highest first): environment (`RETAIN_FEATURES__HORIZON_DAYS=60`), the TOML file
(`retain.toml` in the working directory, or the file named by `--config` / `RETAIN_CONFIG`),
the defaults below, which run the synthetic demo with no file at all.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from common.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("retain.toml")
PositiveInt = Annotated[int, Field(gt=0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SynthMechanisms(_Section):
    """What makes the synthetic bank's churn hard to predict for the right reasons.

    Each mechanism is on by default; docs/synthetic-bank.md says what each does to the bank
    and to its truth. Months are counted from the first simulated month (0).
    """

    # Fixed-rate mortgages and time deposits: churn low while the fixed period runs, a
    # spike around its end (`holdings.fixed_until`).
    lock_in: bool = True
    # A complaint weighs more for new customers than for long-standing ones.
    complaint_tenure: bool = True
    # A market savings-rate path with a hiking cycle; the bank follows with a lag, and
    # rate-sensitive savers leave while the gap is wide (`market_rates`).
    market_rates: bool = True
    # The bank raises its monthly fees at `fee_change_month`; low incomes react most.
    fee_change: bool = True
    fee_change_month: Annotated[int, Field(ge=1, le=240)] = 9
    # Unobserved per-customer frailty: a log-normal multiplier on the churn hazard.
    frailty: bool = True
    # A competitor's launch at `regime_change_month` pulls young digital customers.
    regime_change: bool = True
    regime_change_month: Annotated[int, Field(ge=1, le=240)] = 18
    # January switching, bonus months (June, December), holiday spending (December).
    seasonality: bool = True
    # A share of leavers go dormant (balance left below 100, own transactions stop) and
    # never close.
    silent_churn: bool = True
    # Temporary dips (salary missing a month, money moved out, fewer logins) in customers
    # who recover and stay.
    false_alarms: bool = True
    # Bank-initiated closures and deaths: everything closes, with no warning signs.
    label_noise: bool = True
    # Segment, income band, risk appetite, channel, do-not-contact and region change over
    # time (`customer_attributes`).
    changing_attributes: bool = True
    # A shorter, noisier leaving countdown (fewer warned leavers, 1-3 months, each sign
    # shown only by some); off is the older countdown (three in four warned, 2-4 months,
    # every sign).
    noisy_countdown: bool = True

    @classmethod
    def plain(cls) -> SynthMechanisms:
        """Every mechanism off: the simpler bank, kept for comparison."""
        return cls(
            **{name: False for name, field in cls.model_fields.items() if field.annotation is bool}
        )


class SynthConfig(_Section):
    """The built-in synthetic bank."""

    customers: PositiveInt = 5_000
    months: Annotated[int, Field(ge=2, le=240)] = 24
    seed: int = 42
    start: date = date(2023, 1, 1)
    transactions_per_month: Annotated[float, Field(gt=0, le=500)] = 12.0
    mechanisms: SynthMechanisms = SynthMechanisms()


class DataConfig(_Section):
    """Loading and validating a bank extract."""

    completeness_threshold: Share = 0.98
    # Stop instead of quarantining when more than this share of a table's rows is bad:
    # at that point the extract itself is broken, not a few rows in it.
    max_quarantine_share: Share = 0.05
    # Used when the extract has no manifest.json saying when it was taken.
    extracted_at: datetime | None = None


class ChurnDefinition(_Section):
    """What counts as a customer leaving."""

    kind: Literal["all_products_closed", "inactivity"] = "all_products_closed"
    inactivity_days: PositiveInt = 90
    # What shows activity: any transaction, or only those the customer makes (not channel
    # system). Where interest, fees and standing orders are booked every month, nobody is
    # ever inactive by the first measure.
    activity: Literal["any_transaction", "customer_initiated"] = "any_transaction"
    # Inactivity counts as churn only when the balance left behind is below this.
    inactivity_balance_threshold: Annotated[float, Field(ge=0)] = 100.0


class TierRules(_Section):
    """Customer tiers from the banks' plans: core / important / general / new / churned."""

    core_min_assets: Annotated[float, Field(ge=0)] = 100_000.0
    important_min_assets: Annotated[float, Field(ge=0)] = 20_000.0
    important_min_transactions_90d: PositiveInt = 60
    new_customer_days: PositiveInt = 90
    # A customer whose last product closed within this many days is 'churned' (win-back);
    # earlier leavers are no longer customers and get no row.
    churned_lookback_days: PositiveInt = 365


class FeaturesConfig(_Section):
    """Point-in-time features and labels."""

    windows_days: tuple[PositiveInt, ...] = (30, 90, 180, 365)
    horizon_days: PositiveInt = 90
    churn: ChurnDefinition = ChurnDefinition()
    tiers: TierRules = TierRules()
    complaint_sla_hours: Annotated[float, Field(gt=0)] = 24.0
    major_complaint_sla_hours: Annotated[float, Field(gt=0)] = 4.0
    # Salary counts as stopped when none arrived for this many days after a regular payer.
    salary_gap_days: PositiveInt = 40
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"
    duckdb_threads: PositiveInt | None = None
    duckdb_memory_limit: str | None = None

    @field_validator("windows_days")
    @classmethod
    def _windows_sorted_unique(cls, windows: tuple[int, ...]) -> tuple[int, ...]:
        if not windows or list(windows) != sorted(set(windows)):
            raise ValueError("must be a non-empty list of distinct days in increasing order")
        missing = [days for days in (30, 90, 180) if days not in windows]
        if missing or max(windows) > 365:
            raise ValueError(
                "must include 30, 90 and 180 (trend and salary features use "
                "them) and stay within 365 days (the longest history kept)"
            )
        return windows


class LightGBMParams(_Section):
    """LightGBM settings shared by every model (early stopping picks the number of trees)."""

    # Small trees, chosen on an inner validation split of the synthetic bank (training
    # snapshots only, never the test period): 7 leaves beat 15 and 31 (AUC 0.886 vs 0.880,
    # 0.877) and keep per-row explanations cheap.
    num_leaves: Annotated[int, Field(ge=2, le=4096)] = 7
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.03
    max_trees: PositiveInt = 2000
    early_stopping_rounds: PositiveInt = 100
    min_child_samples: PositiveInt = 100
    feature_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    lambda_l2: Annotated[float, Field(ge=0)] = 1.0


class TrainingConfig(_Section):
    """Training, evaluation and the model registry."""

    # Monthly labelled snapshots stacked for training; validation and test follow, each
    # separated by the label horizon so no outcome is seen twice across the splits.
    train_snapshots: Annotated[int, Field(ge=1, le=60)] = 6
    snapshot_spacing_months: Annotated[int, Field(ge=1, le=12)] = 1
    # Weight of positives: sqrt(negatives/positives) keeps rare churners visible without
    # the distortion of full balancing; calibration restores probabilities either way.
    positive_weight: Literal["none", "sqrt_balanced", "balanced"] = "sqrt_balanced"
    # Raw scores to probabilities, fitted on the validation period: bounded isotonic, Platt,
    # or `auto`: whichever has the lower cross-validated log loss inside that period (the
    # choice is logged as `fit.calibration`). Neither ever gives exactly 0 or 1.
    calibration: Literal["auto", "isotonic", "platt"] = "auto"
    lightgbm: LightGBMParams = LightGBMParams()
    seed: int = 42
    # MLflow tracking store; None = $MLFLOW_TRACKING_URI, else sqlite under ./mlruns.
    tracking_uri: str | None = None
    experiment: str = "retain"
    # The challenger is promoted unless worse than the champion by more than this on the
    # primary metric (roc_auc), measured on the same out-of-time test snapshot.
    promotion_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.005
    # The uplift challenger is promoted unless the doubly-robust estimate from the logged
    # campaigns says it keeps fewer customers per 1,000 calls than the champion by more
    # than this (`retain promote retain-uplift-churn --campaign-dir ...`).
    uplift_promotion_tolerance: Annotated[float, Field(ge=0, le=1000)] = 0.0
    # Cross-sell: one LightGBM per product, or one over (customer, product) pairs with the
    # product as a feature. Per product won on rolling origins of the synthetic bank
    # (MAP@7 0.572 vs 0.558 at 20,000 customers, 3 of 3 origins; docs/training.md).
    xsell_model: Literal["single", "per_product"] = "per_product"
    # Keep computed snapshot sets under <output_dir>/snapshots, keyed by the extract's
    # files, the feature settings and code: retraining the same extract skips the build.
    snapshot_cache: bool = True
    # Optuna search of the LightGBM parameters on the validation period, off when 0.
    tuning_seconds: Annotated[float, Field(ge=0, le=86_400)] = 0


class TierPolicy(_Section):
    """How a tier is served: when its churn risk warrants a call, who calls, how soon."""

    # Retention callback when the calibrated 90-day churn probability reaches this.
    churn_threshold: Share
    # `relationship_manager`, `standard_queue`, or `preferred` (the customer's own channel).
    assignee: Literal["relationship_manager", "standard_queue", "preferred"]
    due_hours: Annotated[int, Field(gt=0, le=24 * 60)]
    # Personal service contacts a year the plans promise the tier (0: none promised);
    # `retain report service` measures the share of its customers who got them.
    contacts_per_year: Annotated[int, Field(ge=0, le=52)] = 0


def _default_tiers() -> dict[str, TierPolicy]:
    # The plans: core customers their relationship manager within 24 h, important within
    # 48 h, general through the standard queue or their preferred channel. A lower risk
    # threshold for the more valuable tiers: losing one costs more.
    return {
        "core": TierPolicy(
            churn_threshold=0.10, assignee="relationship_manager", due_hours=24, contacts_per_year=2
        ),
        "important": TierPolicy(
            churn_threshold=0.15, assignee="relationship_manager", due_hours=48, contacts_per_year=4
        ),
        "general": TierPolicy(churn_threshold=0.25, assignee="preferred", due_hours=120),
        "new": TierPolicy(churn_threshold=0.25, assignee="standard_queue", due_hours=72),
        "churned": TierPolicy(churn_threshold=1.0, assignee="standard_queue", due_hours=120),
    }


class ServingConfig(_Section):
    """Next-best-action rules, campaign lists and the CRM hand-off."""

    tiers: dict[str, TierPolicy] = Field(default_factory=_default_tiers)
    # Risk bands on the calibrated churn probability: below the first edge is "low", then
    # "medium", "high", "very high".
    risk_band_edges: tuple[Share, Share, Share] = (0.05, 0.15, 0.30)
    reasons: Annotated[int, Field(ge=0, le=20)] = 5
    # An event older than this is never a reason ("complaint resolved 669 days ago"): the
    # longest look-back window the features read.
    reason_max_age_days: PositiveInt = 365
    top_k_products: Annotated[int, Field(ge=1, le=20)] = 3
    # A cross-sell offer when propensity × product margin reaches this (currency units):
    # roughly what a contact costs; below it an offer is not worth a caller's time.
    offer_min_expected_value: Annotated[float, Field(ge=0)] = 25.0
    # Win-back: a churned customer whose last product closed within this many days and
    # whose value (assets or monthly flow before leaving) is at least this.
    winback_days: PositiveInt = 90
    winback_min_value: Annotated[float, Field(ge=0)] = 5_000.0
    complaint_followup_days: PositiveInt = 7
    welcome_days: PositiveInt = 7
    # No marketing contact (retention, win-back, offer) within this many days of the last
    # callback; service calls owed (complaint follow-up, welcome) are not held back.
    contact_cooldown_days: Annotated[int, Field(ge=0)] = 30
    # Calls a day per channel for campaign lists; the best expected value wins when short.
    # Lists are scheduled over `schedule_days` working days; what does not fit is reported.
    calls_per_day: dict[str, PositiveInt] = Field(
        default_factory=lambda: {
            "relationship_manager": 40,
            "phone": 150,
            "email": 2_000,
            "app": 2_000,
            "in_person": 30,
        }
    )
    schedule_days: Annotated[int, Field(ge=1, le=60)] = 5
    # Random holdout per campaign, not contacted, so the programme's effect can be measured.
    holdout_share: Annotated[float, Field(ge=0, le=0.5)] = 0.10
    # A standing control group: with a programme id the holdout is drawn per programme, so
    # a customer held out stays held out in every campaign of the programme (an effect
    # measured over several cycles); without one, each campaign draws its own.
    programme_id: str | None = None
    # Who gets a retention callback: `risk` (churn probability at or above the tier's
    # threshold), `expected_value` (churn probability × customer value at least
    # `retention_min_expected_value`), or `uplift` (the uplift model `retain-uplift-churn`
    # expects a call to lower the churn probability by at least `uplift_min_reduction`, and
    # the value it keeps, uplift × customer value, pays for the call: at least `call_cost`).
    targeting: Literal["risk", "expected_value", "uplift"] = "risk"
    retention_min_expected_value: Annotated[float, Field(ge=0)] = 1_000.0
    uplift_min_reduction: Annotated[float, Field(ge=0, le=1)] = 0.005
    # What one retention call costs (a caller's time, in the currency of customer value):
    # uplift targeting calls only where the value kept exceeds it.
    call_cost: Annotated[float, Field(ge=0)] = 25.0
    # Share of each campaign's retention calls given to customers drawn at random from
    # those the targeting would not call (serving.exploration): what the next uplift model
    # learns from, and what values other targeting rules. 0 = none.
    exploration_share: Annotated[float, Field(ge=0, lt=1)] = 0.15
    # The API checks the registry this often and swaps in a newly promoted champion
    # (0 = only on POST /admin/reload).
    reload_check_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    # OpenTelemetry spans for the decision routes cost ~0.3 ms a request; off unless a bank
    # exports traces (BentoML's `tracing` settings say where).
    trace_requests: bool = False
    # The durable outbox of callback and offer tasks for the CRM; None =
    # sqlite:///<output_dir>/outbox.db. The deliverer posts them to `crm_webhook_url`,
    # signed with the secret in RETAIN_WEBHOOK_SECRET, retrying with exponential backoff.
    outbox_url: str | None = None
    crm_webhook_url: str | None = None
    webhook_max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    webhook_backoff_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.0
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    # Online feature store that `retain score` publishes to and the API reads by id;
    # None = sqlite:///<output_dir>/online_features.db.
    feature_store_url: str | None = None

    @field_validator("tiers")
    @classmethod
    def _every_tier_has_a_policy(cls, tiers: dict[str, TierPolicy]) -> dict[str, TierPolicy]:
        expected = {"core", "important", "general", "new", "churned"}  # features.schema.TIERS
        if set(tiers) != expected:
            raise ValueError(f"needs exactly the tiers {sorted(expected)}; got {sorted(tiers)}")
        return tiers

    @field_validator("risk_band_edges")
    @classmethod
    def _edges_increase(cls, edges: tuple[float, float, float]) -> tuple[float, float, float]:
        if list(edges) != sorted(set(edges)):
            raise ValueError("must be three increasing probabilities")
        return edges


def resolve_tracking_uri(configured: str | None) -> str:
    """MLflow store: configured URI, else `$MLFLOW_TRACKING_URI`, else SQLite under ./mlruns
    (MLflow 3 refuses a plain-file store by default). Training and serving both use this."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(Path.cwd() / 'mlruns' / 'mlflow.db').resolve()}"


class ProgrammeConfig(_Section):
    """Programme evaluation (`retain evaluate campaign`): the plans' targets."""

    # Annualised churn the plans allow per tier ("high-value" is the `important` tier) and
    # for the whole bank (`overall`); a tier without a target is reported without one.
    churn_targets: dict[str, Share] = Field(
        default_factory=lambda: {"core": 0.03, "important": 0.05, "overall": 0.04}
    )
    # Complaint follow-ups and welcome calls are due within this many days.
    service_days: PositiveInt = 7
    # Callback coverage the plans ask for (share of treatment tasks contacted).
    coverage_target: Share = 0.95
    # The churn difference (treatment − holdout, 90 days, as a positive fraction) the
    # programme expects among listed customers; `retain score` warns when the campaign's
    # holdout is too small to detect it (80 % power, two-sided 5 % level).
    expected_effect: Annotated[float, Field(gt=0, lt=1)] = 0.01
    # Complaint handling (`retain report service`): an answer within this many hours, a
    # mean handling time within this many, major complaints resolved within this many;
    # each "within" standard met when at least `coverage_target` of complaints meet it.
    complaint_response_hours: Annotated[float, Field(gt=0)] = 24.0
    complaint_handling_hours: Annotated[float, Field(gt=0)] = 12.0
    major_resolution_hours: Annotated[float, Field(gt=0)] = 4.0
    # Satisfaction: the share of scores at or above `satisfied_min_score` (1–5) the plans
    # ask for, per tier and `overall`.
    satisfaction_targets: dict[str, Share] = Field(
        default_factory=lambda: {"core": 0.90, "overall": 0.85}
    )
    satisfied_min_score: Annotated[int, Field(ge=1, le=5)] = 4


class RetainConfig(BaseSettings):
    """Everything configurable in Retain."""

    model_config = SettingsConfigDict(
        env_prefix="RETAIN_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("data/synthetic")
    output_dir: Path = Path("outputs")
    synth: SynthConfig = SynthConfig()
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    training: TrainingConfig = TrainingConfig()
    serving: ServingConfig = ServingConfig()
    programme: ProgrammeConfig = ProgrammeConfig()

    # Which TOML file the configuration was read from, so a process that starts others
    # (`retain serve` and its workers) hands them the same file.
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        """The TOML file this configuration was read from; None for defaults and environment
        only."""
        return self._source_file

    @property
    def outbox_url(self) -> str:
        """The outbox in use (configured, else a SQLite file in outputs)."""
        return self.serving.outbox_url or f"sqlite:///{self.output_dir / 'outbox.db'}"

    @property
    def feature_store_url(self) -> str:
        """The online feature store in use (configured, else a SQLite file in outputs)."""
        return (
            self.serving.feature_store_url or f"sqlite:///{self.output_dir / 'online_features.db'}"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_file_in_use()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The file `load_config` was asked to read, for the settings source below while it builds
# the configuration (a context variable: concurrent loads in threads do not mix).
_requested_file: ContextVar[Path | None] = ContextVar("retain_config_file", default=None)


def _toml_file_in_use() -> Path | None:
    candidate = _requested_file.get() or (
        Path(os.environ["RETAIN_CONFIG"]) if os.environ.get("RETAIN_CONFIG") else None
    )
    if candidate is not None:
        return candidate
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_config(config_file: Path | None = None, **overrides: Any) -> RetainConfig:
    """Load and validate the configuration.

    Args:
        config_file: TOML file to read; defaults to `$RETAIN_CONFIG`, else `./retain.toml`
            if present, else none (pure defaults).
        **overrides: top-level values that win over file and environment (used by the CLI).

    Returns:
        The frozen, validated configuration; `source_file` says which file it read.

    Raises:
        ConfigError: naming the key, the value given and what is allowed.
    """
    if config_file is not None and not config_file.exists():
        raise ConfigError(f"config file {config_file} does not exist")
    token = _requested_file.set(config_file)
    try:
        source = _toml_file_in_use()
        config = RetainConfig(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {_toml_file_in_use()} is not valid TOML: {exc}") from None
    finally:
        _requested_file.reset(token)
    config._source_file = source.resolve() if source is not None else None
    return config


def _describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = "RETAIN_" + "__".join(str(p) for p in error["loc"] if isinstance(p, str))
        if error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
            continue
        lines.append(
            f"  {key} = {error.get('input')!r}: {error['msg']} "
            f"(set as {key} in TOML or {env_name.upper()})"
        )
    return "\n".join(lines)


def with_overrides(config: RetainConfig, section: str, **values: Any) -> RetainConfig:
    """A copy of `config` with some keys of one section replaced (None = keep), validated.

    Raises:
        ConfigError: an override is not allowed, named as `section.key`.
    """
    changes = {key: value for key, value in values.items() if value is not None}
    if not changes:
        return config
    current = getattr(config, section)
    try:
        replaced = type(current).model_validate(current.model_dump() | changes)
    except ValidationError as exc:
        message = _describe_validation_error(exc).replace("  ", f"  {section}.", 1)
        raise ConfigError(message) from None
    return config.model_copy(update={section: replaced})
