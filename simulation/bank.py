"""The synthetic bank: a simulated retail bank that writes the raw tables of the data contract.

`generate_bank` simulates customers month by month and writes one Parquet file per contract
table (`features.schema.TABLES`) plus the manifest, exactly as a bank's extract would arrive.
Beside them, `_truth/` holds what no bank can give: the generator's own probability, month by
month, that each customer leaves within 90 days or opens each product within 90 days. Models
are judged against labels from the tables; the truth shows how much signal there was to find.

How the bank behaves (so that there is something real to learn):

* every customer has a latent engagement that drifts around a personal mean, falls after
  complaints (most after slow or unresolved ones) and rises a little after good callbacks;
* each month a customer who is not leaving yet decides to leave with a hazard that grows
  with low engagement, recent complaint grievance, short tenure and few products; three in
  four leavers first spend a 2-4 month countdown showing warning signs (salary redirected,
  money moved to another bank, fewer logins and purchases, products closed one by one);
  the rest close everything in the month they decide;
* products are adopted with monthly probabilities set by life stage, income and risk
  appetite; a product riskier than the customer's appetite is rarely taken.

The simulation is vectorised over customers and loops only over months; the big tables are
written month by month so memory stays bounded. State is mutated in place month by month:
copying the customer-by-product arrays every month would double peak memory for nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.names import TRUTH_ADOPTION, TRUTH_ADOPTION_PREFIX, TRUTH_CALLS, TRUTH_CHURN, TRUTH_DIR
from features.schema import (
    ARROW_TYPES,
    BALANCES,
    CONTACT_CHANNELS,
    COUNTERPARTY_TYPES,
    CUSTOMERS,
    DIRECTIONS,
    GENDERS,
    HOLDINGS,
    INCOME_BANDS,
    INTERACTION_KINDS,
    INTERACTION_OUTCOMES,
    INTERACTIONS,
    MANIFEST_FILE,
    PRODUCT_FAMILIES,
    PRODUCTS,
    SEGMENTS,
    TABLES,
    TRANSACTION_CHANNELS,
    TRANSACTIONS,
    Table,
)

SOURCE = "retain synthetic bank"

CUSTOMER_ID = CUSTOMERS.primary_key[0]
PRODUCT_ID = PRODUCTS.primary_key[0]


@dataclass(frozen=True)
class ProductSpec:
    """One product of the synthetic bank's catalogue."""

    product_id: str
    family: str
    risk_level: int
    name: str
    min_age: int
    margin: float


CATALOGUE: tuple[ProductSpec, ...] = (
    ProductSpec("P01", "current_account", 1, "Current account", 18, 60.0),
    ProductSpec("P02", "savings", 1, "Savings account", 18, 120.0),
    ProductSpec("P03", "time_deposit", 1, "Time deposit", 18, 200.0),
    ProductSpec("P04", "credit_card", 2, "Classic credit card", 18, 180.0),
    ProductSpec("P05", "credit_card", 2, "Gold credit card", 21, 350.0),
    ProductSpec("P06", "personal_loan", 3, "Personal loan", 18, 600.0),
    ProductSpec("P07", "mortgage", 3, "Mortgage", 21, 2500.0),
    ProductSpec("P08", "funds", 3, "Bond fund", 18, 400.0),
    ProductSpec("P09", "funds", 5, "Equity fund", 18, 500.0),
    ProductSpec("P10", "insurance", 1, "Home insurance", 18, 250.0),
    ProductSpec("P11", "insurance", 2, "Life insurance", 18, 400.0),
    ProductSpec("P12", "pension", 3, "Pension plan", 18, 900.0),
)
(
    CURRENT,
    SAVINGS,
    TIME_DEPOSIT,
    CLASSIC_CARD,
    GOLD_CARD,
    PERSONAL_LOAN,
    MORTGAGE,
    BOND_FUND,
    EQUITY_FUND,
    HOME_INSURANCE,
    LIFE_INSURANCE,
    PENSION_PLAN,
) = range(len(CATALOGUE))
N_PRODUCTS = len(CATALOGUE)
ASSET_PRODUCTS = (CURRENT, SAVINGS, TIME_DEPOSIT, BOND_FUND, EQUITY_FUND, PENSION_PLAN)
DEBT_PRODUCTS = (PERSONAL_LOAN, MORTGAGE)
SNAPSHOT_PRODUCTS = ASSET_PRODUCTS + DEBT_PRODUCTS
CARD_PRODUCTS = (CLASSIC_CARD, GOLD_CARD)
PRODUCT_RISK = np.array([spec.risk_level for spec in CATALOGUE])
PRODUCT_MIN_AGE = np.array([spec.min_age for spec in CATALOGUE])

REGIONS = (
    "Capital",
    "North",
    "North-East",
    "East",
    "South-East",
    "South",
    "South-West",
    "West",
    "North-West",
    "Central",
    "Lakes",
    "Highlands",
)
REGION_WEIGHTS = (0.2, 0.08, 0.07, 0.08, 0.09, 0.08, 0.07, 0.08, 0.06, 0.1, 0.05, 0.04)
SPENDING_CATEGORIES = (
    "groceries",
    "restaurants",
    "shopping",
    "fuel",
    "transport",
    "entertainment",
    "health",
    "travel",
)
SPENDING_WEIGHTS = (0.3, 0.15, 0.2, 0.1, 0.08, 0.07, 0.05, 0.05)
BILL_CATEGORIES = ("utilities", "telecom", "rent", "insurance_premium")
# Every category a transaction can carry; rows hold an index into this tuple.
CATEGORIES = (
    SPENDING_CATEGORIES
    + BILL_CATEGORIES
    + (
        "cash",
        "income",
        "transfer",
        "fees",
        "loan",
        "interest",
    )
)

# The leaving process. Three in four leavers show warning signs for a countdown of 2-4
# months before closing; the rest close everything in the month they decide.
WARNED_SHARE = 0.75
COUNTDOWN_MONTHS = np.array([2, 3, 4])
COUNTDOWN_WEIGHTS = np.array([0.35, 0.4, 0.25])
SALARY_REDIRECT_SHARE = 0.85
JOB_CHANGE_RATE = 0.0015  # monthly chance a staying customer's salary moves to another bank
CHURN_HORIZON_DAYS = 90
ADOPTION_HORIZON_MONTHS = 3
# Intercept of the monthly churn hazard's logit, tuned for an annual churn near 10 %.
HAZARD_INTERCEPT = -5.4
ARRIVAL_RATE = 0.01  # new customers a month, as a share of the customer base
ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group at most, so readers can parallelise

# How a customer responds to a retention call (see `_call_response`). Real programmes find
# that many of the riskiest customers leave whatever is done, that complaint-driven leavers
# can be won back, and that a few customers react badly to being called.
CALL_EFFECT_MONTHS = 3  # a call changes the hazard and the adoption for this long
SAVE_SHARE_AGGRIEVED = 0.6  # leavers with a fresh grievance that a call turns round
SAVE_SHARE_ATTACHED = 0.5  # leavers whose salary or pension is still paid in here
SAVE_SHARE_OTHER = 0.0  # other leavers (salary gone, money moved): lost causes
PERSUADED_HAZARD = 0.25  # hazard factor for persuadable stayers and saved leavers
SLEEPING_DOG_HAZARD = 3.0  # hazard factor for customers a call annoys
ORDINARY_HAZARD = 0.9  # everybody else: a small reassurance
CALLED_ADOPTION = 1.5  # adoption factor after a call (an offer was made) ...
SLEEPING_DOG_ADOPTION = 0.5  # ... and after an unwelcome one
RESPONSES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")

_SECOND_US = 1_000_000
_HOUR_US = 3_600 * _SECOND_US
_DAY_US = 24 * _HOUR_US
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = _DAYS_PER_YEAR / 12
_NO_TIME = np.iinfo(np.int64).max  # "not closed" in the closing-time matrix
_ACCOUNT_DIGITS = 10


@dataclass(frozen=True)
class SynthSummary:
    """What one run of the synthetic bank produced.

    Attributes:
        row_counts: Rows written per contract table, by table name.
        extracted_at: End of the last simulated month; nothing is timestamped after it.
        annual_churn_rate: Customers who closed all their holdings during the simulation per
            customer-year at risk.
        seconds: Wall-clock seconds the generation took.
    """

    row_counts: Mapping[str, int]
    extracted_at: dt.datetime
    annual_churn_rate: float
    seconds: float


@dataclass(frozen=True)
class _Calendar:
    """Month boundaries of the simulation, with spare months after it for countdowns."""

    month_start_us: np.ndarray  # int64 microseconds since the epoch, months + spare + 1
    month_start_day: np.ndarray  # int32 days since the epoch
    months: int

    @property
    def extracted_us(self) -> int:
        return int(self.month_start_us[self.months]) - _SECOND_US

    def month_length_us(self, month: np.ndarray | int) -> np.ndarray:
        return self.month_start_us[np.asarray(month) + 1] - self.month_start_us[month]

    def close_time_us(self, month: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Uniform times in the given months, never in a month's last second.

        The last second is left out so the final month's events stay at or before
        extracted_at, one second before the next month starts.
        """
        span = self.month_length_us(month) - _SECOND_US
        return self.month_start_us[month] + _whole_seconds(uniform * span)


@dataclass(frozen=True)
class _Population:
    """Static attributes of every customer the bank will have, in customer-id order."""

    birth_day: np.ndarray  # int32 days since the epoch
    joined_day: np.ndarray  # int32 days since the epoch
    active_from_us: np.ndarray  # when the current account was opened, on joined_day
    join_month: np.ndarray  # simulated month of arrival, -1 for customers before the start
    gender: np.ndarray  # index into GENDERS
    region: np.ndarray  # index into REGIONS
    income: np.ndarray  # monthly net income
    income_band: np.ndarray  # index into INCOME_BANDS
    segment: np.ndarray  # index into SEGMENTS
    risk_appetite: np.ndarray  # 1..5
    preferred_channel: np.ndarray  # index into CONTACT_CHANNELS
    do_not_contact: np.ndarray
    digital: np.ndarray  # 0..1: how much the customer banks in the app rather than a branch
    activity: np.ndarray  # spending activity relative to the bank's average
    engagement_mean: np.ndarray  # the level engagement returns to
    income_kind: np.ndarray  # 0 no income paid in here, 1 salary, 2 pension
    pay_day: np.ndarray  # day of month the salary or pension arrives
    n_bills: np.ndarray  # direct debits a month
    spend_ratio: np.ndarray  # share of income spent by card and cash
    monthly_fee: np.ndarray

    @property
    def size(self) -> int:
        return self.birth_day.size


@dataclass
class _BankState:
    """What changes month by month, for every customer and (customer, product)."""

    held: np.ndarray  # bool [customers, products]
    opened_us: np.ndarray  # int64 [customers, products], valid where held
    account_no: np.ndarray  # int64 [customers, products], valid where held
    balance: np.ndarray  # float64: asset balance, or debt outstanding on loans
    terms: np.ndarray  # float64: card limit, insurance premium or monthly loan repayment
    engagement: np.ndarray  # latent engagement / satisfaction, around engagement_mean
    grievance: np.ndarray  # decaying weight of recent complaints, slow and unresolved ones most
    leaving: np.ndarray  # in the pre-churn countdown
    close_month: np.ndarray  # month all holdings close, -1 if not leaving
    churn_us: np.ndarray  # when the last holding closes, valid where close_month >= 0
    redirected: np.ndarray  # salary or pension now paid into another bank
    churned: np.ndarray
    next_account_no: int
    # Effect of the last retention call: factors on the hazard and on adoption, in force
    # while the month index is below `call_until`.
    call_until: np.ndarray
    call_hazard: np.ndarray
    call_adoption: np.ndarray


def generate_bank(
    out_dir: Path,
    n_customers: int = 5000,
    months: int = 24,
    seed: int = 42,
    start: dt.date = dt.date(2023, 1, 1),
    transactions_per_month: float = 12.0,
    progress: bool = False,
    calls: Mapping[dt.date, Iterable[str]] | None = None,
) -> SynthSummary:
    """Simulate a retail bank and write its raw tables, manifest and ground truth.

    Args:
        out_dir: Folder to write into (created if missing); existing files are replaced.
        n_customers: Customers in the customers table: those already with the bank at
            `start` plus about 1 % of them arriving every month.
        months: Simulated months; the extract ends with the last one.
        seed: Seed of the random generator; the same arguments give the same tables.
        start: First day of the first simulated month.
        transactions_per_month: Average card and cash spending transactions per customer a
            month; salary, bills, fees and transfers come on top.
        progress: Show a progress bar over the months.
        calls: Retention calls that reached the customer, by campaign day (a month's
            first day): they change the customers' churn hazard and adoption from that
            month on (`_call_response`). The months before the first call are the same
            as without calls, so a campaign scored on the bank without them sees the
            same customers; what happens after shows the calls' effect.

    Returns:
        Row counts, extraction time, realised annual churn rate and elapsed time. Written:
        one Parquet file per contract table, `manifest.json`, `_truth/churn.parquet` (with
        each customer's 90-day churn probability without a call and if called that month,
        and how they respond to a call), `_truth/adoption.parquet` and, with calls,
        `_truth/calls.parquet` (who was called when, and whether a leaver was saved).

    Raises:
        ValueError: If an argument is out of range or `start` is not a month's first day.
    """
    began = time.perf_counter()
    if n_customers < 1 or months < 1:
        raise ValueError(f"need n_customers >= 1 and months >= 1, got {n_customers}, {months}")
    if start.day != 1:
        raise ValueError(f"start must be the first day of a month, got {start}")
    if transactions_per_month < 0:
        raise ValueError(f"transactions_per_month must be >= 0, got {transactions_per_month}")
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)

    rng = np.random.Generator(np.random.PCG64(seed))
    calendar = _calendar(start, months)
    population = _draw_population(rng, n_customers, calendar)
    state = _initial_state(rng, population, calendar)
    customer_ids = _id_strings("C", np.arange(1, population.size + 1), width=7)
    # Current accounts are numbered by customer (see _initial_state).
    current_account_ids = _id_strings("A", np.arange(1, population.size + 1), width=_ACCOUNT_DIGITS)
    extracted_at = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=calendar.extracted_us)
    calls_by_month = _calls_by_month(calls or {}, calendar, population.size)
    # Its own generator: the bank's draws stay those of a run without calls until a call.
    call_rng = np.random.Generator(np.random.PCG64([seed, 1]))

    churners = 0
    customer_months = 0
    with _ParquetSinks(out_dir) as sinks:
        sinks.write(CUSTOMERS.name, _customers_table(population, customer_ids))
        sinks.write(PRODUCTS.name, _products_table())
        with _month_progress(months, progress) as advance:
            for month in range(months):
                at_risk, closed = _simulate_month(
                    rng,
                    month,
                    population,
                    state,
                    calendar,
                    customer_ids,
                    current_account_ids,
                    transactions_per_month,
                    sinks,
                    calls_by_month.get(month),
                    call_rng,
                )
                customer_months += at_risk
                churners += closed
                advance()
        sinks.write(HOLDINGS.name, _open_holdings_table(state, customer_ids, current_account_ids))
        row_counts = {table.name: sinks.rows.get(table.name, 0) for table in TABLES}

    manifest = {
        "extracted_at": extracted_at.isoformat(),
        "source": SOURCE,
        "seed": seed,
        "n_customers": n_customers,
        "months": months,
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return SynthSummary(
        row_counts=row_counts,
        extracted_at=extracted_at,
        annual_churn_rate=12.0 * churners / max(customer_months, 1),
        seconds=time.perf_counter() - began,
    )


# ---------------------------------------------------------------------------- population


def _calendar(start: dt.date, months: int) -> _Calendar:
    # Spare months beyond the extract: countdowns and 90-day horizons reach past its end.
    spare = int(COUNTDOWN_MONTHS.max()) + ADOPTION_HORIZON_MONTHS + 2
    first = np.datetime64(start, "M")
    starts = (first + np.arange(months + spare + 1)).astype("datetime64[D]")
    days = starts.astype(np.int64)
    return _Calendar(
        month_start_us=days * _DAY_US,
        month_start_day=days.astype(np.int32),
        months=months,
    )


def _draw_population(
    rng: np.random.Generator, n_customers: int, calendar: _Calendar
) -> _Population:
    months = calendar.months
    start_day = int(calendar.month_start_day[0])
    n_base = max(1, round(n_customers / (1 + ARRIVAL_RATE * months)))
    n_new = n_customers - n_base

    # Ages and join dates first: customer ids are handed out in joining order.
    base_age = 18 + 67 * rng.beta(1.7, 2.2, n_base)
    tenure_years = np.minimum.reduce(
        [rng.exponential(8.0, n_base), np.full(n_base, 30.0), base_age - 18]
    )
    base_joined = start_day - np.maximum(2, np.round(tenure_years * _DAYS_PER_YEAR))
    base_birth = start_day - np.round(base_age * _DAYS_PER_YEAR)
    new_month = rng.integers(0, months, n_new)
    month_days = np.diff(calendar.month_start_day)[new_month]
    new_joined = calendar.month_start_day[new_month] + (rng.random(n_new) * month_days)
    new_joined = np.floor(new_joined)
    new_age = 18 + 60 * rng.beta(1.3, 3.0, n_new)
    new_birth = new_joined - np.round(new_age * _DAYS_PER_YEAR)

    joined_day = np.concatenate([base_joined, new_joined]).astype(np.int32)
    order = np.argsort(joined_day, kind="stable")
    joined_day = joined_day[order]
    birth_day = np.concatenate([base_birth, new_birth]).astype(np.int32)[order]
    join_month = np.concatenate([np.full(n_base, -1), new_month])[order].astype(np.int16)
    n = n_customers
    active_from_us = joined_day.astype(np.int64) * _DAY_US + _whole_seconds(
        (8 + 10 * rng.random(n)) * _HOUR_US
    )
    # Age at the start (negative for nobody: arrivals are adults when they join).
    age = (start_day - birth_day) / _DAYS_PER_YEAR

    gender = rng.choice(len(GENDERS), n, p=[0.49, 0.49, 0.02]).astype(np.int8)
    region = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS).astype(np.int8)
    career = np.clip(1 - ((age - 48) / 30) ** 2, -1, 1)
    log_income = np.log(1800) + 0.4 * career + 0.15 * (region == 0) + rng.normal(0, 0.45, n)
    income = np.exp(log_income) * np.where(age >= 65, 0.75, 1.0)
    income_band = np.searchsorted([1500, 2200, 3200, 5000], income, side="right").astype(np.int8)

    segment = np.where(income_band >= 3, 1, 0)
    segment = np.where(income >= 9000, 2, segment)
    small_business = (rng.random(n) < 0.07) & (age >= 25) & (age < 70)
    segment = np.where(small_business, 3, segment).astype(np.int8)

    appetite = 2.6 - 0.03 * (age - 45) + 0.35 * (income_band - 2) + rng.normal(0, 0.9, n)
    risk_appetite = np.clip(np.round(appetite), 1, 5).astype(np.int8)
    digital = _sigmoid(2.0 - 0.07 * (age - 30) + rng.normal(0, 0.8, n))

    # Digital customers want the app or e-mail; the others a call, the oldest a visit.
    prefers_digital = rng.random(n) < digital
    channel_draw = rng.random(n)
    in_person_share = np.clip(0.15 + 0.01 * (age - 40), 0.1, 0.5)
    preferred = np.where(
        prefers_digital,
        np.where(
            channel_draw < 0.6, CONTACT_CHANNELS.index("app"), CONTACT_CHANNELS.index("email")
        ),
        np.where(
            channel_draw < in_person_share,
            CONTACT_CHANNELS.index("in_person"),
            CONTACT_CHANNELS.index("phone"),
        ),
    ).astype(np.int8)
    do_not_contact = rng.random(n) < 0.03

    activity = rng.lognormal(0, 0.35, n) * np.where(age < 40, 1.1, 1.0)
    engagement_mean = rng.normal(0, 0.5, n)
    pensioner = age >= 65
    income_kind = np.where(
        pensioner, np.where(rng.random(n) < 0.9, 2, 0), np.where(rng.random(n) < 0.65, 1, 0)
    ).astype(np.int8)
    pay_day = np.where(income_kind == 2, rng.integers(1, 6, n), rng.integers(25, 29, n))
    n_bills = rng.choice(4, n, p=[0.15, 0.35, 0.35, 0.15]).astype(np.int8)
    spend_ratio = rng.uniform(0.6, 0.85, n)
    monthly_fee = np.array([4.5, 8.0, 0.0, 12.0])[segment]

    return _Population(
        birth_day=birth_day,
        joined_day=joined_day,
        active_from_us=active_from_us,
        join_month=join_month,
        gender=gender,
        region=region,
        income=income,
        income_band=income_band,
        segment=segment,
        risk_appetite=risk_appetite,
        preferred_channel=preferred,
        do_not_contact=do_not_contact,
        digital=digital,
        activity=activity,
        engagement_mean=engagement_mean,
        income_kind=income_kind,
        pay_day=pay_day.astype(np.int8),
        n_bills=n_bills,
        spend_ratio=spend_ratio,
        monthly_fee=monthly_fee,
    )


def _initial_state(
    rng: np.random.Generator, population: _Population, calendar: _Calendar
) -> _BankState:
    """Portfolios, balances and engagement of the customers already there at the start."""
    n = population.size
    start_us = int(calendar.month_start_us[0])
    start_day = int(calendar.month_start_day[0])
    base = population.join_month < 0
    age = (start_day - population.birth_day) / _DAYS_PER_YEAR
    tenure_months = (start_day - population.joined_day) / _DAYS_PER_MONTH
    band = population.income_band - 2.0
    appetite = population.risk_appetite
    engagement = population.engagement_mean + rng.normal(0, 0.55, n)
    log_activity = np.log(population.activity)

    # Chance of holding each product at the start, by life stage, income and appetite;
    # later products depend on earlier ones (time deposits and funds on savings, insurance
    # on the mortgage), hence the fixed order.
    held = np.zeros((n, N_PRODUCTS), dtype=bool)
    held[:, CURRENT] = base
    chance = (
        (SAVINGS, lambda: _sigmoid(-0.4 + 0.45 * band + 0.3 * engagement)),
        (CLASSIC_CARD, lambda: _sigmoid(-0.7 + 0.9 * log_activity + 0.3 * band - 1.0 * (age > 70))),
        (GOLD_CARD, lambda: _sigmoid(-3.4 + 0.9 * band + 0.6 * log_activity)),
        (PERSONAL_LOAN, lambda: _sigmoid(-2.2 - 0.25 * band - 0.04 * np.abs(age - 38))),
        (MORTGAGE, lambda: _sigmoid(-1.8 + 0.6 * band - 0.004 * (age - 45) ** 2)),
        (
            TIME_DEPOSIT,
            lambda: _sigmoid(-3.3 + 0.06 * (age - 45) + 0.4 * band + 0.9 * held[:, SAVINGS]),
        ),
        (
            BOND_FUND,
            lambda: _sigmoid(-3.0 + 0.5 * band + 0.5 * (appetite - 3) + 0.8 * held[:, SAVINGS]),
        ),
        (EQUITY_FUND, lambda: _sigmoid(-3.4 + 0.5 * band + 1.2 * (appetite - 3.5))),
        (HOME_INSURANCE, lambda: _sigmoid(-3.0 + 2.5 * held[:, MORTGAGE])),
        (
            LIFE_INSURANCE,
            lambda: _sigmoid(-3.0 + 1.5 * held[:, MORTGAGE] - 0.002 * (age - 45) ** 2),
        ),
        (PENSION_PLAN, lambda: _sigmoid(-2.2 + 0.5 * band - 0.006 * (age - 48) ** 2)),
    )
    for product, probability in chance:
        p = probability() * _suitability(appetite, product) * (age >= PRODUCT_MIN_AGE[product])
        held[:, product] = base & (rng.random(n) < p)

    # Opening dates: anywhere in the relationship, within a product's usual lifetime.
    lookback_months = np.array([0, 600, 36, 600, 600, 84, 300, 120, 120, 300, 240, 600])
    opened_us = np.zeros((n, N_PRODUCTS), dtype=np.int64)
    opened_us[:, CURRENT] = population.active_from_us
    for product in range(1, N_PRODUCTS):
        earliest = np.maximum(
            population.active_from_us + _HOUR_US,
            start_us - int(lookback_months[product] * _DAYS_PER_MONTH * _DAY_US),
        )
        earliest = np.minimum(earliest, start_us - _HOUR_US)
        opened_us[:, product] = earliest + _whole_seconds(rng.random(n) * (start_us - earliest))
    opened_us[~held] = 0

    customer, product = np.nonzero(held)
    elapsed = (start_us - opened_us[customer, product]) / (_DAYS_PER_MONTH * _DAY_US)
    balance_rows, terms_rows = _opening_terms(rng, population, customer, product, elapsed)
    balance = np.zeros((n, N_PRODUCTS))
    terms = np.zeros((n, N_PRODUCTS))
    balance[customer, product] = balance_rows
    terms[customer, product] = terms_rows
    # Engaged customers keep more on their current account.
    balance[:, CURRENT] *= np.exp(0.3 * engagement)
    account_no = np.full((n, N_PRODUCTS), -1, dtype=np.int64)
    # Current accounts are numbered by customer, so account 1 belongs to customer 1; every
    # other account gets the next free number when it is opened.
    account_no[:, CURRENT] = np.arange(1, n + 1)
    other = np.nonzero(held[:, 1:])
    account_no[other[0], other[1] + 1] = n + 1 + np.arange(other[0].size)

    state = _BankState(
        held=held,
        opened_us=opened_us,
        account_no=account_no,
        balance=balance,
        terms=terms,
        engagement=engagement,
        grievance=np.zeros(n),
        leaving=np.zeros(n, dtype=bool),
        close_month=np.full(n, -1, dtype=np.int32),
        churn_us=np.zeros(n, dtype=np.int64),
        redirected=np.zeros(n, dtype=bool),
        churned=np.zeros(n, dtype=bool),
        next_account_no=n + 1 + other[0].size,
        call_until=np.full(n, -1, dtype=np.int32),
        call_hazard=np.ones(n),
        call_adoption=np.ones(n),
    )
    _seed_countdowns(rng, population, state, calendar, age, tenure_months, base)
    return state


def _seed_countdowns(
    rng: np.random.Generator,
    population: _Population,
    state: _BankState,
    calendar: _Calendar,
    age: np.ndarray,
    tenure_months: np.ndarray,
    base: np.ndarray,
) -> None:
    """Put the customers who decided to leave in the months before the start in countdown.

    Without them the first months would show only leavers without warning signs.
    """
    n = population.size
    hazard = _churn_hazard(population, state, np.arange(n), age, tenure_months)
    # Decided j months before the start and still counting down: countdown length >= j.
    lags = np.arange(1, COUNTDOWN_MONTHS.max() + 1)
    still_counting = np.array(
        [(COUNTDOWN_WEIGHTS * (lag <= COUNTDOWN_MONTHS)).sum() for lag in lags]
    )
    lag_chance = hazard[:, None] * WARNED_SHARE * still_counting[None, :]
    cumulative = np.cumsum(lag_chance, axis=1)
    draw = rng.random(n)
    decided = base & (draw < cumulative[:, -1])
    lag = 1 + (draw[:, None] >= cumulative).sum(axis=1)
    length_draw = rng.random(n)
    length = np.zeros(n, dtype=np.int64)
    for j in lags:
        weights = COUNTDOWN_WEIGHTS * (j <= COUNTDOWN_MONTHS)
        cdf = np.cumsum(weights / weights.sum())
        picked = COUNTDOWN_MONTHS[
            np.minimum(np.searchsorted(cdf, length_draw, side="right"), len(cdf) - 1)
        ]
        length = np.where(lag == j, picked, length)
    close_month = np.where(decided, length - lag, -1)
    redirect = rng.random(n) < SALARY_REDIRECT_SHARE
    close_uniform = rng.random(n)
    state.leaving[:] = decided
    state.close_month[:] = close_month
    state.redirected[:] = decided & redirect
    state.churn_us[decided] = calendar.close_time_us(close_month[decided], close_uniform[decided])
    # Money has been leaving for `lag` months already.
    drained = np.where(decided, 0.6**lag, 1.0)
    state.balance[:, CURRENT] *= drained
    state.balance[:, SAVINGS] *= drained


def _opening_terms(
    rng: np.random.Generator,
    population: _Population,
    customer: np.ndarray,
    product: np.ndarray,
    elapsed_months: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Balance and terms of holdings opened `elapsed_months` ago, one per (customer, product).

    Returns:
        The balance (assets, or debt outstanding for loans) and the terms (card limit,
        insurance premium or monthly repayment) of each holding.
    """
    rows = customer.size
    income = population.income[customer]
    elapsed = np.broadcast_to(np.asarray(elapsed_months, dtype=float), (rows,))
    years = elapsed / 12
    lognormal = rng.lognormal(0, 1, rows)
    uniform = rng.random(rows)
    term_draw = rng.random(rows)
    balance = np.zeros(rows)
    terms = np.zeros(rows)

    def where(p: int) -> np.ndarray:
        return product == p

    m = where(CURRENT)
    balance[m] = income[m] * 2.0 * lognormal[m] ** 0.7
    m = where(SAVINGS)
    balance[m] = income[m] * np.minimum(0.5 + years[m], 4) * lognormal[m] ** 0.9
    m = where(TIME_DEPOSIT)
    balance[m] = income[m] * 5 * lognormal[m] ** 0.6
    for p, scale in ((BOND_FUND, 3.0), (EQUITY_FUND, 3.0)):
        m = where(p)
        balance[m] = income[m] * scale * np.minimum(0.5 + years[m] / 3, 2) * lognormal[m] ** 0.8
    m = where(PENSION_PLAN)
    balance[m] = income[m] * (0.3 + 0.6 * years[m]) * lognormal[m] ** 0.3
    m = where(CLASSIC_CARD)
    terms[m] = np.round(income[m] * (1 + 2 * uniform[m]), -2)
    m = where(GOLD_CARD)
    terms[m] = np.round(income[m] * (3 + 3 * uniform[m]), -2)
    m = where(HOME_INSURANCE)
    terms[m] = np.round(150 + 450 * uniform[m], 2)
    m = where(LIFE_INSURANCE)
    terms[m] = np.round(200 + 1000 * uniform[m], 2)
    for p, principal_scale, shortest, longest in (
        (PERSONAL_LOAN, (2.0, 8.0), 24, 84),
        (MORTGAGE, (30.0, 30.0), 240, 360),  # 2.5 to 5 years of income
    ):
        m = where(p)
        principal = income[m] * (principal_scale[0] + principal_scale[1] * uniform[m])
        # A loan opened long ago still runs: its term covers the months since opening.
        term = np.maximum(shortest + (longest - shortest) * term_draw[m], elapsed[m] + 3)
        terms[m] = principal / term
        balance[m] = principal * (1 - elapsed[m] / term)
    return np.round(balance, 2), np.round(terms, 2)


# ------------------------------------------------------------------ behaviour of a month


def _churn_hazard(
    population: _Population,
    state: _BankState,
    who: np.ndarray,
    age: np.ndarray,
    tenure_months: np.ndarray,
) -> np.ndarray:
    """Monthly probability that each customer in `who` decides to leave, from their state."""
    n_products = state.held[who].sum(axis=1)
    logit = (
        HAZARD_INTERCEPT
        - 0.8 * state.engagement[who]
        + 0.9 * np.minimum(state.grievance[who], 3.0)
        + 0.9 * (tenure_months[who] < 12)
        + 0.4 * (tenure_months[who] < 36)
        - 0.3 * np.clip(n_products - 2, -1, 4)
        + 0.35 * (age[who] < 30)
        - 0.35 * (age[who] >= 65)
        + 0.3 * ((population.income_kind[who] == 0) | state.redirected[who])
    )
    return _sigmoid(logit)


def _adoption_probabilities(
    population: _Population, state: _BankState, who: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Monthly probability that each customer in `who` opens each product they do not hold.

    Returns:
        An array [len(who), products]: the probability, 0 for leaving customers, NaN where
        the product is held.
    """
    age = age[who]
    band = population.income_band[who] - 2.0
    appetite = population.risk_appetite[who]
    held = state.held[who]
    activity = population.activity[who]
    income = population.income[who]
    cash_cover = state.balance[who, CURRENT] / income
    income_factor = 0.5 + 0.25 * (band + 2)

    p = np.zeros((who.size, N_PRODUCTS))
    p[:, SAVINGS] = 0.010 * income_factor
    p[:, TIME_DEPOSIT] = 0.003 * (1 + 2 * (age >= 55)) * income_factor * (1 + held[:, SAVINGS])
    p[:, CLASSIC_CARD] = 0.008 * activity**2 * (age < 70) * (1 - 0.8 * held[:, GOLD_CARD])
    p[:, GOLD_CARD] = (
        0.002 * activity**2 * (1 + 3 * (band >= 1)) * (1 - 0.7 * held[:, CLASSIC_CARD])
    )
    p[:, PERSONAL_LOAN] = 0.004 * (1 + 2 * (cash_cover < 0.5)) * ((age >= 22) & (age < 60))
    # Mortgages around the buying age, for middle incomes and above.
    buying_age = np.exp(-(((age - 36) / 8) ** 2))
    p[:, MORTGAGE] = 0.008 * buying_age * np.where(band >= 0, 1 + 0.5 * band, 0.1)
    p[:, BOND_FUND] = 0.003 * (1 + held[:, SAVINGS]) * (appetite >= 3) * income_factor
    p[:, EQUITY_FUND] = 0.002 * np.where(appetite >= 4, 4.0, 0.3) * income_factor
    p[:, HOME_INSURANCE] = 0.0015 * (1 + 12 * held[:, MORTGAGE])
    p[:, LIFE_INSURANCE] = 0.0015 * (1 + 4 * held[:, MORTGAGE]) * ((age >= 30) & (age < 60))
    p[:, PENSION_PLAN] = 0.003 * (1 + 2 * ((age >= 35) & (age < 60))) * income_factor
    p *= np.exp(0.3 * state.engagement[who])[:, None]
    p *= _suitability(appetite[:, None], np.arange(N_PRODUCTS)[None, :])
    p *= age[:, None] >= PRODUCT_MIN_AGE[None, :]
    p = np.clip(p, 0.0, 0.15)
    p[state.leaving[who]] = 0.0
    p[held] = np.nan
    return p


def _suitability(appetite: np.ndarray, product: np.ndarray | int) -> np.ndarray:
    """Factor on the chance of taking a product: products above the appetite are rarely sold."""
    return np.where(PRODUCT_RISK[product] > appetite, 0.05, 1.0)


# Monthly chance that a customer who is not leaving closes a product (card cancelled,
# savings emptied, fund sold), so that one closed product is no proof of churn.
_ROUTINE_CLOSE = np.array(
    [0.0, 0.002, 0.006, 0.004, 0.003, 0.003, 0.001, 0.004, 0.005, 0.002, 0.002, 0.001]
)
_COUNTDOWN_CLOSE = 0.35  # monthly chance a leaver closes each non-current product


def _churn_probability_90d(calendar: _Calendar, month: int, hazard: np.ndarray) -> np.ndarray:
    """P(all holdings closed within 90 days of the month's start), for customers not leaving.

    The monthly hazard is held constant. Deciding in month t+j closes, with probability
    1 - WARNED_SHARE, at a uniform time in that month, and otherwise at a uniform time in
    month t+j+L for a countdown L; only closes before the cut-off count.
    """
    cutoff = calendar.month_start_us[month] + CHURN_HORIZON_DAYS * _DAY_US
    later = month + np.arange(len(calendar.month_start_us) - month - 1)
    span = calendar.month_length_us(later) - _SECOND_US
    # Share of month t+k whose close times fall before the cut-off.
    before = np.clip((cutoff - calendar.month_start_us[later]) / span, 0.0, 1.0)
    reach = int(np.flatnonzero(before > 0).max()) + 1
    probability = np.zeros_like(hazard)
    survival = np.ones_like(hazard)
    for j in range(reach):
        warned = sum(
            w * before[j + length]
            for length, w in zip(COUNTDOWN_MONTHS, COUNTDOWN_WEIGHTS, strict=True)
            if j + length < before.size
        )
        share = (1 - WARNED_SHARE) * before[j] + WARNED_SHARE * warned
        probability += survival * hazard * share
        survival = survival * (1 - hazard)
    return probability


def _simulate_month(
    rng: np.random.Generator,
    month: int,
    population: _Population,
    state: _BankState,
    calendar: _Calendar,
    customer_ids: pa.Array,
    current_account_ids: pa.Array,
    transactions_per_month: float,
    sinks: _ParquetSinks,
    called: np.ndarray | None = None,
    call_rng: np.random.Generator | None = None,
) -> tuple[int, int]:
    """Simulate one month, write its rows and advance the state to the next month's start.
    `called`: customers (indices) a retention call reached at the month's start.

    Returns:
        Customers at risk at the month's start, and customers who closed everything.
    """
    n = population.size
    month_start = int(calendar.month_start_us[month])
    month_end = int(calendar.month_start_us[month + 1])
    # Nothing may happen after extracted_at, the last second of the last month.
    last_moment = min(month_end, calendar.extracted_us + 1)
    start_day = int(calendar.month_start_day[month])
    age = (start_day - population.birth_day) / _DAYS_PER_YEAR
    tenure_months = (start_day - population.joined_day) / _DAYS_PER_MONTH

    # Everything decided this month uses the state at the month's start.
    at_risk = (population.active_from_us < month_start) & ~state.churned
    arriving = population.join_month == month
    who = np.flatnonzero(at_risk)
    base_hazard = _churn_hazard(population, state, who, age, tenure_months)
    hazard, adoption = _with_call_effects(population, state, who, age, month, base_hazard)
    response = _call_response(population, state, who, age, tenure_months)
    # The truth starts with the second month; the first month only creates its files.
    shown = slice(None) if month >= 1 else slice(0)
    _write_truth(
        sinks,
        calendar,
        month,
        state,
        who[shown],
        hazard[shown],
        adoption[shown],
        customer_ids,
        base_hazard[shown],
        response.take(shown),
    )
    if called is not None and month >= 1:
        _apply_calls(sinks, calendar, month, state, who, called, response, call_rng, customer_ids)
        hazard, adoption = _with_call_effects(population, state, who, age, month, base_hazard)

    # Churn decisions of customers not yet leaving.
    k = who.size
    decides = ~state.leaving[who] & (rng.random(k) < hazard)
    warned = rng.random(k) < WARNED_SHARE
    length = COUNTDOWN_MONTHS[rng.choice(COUNTDOWN_MONTHS.size, k, p=COUNTDOWN_WEIGHTS)]
    redirect = rng.random(k) < SALARY_REDIRECT_SHARE
    close_uniform = rng.random(k)
    deciders = who[decides]
    close_month = month + np.where(warned[decides], length[decides], 0)
    state.close_month[deciders] = close_month
    state.churn_us[deciders] = calendar.close_time_us(close_month, close_uniform[decides])
    state.leaving[who[decides & warned]] = True
    state.redirected[who[decides & warned & redirect]] = True
    # Now and then a salaried customer who stays changes employer and has the new salary
    # paid elsewhere, so that a stopped salary is a strong sign of leaving, not proof.
    job_change = ~state.leaving[who] & ~decides & (rng.random(k) < JOB_CHANGE_RATE)
    state.redirected[who[job_change & (population.income_kind[who] == 1)]] = True

    closing = at_risk & (state.close_month == month)
    counting_down = at_risk & state.leaving & ~closing
    window_start = np.where(arriving, population.active_from_us, month_start)
    window_end = np.where(closing, state.churn_us, last_moment)
    present = at_risk | arriving
    window_start[~present] = month_start
    window_end[~present] = month_start
    window = _Window(window_start, window_end, month_start, month_end)

    held_at_start = state.held.copy()
    closed_us = _close_holdings(
        rng,
        state,
        sinks,
        customer_ids,
        current_account_ids,
        window,
        closing,
        counting_down,
        at_risk,
    )
    staying = ~state.leaving[who] & ~closing[who]
    _open_holdings(rng, population, state, window, who[staying], adoption[staying], arriving)

    ledger = _book_transactions(
        rng,
        month,
        population,
        state,
        calendar,
        window,
        held_at_start,
        closed_us,
        counting_down,
        closing,
        transactions_per_month,
    )
    sinks.write(TRANSACTIONS.name, ledger.pop_table(customer_ids, current_account_ids))
    shocks, grievance = _record_interactions(
        rng, population, state, calendar, window, counting_down, arriving, sinks, customer_ids
    )

    _snapshot_balances(sinks, calendar, month, state, customer_ids)
    state.churned |= closing
    state.leaving &= ~closing
    # Engagement drifts back to the personal mean, with this month's experiences on top;
    # leavers' engagement keeps sliding.
    state.engagement = (
        population.engagement_mean
        + 0.85 * (state.engagement - population.engagement_mean)
        + rng.normal(0, 0.3, n)
        + shocks
        - 0.15 * counting_down
    )
    state.grievance = 0.75 * state.grievance + grievance
    return k, int(closing.sum())


@dataclass(frozen=True)
class _Response:
    """How each customer of `who` would respond to a retention call this month."""

    kind: np.ndarray  # index into RESPONSES
    save_share: np.ndarray  # chance a leaver is turned round (0 for customers not leaving)
    hazard: np.ndarray  # factor on the churn hazard while the call's effect lasts
    adoption: np.ndarray  # factor on the adoption probabilities while it lasts

    def take(self, rows: slice | np.ndarray) -> _Response:
        return _Response(*(array[rows] for array in vars(self).values()))


def _call_response(
    population: _Population,
    state: _BankState,
    who: np.ndarray,
    age: np.ndarray,
    tenure_months: np.ndarray,
) -> _Response:
    """The known, heterogeneous effect of a call, from what the bank can observe.

    Leavers with a fresh grievance (complaints show it) or whose salary or pension still
    arrives here can be turned round; other leavers (salary moved, money gone) leave
    whatever is done. Aggrieved or new customers who have
    not decided, and those drifting away from their usual engagement, are persuadable;
    customers whose income is paid in elsewhere are not (the relationship has moved);
    young, app-only customers without a complaint find a call intrusive (sleeping dogs);
    for everybody else a call is a mild reassurance.
    """
    leaving = state.leaving[who]
    aggrieved = state.grievance[who] >= 0.5
    annoyed = ~leaving & ~aggrieved & (population.digital[who] >= 0.93) & (age[who] < 35)
    # Income paid in elsewhere: the relationship has already moved; a call changes nothing.
    moved = state.redirected[who] | (population.income_kind[who] == 0)
    unattached = ~leaving & ~annoyed & ~aggrieved & moved
    drifting = state.engagement[who] < population.engagement_mean[who] - 0.25
    persuadable = (
        ~leaving & ~annoyed & ~unattached & (aggrieved | drifting | (tenure_months[who] < 12))
    )
    # A leaver whose income still arrives here has not moved the relationship yet.
    attached = leaving & ~state.redirected[who] & (population.income_kind[who] != 0)
    kind = np.select(
        [leaving & (aggrieved | attached), leaving | unattached, annoyed, persuadable],
        [RESPONSES.index(name) for name in ("persuadable", "lost_cause", "sleeping_dog")]
        + [RESPONSES.index("persuadable")],
        default=RESPONSES.index("sure_thing"),
    ).astype(np.int8)
    save_share = np.select(
        [leaving & aggrieved, attached], [SAVE_SHARE_AGGRIEVED, SAVE_SHARE_ATTACHED], 0.0
    )
    hazard = np.select(
        [annoyed, unattached, persuadable | leaving],
        [SLEEPING_DOG_HAZARD, 1.0, PERSUADED_HAZARD],
        ORDINARY_HAZARD,
    )
    adoption = np.where(annoyed, SLEEPING_DOG_ADOPTION, CALLED_ADOPTION)
    return _Response(kind, save_share, hazard, adoption)


def _with_call_effects(
    population: _Population,
    state: _BankState,
    who: np.ndarray,
    age: np.ndarray,
    month: int,
    base_hazard: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Churn hazard and adoption probabilities of `who`, with past calls' effects applied."""
    factor = np.where(state.call_until[who] > month, 1.0, np.nan)
    hazard = base_hazard * np.nan_to_num(factor * state.call_hazard[who], nan=1.0)
    adoption = _adoption_probabilities(population, state, who, age)
    adoption *= np.nan_to_num(factor * state.call_adoption[who], nan=1.0)[:, None]
    return hazard, np.minimum(adoption, 0.15)


def _calls_by_month(
    calls: Mapping[dt.date, Iterable[str]], calendar: _Calendar, n_customers: int
) -> dict[int, np.ndarray]:
    """Campaign days → month index; customer ids → customer indices (sorted, unique)."""
    simulated = calendar.month_start_day[: calendar.months]
    months = {int(day): index for index, day in enumerate(simulated)}
    epoch = dt.date(1970, 1, 1)
    by_month = {}
    for day, customer_ids in calls.items():
        if isinstance(day, dt.datetime):
            day = day.date()
        month = months.get((day - epoch).days)
        if month is None or month == 0:
            raise ValueError(
                f"calls: campaign day {day} is not the first day of a simulated month "
                "after the first"
            )
        indices = []
        for customer_id in customer_ids:
            number = customer_id[1:]
            if not (number.isdigit() and customer_id == f"C{int(number):07d}"):
                raise ValueError(
                    f"calls on {day}: {customer_id!r} is not a customer id (C and 7 digits)"
                )
            if not 1 <= int(number) <= n_customers:
                raise ValueError(f"calls on {day}: no customer {customer_id} in this bank")
            indices.append(int(number) - 1)
        by_month[month] = np.unique(np.asarray(indices, dtype=np.int64))
    return by_month


def _apply_calls(
    sinks: _ParquetSinks,
    calendar: _Calendar,
    month: int,
    state: _BankState,
    who: np.ndarray,
    called: np.ndarray,
    response: _Response,
    call_rng: np.random.Generator,
    customer_ids: pa.Array,
) -> None:
    """Calls at the month's start: saved leavers stop leaving; the call's effect starts."""
    called = called[np.isin(called, who)]  # a customer who has left is not called
    position = np.searchsorted(who, called)
    reached = response.take(position)
    leaving = state.leaving[called]
    saved = leaving & (call_rng.random(called.size) < reached.save_share)
    state.leaving[called[saved]] = False
    state.close_month[called[saved]] = -1
    effective = ~leaving | saved
    state.call_until[called[effective]] = month + CALL_EFFECT_MONTHS
    state.call_hazard[called[effective]] = reached.hazard[effective]
    state.call_adoption[called[effective]] = reached.adoption[effective]
    sinks.write(
        str(TRUTH_CALLS),
        pa.table(
            {
                CUSTOMER_ID: customer_ids.take(pa.array(called)),
                "month_start": _date_array(np.full(called.size, calendar.month_start_day[month])),
                "response": pa.array(np.asarray(RESPONSES)[reached.kind]),
                "was_leaving": pa.array(leaving),
                "saved": pa.array(saved),
            }
        ),
    )


@dataclass(frozen=True)
class _Window:
    """Each customer's slice of the month in which things can happen to them.

    It opens when the month starts, or when an arriving customer joins, and closes when the
    month ends, or when a leaving customer's last holding closes. It is empty for customers
    not there this month.
    """

    start_us: np.ndarray
    end_us: np.ndarray
    month_start_us: int
    month_end_us: int

    @property
    def share(self) -> np.ndarray:
        """Share of the month each customer is there for, which scales event rates."""
        return (self.end_us - self.start_us) / (self.month_end_us - self.month_start_us)

    def uniform_times(self, rng: np.random.Generator, owners: np.ndarray) -> np.ndarray:
        """A uniform time in each owner's window, one per row of `owners`."""
        start = self.start_us[owners]
        span = self.end_us[owners] - start
        offset = _whole_seconds(rng.random(owners.size) * span)
        return start + np.minimum(offset, np.maximum(span - 1, 0))

    def contains(self, owners: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return (ts >= self.start_us[owners]) & (ts < self.end_us[owners])


def _close_holdings(
    rng: np.random.Generator,
    state: _BankState,
    sinks: _ParquetSinks,
    customer_ids: pa.Array,
    current_account_ids: pa.Array,
    window: _Window,
    closing: np.ndarray,
    counting_down: np.ndarray,
    at_risk: np.ndarray,
) -> np.ndarray:
    """Close this month's holdings, write them, and return each holding's closing time."""
    n = closing.size
    held = state.held
    # Whole portfolios of leavers at the end of their countdown: the current account last.
    closing_all = held & closing[:, None]
    # Leavers counting down close products one by one; the others now and then close one.
    routine = at_risk & ~state.leaving & ~closing
    engagement_factor = np.exp(-0.4 * state.engagement)[:, None]
    loan_repaid = np.zeros_like(held)
    loan_repaid[:, DEBT_PRODUCTS] = (
        state.balance[:, DEBT_PRODUCTS] <= state.terms[:, DEBT_PRODUCTS] + 0.01
    )
    draw = rng.random((n, N_PRODUCTS))
    one_by_one = held & counting_down[:, None] & (draw < _COUNTDOWN_CLOSE)
    single = (
        held
        & routine[:, None]
        & ((draw < _ROUTINE_CLOSE[None, :] * engagement_factor) | loan_repaid)
    )
    one_by_one[:, CURRENT] = False
    single[:, CURRENT] = False
    closes = closing_all | one_by_one | single

    customer, product = np.nonzero(closes)
    ts = window.uniform_times(rng, customer)
    last = closing[customer] & (product == CURRENT)
    ts[last] = state.churn_us[customer[last]]
    closed_us = np.full((n, N_PRODUCTS), _NO_TIME, dtype=np.int64)
    closed_us[customer, product] = ts
    sinks.write(
        HOLDINGS.name,
        _holdings_table(
            customer_ids,
            current_account_ids,
            customer,
            product,
            state.opened_us[customer, product],
            ts,
            state.account_no[customer, product],
            np.zeros(customer.size),
        ),
    )
    held[customer, product] = False
    return closed_us


def _open_holdings(
    rng: np.random.Generator,
    population: _Population,
    state: _BankState,
    window: _Window,
    adopters: np.ndarray,
    adoption: np.ndarray,
    arriving: np.ndarray,
) -> None:
    """Open this month's new holdings: adoptions, and the accounts of arriving customers."""
    opens = rng.random(adoption.shape) < np.nan_to_num(adoption, nan=0.0)
    row, product = np.nonzero(opens)
    customer = adopters[row]
    ts = window.uniform_times(rng, customer)

    # Arriving customers open a current account when they join, some a savings account or a
    # card with it.
    newcomers = np.flatnonzero(arriving)
    bundle = np.zeros((newcomers.size, N_PRODUCTS), dtype=bool)
    bundle[:, CURRENT] = True
    bundle[:, SAVINGS] = rng.random(newcomers.size) < 0.25
    bundle[:, CLASSIC_CARD] = rng.random(newcomers.size) < 0.2 * population.activity[newcomers]
    new_row, new_product = np.nonzero(bundle)
    new_customer = newcomers[new_row]

    customer = np.concatenate([customer, new_customer])
    product = np.concatenate([product, new_product])
    ts = np.concatenate([ts, population.active_from_us[new_customer]])
    balance, terms = _opening_terms(rng, population, customer, product, 0.0)

    state.held[customer, product] = True
    state.opened_us[customer, product] = ts
    state.balance[customer, product] = balance
    state.terms[customer, product] = terms
    not_current = product != CURRENT
    state.account_no[customer[not_current], product[not_current]] = (
        state.next_account_no + np.arange(int(not_current.sum()))
    )
    state.next_account_no += int(not_current.sum())


# ---------------------------------------------------------------------------- transactions


_DEBIT = DIRECTIONS.index("debit")
_CREDIT = DIRECTIONS.index("credit")
_CHANNEL = {name: TRANSACTION_CHANNELS.index(name) for name in TRANSACTION_CHANNELS}
_COUNTERPARTY = {name: COUNTERPARTY_TYPES.index(name) for name in COUNTERPARTY_TYPES}
_CATEGORY = {name: CATEGORIES.index(name) for name in CATEGORIES}


class _Ledger:
    """One month's transactions, gathered part by part as numpy columns."""

    _FIELDS = (
        ("customer", np.int32),
        ("ts", np.int64),
        ("amount", np.float64),
        ("direction", np.int8),
        ("channel", np.int8),
        ("category", np.int8),
        ("counterparty", np.int8),
        ("account", np.int64),
    )

    def __init__(self) -> None:
        self.parts: list[list[np.ndarray]] = [[] for _ in self._FIELDS]

    def add(
        self,
        customer: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: int,
        channel: np.ndarray | int,
        category: np.ndarray | int,
        counterparty: np.ndarray | int,
        account: np.ndarray,
    ) -> None:
        values = (customer, ts, _money(amount), direction, channel, category, counterparty, account)
        rows = customer.size
        for part, (_, dtype), value in zip(self.parts, self._FIELDS, values, strict=True):
            part.append(np.broadcast_to(np.asarray(value, dtype=dtype), (rows,)))

    def columns(self) -> list[np.ndarray]:
        return [
            np.concatenate(part) if part else np.zeros(0, dtype)
            for part, (_, dtype) in zip(self.parts, self._FIELDS, strict=True)
        ]

    def pop_table(self, customer_ids: pa.Array, current_account_ids: pa.Array) -> pa.Table:
        """The month's transactions as a contract table; the gathered parts are dropped."""
        customer, ts, amount, direction, channel, category, counterparty, account = self.columns()
        self.parts = [[] for _ in self._FIELDS]
        return _to_arrow(
            TRANSACTIONS,
            {
                "customer_id": customer_ids.take(pa.array(customer)),
                "ts": pa.array(ts, type=pa.timestamp("us")),
                "amount": pa.array(amount),
                "direction": pa.array(DIRECTIONS).take(pa.array(direction)),
                "channel": pa.array(TRANSACTION_CHANNELS).take(pa.array(channel)),
                "category": pa.array(CATEGORIES).take(pa.array(category)),
                "counterparty_type": pa.array(COUNTERPARTY_TYPES).take(pa.array(counterparty)),
                "account_id": _account_ids(account, current_account_ids),
            },
        )


def _book_transactions(
    rng: np.random.Generator,
    month: int,
    population: _Population,
    state: _BankState,
    calendar: _Calendar,
    window: _Window,
    held_at_start: np.ndarray,
    closed_us: np.ndarray,
    counting_down: np.ndarray,
    closing: np.ndarray,
    transactions_per_month: float,
) -> _Ledger:
    """Book the month's money movements and move the balances they change."""
    n = population.size
    ledger = _Ledger()
    present = window.end_us > window.start_us
    share = window.share
    income = population.income
    current_account = state.account_no[:, CURRENT]
    month_start = window.month_start_us
    ca_flow = np.zeros(n)  # net money in on the current account this month

    def book_on_current(customer, ts, amount, direction, channel, category, counterparty):
        amount = _money(amount)
        ledger.add(
            customer,
            ts,
            amount,
            direction,
            channel,
            category,
            counterparty,
            current_account[customer],
        )
        sign = 1.0 if direction == _CREDIT else -1.0
        ca_flow[:] += sign * np.bincount(customer, weights=amount, minlength=n)

    # Salary or pension on a fixed day, unless the customer has had it paid elsewhere.
    pay_ts = (
        month_start
        + (population.pay_day.astype(np.int64) - 1) * _DAY_US
        + _whole_seconds((3 + 3 * rng.random(n)) * _HOUR_US)
    )
    everyone = np.arange(n)
    paid = present & (population.income_kind > 0) & ~state.redirected
    paid &= window.contains(everyone, pay_ts)
    who = np.flatnonzero(paid)
    kind = np.where(
        population.income_kind[who] == 2, _COUNTERPARTY["pension"], _COUNTERPARTY["salary"]
    )
    book_on_current(
        who,
        pay_ts[who],
        income[who] * rng.normal(1.0, 0.01, who.size),
        _CREDIT,
        _CHANNEL["system"],
        _CATEGORY["income"],
        kind,
    )
    # Customers paid elsewhere move part of their income in themselves, unless leaving.
    paid_elsewhere = (population.income_kind == 0) | state.redirected
    self_funded = present & paid_elsewhere & ~state.leaving & ~closing
    who = np.flatnonzero(self_funded & (rng.random(n) < 0.9 * share))
    book_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * rng.uniform(0.6, 1.0, who.size),
        _CREDIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_in"],
    )
    who = _repeat(rng.poisson(0.15 * share))
    book_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * 0.1 * rng.lognormal(0, 0.8, who.size),
        _CREDIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_in"],
    )

    # Card and cash spending: fewer purchases once a customer is on the way out.
    activity = population.activity * np.exp(0.25 * state.engagement)
    rate = transactions_per_month * activity * np.where(counting_down, 0.5, 1.0) * share
    who = _repeat(rng.poisson(rate))
    ts = window.uniform_times(rng, who)
    # Customers with more on their current account than usual spend more, so that balances
    # hover around a personal level instead of growing without end.
    cushion = np.clip((state.balance[:, CURRENT] / (1.5 * income)) ** 0.5, 0.5, 2.0)
    typical = (
        income
        * population.spend_ratio
        * cushion
        / np.maximum(transactions_per_month * population.activity, 1.0)
    )[who]
    amount = typical * rng.lognormal(-0.405, 0.9, who.size)  # mean 1 x typical
    channel = _spending_channel(rng, population.digital[who])
    cash = (channel == _CHANNEL["atm"]) | (channel == _CHANNEL["branch"])
    amount = np.where(cash, np.maximum(np.round(amount, -1), 20.0), amount)
    category = rng.choice(len(SPENDING_CATEGORIES), who.size, p=SPENDING_WEIGHTS)
    category = np.where(cash, _CATEGORY["cash"], category)
    counterparty = np.where(cash, _COUNTERPARTY["cash"], _COUNTERPARTY["merchant"])
    # Half the card-present and online purchases go on a credit card, if the customer has
    # one that is still open at the time.
    card = np.where(held_at_start[:, GOLD_CARD], GOLD_CARD, CLASSIC_CARD)
    card_open = held_at_start[who, card[who]] & (closed_us[who, card[who]] > ts)
    on_card = ~cash & card_open & (rng.random(who.size) < 0.5)
    ledger.add(
        who[on_card],
        ts[on_card],
        amount[on_card],
        _DEBIT,
        channel[on_card],
        category[on_card],
        counterparty[on_card],
        state.account_no[who[on_card], card[who[on_card]]],
    )
    off = ~on_card
    book_on_current(
        who[off], ts[off], amount[off], _DEBIT, channel[off], category[off], counterparty[off]
    )

    # Direct debits, the monthly fee and loan repayments.
    who = _repeat(rng.binomial(population.n_bills, np.clip(share, 0, 1)))
    book_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * rng.uniform(0.02, 0.08, who.size),
        _DEBIT,
        _CHANNEL["online"],
        len(SPENDING_CATEGORIES) + rng.integers(0, len(BILL_CATEGORIES), who.size),
        _COUNTERPARTY["bill"],
    )
    fee_ts = window.month_end_us - _DAY_US + 2 * _HOUR_US
    who = np.flatnonzero(
        present & (population.monthly_fee > 0) & window.contains(everyone, np.full(n, fee_ts))
    )
    book_on_current(
        who,
        np.full(who.size, fee_ts),
        population.monthly_fee[who],
        _DEBIT,
        _CHANNEL["system"],
        _CATEGORY["fees"],
        _COUNTERPARTY["fee"],
    )
    loan_ts = month_start + 2 * _DAY_US + 4 * _HOUR_US
    for loan, markup in ((PERSONAL_LOAN, 1.25), (MORTGAGE, 1.6)):
        due = (
            held_at_start[:, loan]
            & (closed_us[:, loan] > loan_ts)
            & window.contains(everyone, np.full(n, loan_ts))
        )
        who = np.flatnonzero(due)
        book_on_current(
            who,
            np.full(who.size, loan_ts),
            state.terms[who, loan] * markup,
            _DEBIT,
            _CHANNEL["system"],
            _CATEGORY["loan"],
            _COUNTERPARTY["loan_payment"],
        )
        state.balance[who, loan] = np.maximum(
            state.balance[who, loan] - state.terms[who, loan], 0.0
        )

    # Transfers: savers put money aside; everyone now and then pays another bank; leavers
    # move their money out, from the current account and from savings.
    saver = present & state.held[:, SAVINGS] & ~counting_down & ~closing
    who = np.flatnonzero(saver & (rng.random(n) < 0.35 * share))
    amount = income[who] * rng.uniform(0.05, 0.25, who.size)
    book_on_current(
        who,
        window.uniform_times(rng, who),
        amount,
        _DEBIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_out_same_bank"],
    )
    state.balance[who, SAVINGS] += np.round(np.maximum(amount, 0.01), 2)
    who = _repeat(rng.poisson(0.08 * share))
    book_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * rng.uniform(0.05, 0.4, who.size),
        _DEBIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_out_other_bank"],
    )
    moves = rng.poisson(0.5, n) + 1
    who = _repeat(np.where(counting_down, moves, 0))
    moved_share = rng.uniform(0.3, 0.7, n)
    cash_now = np.maximum(state.balance[:, CURRENT] + ca_flow, 0.0)
    book_on_current(
        who,
        window.uniform_times(rng, who),
        (cash_now * moved_share / moves)[who],
        _DEBIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_out_other_bank"],
    )
    withdraw = np.flatnonzero(
        counting_down & state.held[:, SAVINGS] & (state.balance[:, SAVINGS] > 1.0)
    )
    amount = np.round(state.balance[withdraw, SAVINGS] * rng.uniform(0.3, 0.7, withdraw.size), 2)
    ledger.add(
        withdraw,
        window.uniform_times(rng, withdraw),
        amount,
        _DEBIT,
        _self_service_channel(rng, population.digital[withdraw]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_out_other_bank"],
        state.account_no[withdraw, SAVINGS],
    )
    state.balance[withdraw, SAVINGS] -= np.maximum(amount, 0.01)

    # Quarterly interest on savings, booked on the savings account.
    calendar_month = (
        np.datetime64(int(calendar.month_start_day[month]), "D").astype("datetime64[M]").astype(int)
        % 12
    ) + 1
    if calendar_month % 3 == 0:
        interest_ts = window.month_end_us - _DAY_US + _HOUR_US
        who = np.flatnonzero(
            state.held[:, SAVINGS]
            & (state.balance[:, SAVINGS] >= 4.0)
            & window.contains(everyone, np.full(n, interest_ts))
        )
        amount = np.round(state.balance[who, SAVINGS] * 0.0025, 2)
        ledger.add(
            who,
            np.full(who.size, interest_ts),
            amount,
            _CREDIT,
            _CHANNEL["system"],
            _CATEGORY["interest"],
            _COUNTERPARTY["interest"],
            state.account_no[who, SAVINGS],
        )
        state.balance[who, SAVINGS] += np.maximum(amount, 0.01)

    # A leaver's last act: what is left on the current account goes to the new bank.
    cash_now = state.balance[:, CURRENT] + ca_flow
    sweep_ts = state.churn_us - _SECOND_US
    who = np.flatnonzero(closing & (cash_now >= 0.01) & window.contains(everyone, sweep_ts))
    book_on_current(
        who,
        sweep_ts[who],
        cash_now[who],
        _DEBIT,
        _self_service_channel(rng, population.digital[who]),
        _CATEGORY["transfer"],
        _COUNTERPARTY["transfer_out_other_bank"],
    )

    _move_balances(rng, population, state, ca_flow)
    return ledger


def _move_balances(
    rng: np.random.Generator, population: _Population, state: _BankState, ca_flow: np.ndarray
) -> None:
    """Month-end balances: flows on the current account, interest, markets, contributions."""
    n = population.size
    balance = state.balance
    balance[:, CURRENT] = np.maximum(balance[:, CURRENT] + ca_flow, 0.0)
    balance[:, TIME_DEPOSIT] *= 1 + 0.025 / 12
    bond_market, equity_market = rng.normal(0.002, 0.01), rng.normal(0.006, 0.04)
    balance[:, BOND_FUND] *= np.maximum(1 + bond_market + rng.normal(0, 0.005, n), 0.5)
    balance[:, EQUITY_FUND] *= np.maximum(1 + equity_market + rng.normal(0, 0.03, n), 0.3)
    balance[:, PENSION_PLAN] = (
        balance[:, PENSION_PLAN] * (1 + 0.5 * equity_market)
        + 0.03 * population.income * state.held[:, PENSION_PLAN]
    )
    balance[~state.held] = 0.0
    np.round(balance, 2, out=balance)


def _spending_channel(rng: np.random.Generator, digital: np.ndarray) -> np.ndarray:
    """Where each purchase is made: digital customers buy online and in the app."""
    u = rng.random(digital.size)
    online = 0.25 * digital
    mobile = online + 0.35 * digital
    atm = mobile + 0.04 + 0.15 * (1 - digital)
    branch = atm + 0.04 * (1 - digital)
    channel = np.full(digital.size, _CHANNEL["pos"], dtype=np.int8)
    channel[u < branch] = _CHANNEL["branch"]
    channel[u < atm] = _CHANNEL["atm"]
    channel[u < mobile] = _CHANNEL["mobile"]
    channel[u < online] = _CHANNEL["online"]
    return channel


def _self_service_channel(rng: np.random.Generator, digital: np.ndarray) -> np.ndarray:
    """Where each transfer is ordered: the app, online banking or a branch desk."""
    u = rng.random(digital.size)
    return np.where(
        u < 0.55 * digital,
        _CHANNEL["mobile"],
        np.where(u < 0.9 * digital + 0.05, _CHANNEL["online"], _CHANNEL["branch"]),
    ).astype(np.int8)


def _repeat(counts: np.ndarray) -> np.ndarray:
    """Customer index repeated by each customer's event count."""
    return np.repeat(np.arange(counts.size, dtype=np.int32), counts)


# ---------------------------------------------------------------------------- interactions


_KIND = {name: INTERACTION_KINDS.index(name) for name in INTERACTION_KINDS}
_OUTCOME = {name: INTERACTION_OUTCOMES.index(name) for name in INTERACTION_OUTCOMES}
_CONTACT = {name: CONTACT_CHANNELS.index(name) for name in CONTACT_CHANNELS}
_NULL_TS = np.iinfo(np.int64).min


def _record_interactions(
    rng: np.random.Generator,
    population: _Population,
    state: _BankState,
    calendar: _Calendar,
    window: _Window,
    counting_down: np.ndarray,
    arriving: np.ndarray,
    sinks: _ParquetSinks,
    customer_ids: pa.Array,
) -> tuple[np.ndarray, np.ndarray]:
    """Record the month's contacts, write them, and return what they did to each customer.

    Returns:
        The shock to engagement and the new grievance each customer took from the month.
    """
    n = population.size
    share = window.share
    engagement = state.engagement
    digital = population.digital
    extracted_us = calendar.extracted_us
    rows: list[tuple[np.ndarray, ...]] = []

    def record(
        customer, ts, kind, severity=0, resolved=_NULL_TS, satisfaction=0, outcome=-1, channel=-1
    ):
        values = (customer, ts, kind, severity, resolved, satisfaction, outcome, channel)
        dtypes = (np.int32, np.int64, np.int8, np.int8, np.int64, np.int8, np.int8, np.int8)
        rows.append(
            tuple(
                np.broadcast_to(np.asarray(v, dtype=d), (customer.size,))
                for v, d in zip(values, dtypes, strict=True)
            )
        )

    def resolution(ts, hours):
        resolved = ts + _whole_seconds(hours * _HOUR_US)
        return np.where(resolved <= extracted_us, resolved, _NULL_TS)

    def contact_channel(who):
        # Customers mostly get in touch the way they like to be contacted; else by phone.
        return np.where(
            rng.random(who.size) < 0.6, population.preferred_channel[who], _CONTACT["phone"]
        )

    def score(who, shift):
        raw = 3.3 + 0.9 * engagement[who] + shift + rng.normal(0, 0.8, who.size)
        return np.clip(np.round(raw), 1, 5)

    # Logins and branch visits: the digital log in, the others come in; leavers fade away.
    fading = np.where(counting_down, 0.35, 1.0)
    logins = np.minimum(10.0 * digital**1.5 * np.exp(0.4 * engagement), 15.0) * fading * share
    who = _repeat(rng.poisson(logins))
    record(who, window.uniform_times(rng, who), _KIND["digital_login"], channel=_CONTACT["app"])
    visits = 0.5 * (1 - digital) ** 1.5 * np.where(counting_down, 0.7, 1.0) * share
    who = _repeat(rng.poisson(visits))
    record(
        who, window.uniform_times(rng, who), _KIND["branch_visit"], channel=_CONTACT["in_person"]
    )

    # Complaints come more often from disengaged customers. Most are settled within hours;
    # some are slow (over 24 h, over 4 h for a major one) and about 5 % never are.
    complaint_rate = 0.01 * np.exp(-0.9 * engagement) * np.where(counting_down, 1.5, 1.0)
    who = _repeat(rng.poisson(complaint_rate * share))
    ts = window.uniform_times(rng, who)
    severity = rng.choice(3, who.size, p=[0.7, 0.25, 0.05]) + 1
    median_hours = np.array([0.0, 8.0, 12.0, 3.0])[severity]
    hours = median_hours * rng.lognormal(0, 1.1, who.size)
    never = rng.random(who.size) < 0.05
    slow = ~never & ((hours > 24) | ((severity == 3) & (hours > 4)))
    resolved = np.where(never, _NULL_TS, resolution(ts, hours))
    record(
        who,
        ts,
        _KIND["complaint"],
        severity,
        resolved,
        outcome=np.where(resolved == _NULL_TS, _OUTCOME["unresolved"], _OUTCOME["resolved"]),
        channel=contact_channel(who),
    )
    # float64 even in a month without complaints (bincount of nothing returns integers).
    shocks = -np.bincount(
        who, weights=0.1 * severity + 0.35 * slow + 0.6 * never, minlength=n
    ).astype(np.float64)
    grievance = np.bincount(
        who, weights=0.25 + 0.15 * (severity - 1) + 0.8 * slow + 1.2 * never, minlength=n
    )

    # After a settled complaint the bank calls back within a week, when the month allows.
    callback = ~never & (rng.random(who.size) < 0.6)
    follow_ts = ts + _whole_seconds((hours + 1 + 167 * rng.random(who.size)) * _HOUR_US)
    callback &= window.contains(who, follow_ts)
    callers, call_ts, after_slow = who[callback], follow_ts[callback], slow[callback]
    # New customers get a welcome call in their first week, and some a service call.
    newcomer = np.flatnonzero(arriving & (rng.random(n) < 0.7))
    welcome_ts = window.start_us[newcomer] + _whole_seconds(
        (1 + 6 * rng.random(newcomer.size)) * _DAY_US
    )
    keep = window.contains(newcomer, welcome_ts)
    service = _repeat(rng.poisson(0.02 * share))
    callers = np.concatenate([callers, newcomer[keep], service])
    call_ts = np.concatenate([call_ts, welcome_ts[keep], window.uniform_times(rng, service)])
    after_slow = np.concatenate([after_slow, np.zeros(keep.sum() + service.size, dtype=bool)])
    reached = rng.random(callers.size) < 0.7
    satisfaction = np.where(reached, score(callers, -0.8 * after_slow), 0)
    record(
        callers.astype(np.int32),
        call_ts,
        _KIND["callback"],
        satisfaction=satisfaction,
        outcome=np.where(reached, _OUTCOME["reached"], _OUTCOME["not_reached"]),
        channel=population.preferred_channel[callers],
    )
    shocks += np.bincount(
        callers,
        weights=0.2 * (satisfaction >= 4) - 0.1 * (reached & (satisfaction <= 2)),
        minlength=n,
    )

    # Service requests are all settled, some with a survey afterwards; and now and then a
    # survey on its own. Scores follow engagement.
    who = _repeat(rng.poisson(0.04 * share))
    ts = window.uniform_times(rng, who)
    resolved = resolution(ts, 20 * rng.lognormal(0, 0.8, who.size))
    record(
        who,
        ts,
        _KIND["service_request"],
        resolved=resolved,
        outcome=np.where(resolved == _NULL_TS, _OUTCOME["unresolved"], _OUTCOME["resolved"]),
        channel=contact_channel(who),
    )
    survey_ts = resolved + _whole_seconds((1 + 47 * rng.random(who.size)) * _HOUR_US)
    surveyed = (resolved != _NULL_TS) & (rng.random(who.size) < 0.25)
    surveyed &= window.contains(who, np.where(surveyed, survey_ts, 0))
    spontaneous = _repeat(rng.poisson(0.03 * share))
    who = np.concatenate([who[surveyed], spontaneous]).astype(np.int32)
    ts = np.concatenate([survey_ts[surveyed], window.uniform_times(rng, spontaneous)])
    record(
        who,
        ts,
        _KIND["satisfaction_survey"],
        satisfaction=score(who, 0.0),
        channel=np.where(rng.random(who.size) < digital[who], _CONTACT["app"], _CONTACT["email"]),
    )

    columns = [np.concatenate(part) for part in zip(*rows, strict=True)]
    sinks.write(INTERACTIONS.name, _interactions_table(columns, customer_ids))
    return shocks, grievance


# -------------------------------------------------------------------------- Arrow tables


def _to_arrow(table: Table, columns: Mapping[str, pa.Array]) -> pa.Table:
    """Arrange columns as the contract declares them: names, order and dtypes.

    Raises:
        ValueError: If the columns are not exactly the contract table's.
    """
    declared = table.column_names
    if set(columns) != set(declared):
        raise ValueError(
            f"{table.name}: columns {sorted(columns)} do not match contract {list(declared)}"
        )
    schema = pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype]) for c in table.columns])
    return pa.Table.from_arrays([columns[name] for name in declared], schema=schema)


def _id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded identifiers such as C0000001, built by Arrow without a Python loop."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def _account_ids(account_no: np.ndarray, current_account_ids: pa.Array) -> pa.Array:
    """Account identifiers for a column of account numbers.

    Current accounts are numbers 1..n_customers and their identifiers are formatted once per
    run; the other accounts in the column are formatted once each, not once per row.
    """
    n_customers = len(current_account_ids)
    other = account_no > n_customers
    unique_other, position = np.unique(account_no[other], return_inverse=True)
    index = account_no - 1
    index[other] = n_customers + position
    dictionary = pa.concat_arrays(
        [current_account_ids, _id_strings("A", unique_other, width=_ACCOUNT_DIGITS)]
    )
    return dictionary.take(pa.array(index))


def _date_array(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def _customers_table(population: _Population, customer_ids: pa.Array) -> pa.Table:
    return _to_arrow(
        CUSTOMERS,
        {
            "customer_id": customer_ids,
            "birth_date": _date_array(population.birth_day),
            "joined_at": _date_array(population.joined_day),
            "gender": pa.array(GENDERS).take(pa.array(population.gender)),
            "region": pa.array(REGIONS).take(pa.array(population.region)),
            "income_band": pa.array(INCOME_BANDS).take(pa.array(population.income_band)),
            "risk_appetite": pa.array(population.risk_appetite.astype(np.int64)),
            "preferred_channel": pa.array(CONTACT_CHANNELS).take(
                pa.array(population.preferred_channel)
            ),
            "do_not_contact": pa.array(population.do_not_contact),
            "segment": pa.array(SEGMENTS).take(pa.array(population.segment)),
        },
    )


def _products_table() -> pa.Table:
    unknown = [spec.family for spec in CATALOGUE if spec.family not in PRODUCT_FAMILIES]
    if unknown:
        raise ValueError(f"catalogue families {unknown} not in the contract's PRODUCT_FAMILIES")
    return _to_arrow(
        PRODUCTS,
        {
            "product_id": pa.array([spec.product_id for spec in CATALOGUE]),
            "family": pa.array([spec.family for spec in CATALOGUE]),
            "risk_level": pa.array([spec.risk_level for spec in CATALOGUE], type=pa.int64()),
            "name": pa.array([spec.name for spec in CATALOGUE]),
            "min_age": pa.array([spec.min_age for spec in CATALOGUE], type=pa.int64()),
            "margin": pa.array([spec.margin for spec in CATALOGUE], type=pa.float64()),
        },
    )


_PRODUCT_IDS = pa.array([spec.product_id for spec in CATALOGUE])


def _holdings_table(
    customer_ids: pa.Array,
    current_account_ids: pa.Array,
    customer: np.ndarray,
    product: np.ndarray,
    opened_us: np.ndarray,
    closed_us: np.ndarray | None,
    account_no: np.ndarray,
    balance_or_limit: np.ndarray,
) -> pa.Table:
    closed = (
        pa.nulls(customer.size, pa.timestamp("us"))
        if closed_us is None
        else pa.array(closed_us, type=pa.timestamp("us"))
    )
    return _to_arrow(
        HOLDINGS,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "product_id": _PRODUCT_IDS.take(pa.array(product)),
            "opened_at": pa.array(opened_us, type=pa.timestamp("us")),
            "closed_at": closed,
            "account_id": _account_ids(account_no, current_account_ids),
            "balance_or_limit": pa.array(balance_or_limit, type=pa.float64()),
        },
    )


def _open_holdings_table(
    state: _BankState, customer_ids: pa.Array, current_account_ids: pa.Array
) -> pa.Table:
    """Holdings still open at extraction, with their balance or limit then."""
    customer, product = np.nonzero(state.held)
    limit_like = np.isin(product, CARD_PRODUCTS + (HOME_INSURANCE, LIFE_INSURANCE))
    value = np.where(limit_like, state.terms[customer, product], state.balance[customer, product])
    return _holdings_table(
        customer_ids,
        current_account_ids,
        customer,
        product,
        state.opened_us[customer, product],
        None,
        state.account_no[customer, product],
        value,
    )


def _interactions_table(columns: list[np.ndarray], customer_ids: pa.Array) -> pa.Table:
    customer, ts, kind, severity, resolved, satisfaction, outcome, channel = columns
    return _to_arrow(
        INTERACTIONS,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "kind": pa.array(INTERACTION_KINDS).take(pa.array(kind)),
            "severity": pa.array(severity.astype(np.int64), mask=severity == 0),
            "resolved_at": pa.array(resolved, type=pa.timestamp("us"), mask=resolved == _NULL_TS),
            "satisfaction": pa.array(satisfaction.astype(np.int64), mask=satisfaction == 0),
            "outcome": pa.array(INTERACTION_OUTCOMES).take(pa.array(outcome, mask=outcome < 0)),
            "channel": pa.array(CONTACT_CHANNELS).take(pa.array(channel, mask=channel < 0)),
        },
    )


def _snapshot_balances(
    sinks: _ParquetSinks,
    calendar: _Calendar,
    month: int,
    state: _BankState,
    customer_ids: pa.Array,
) -> None:
    """Write the month-end balance of every open deposit, investment and loan."""
    snapshot = np.zeros((state.held.shape[0], N_PRODUCTS), dtype=bool)
    snapshot[:, SNAPSHOT_PRODUCTS] = state.held[:, SNAPSHOT_PRODUCTS]
    customer, product = np.nonzero(snapshot)
    last_day = int(calendar.month_start_day[month + 1]) - 1
    sinks.write(
        BALANCES.name,
        _to_arrow(
            BALANCES,
            {
                "customer_id": customer_ids.take(pa.array(customer)),
                "product_id": _PRODUCT_IDS.take(pa.array(product)),
                "snapshot_date": _date_array(np.full(customer.size, last_day)),
                "balance": pa.array(state.balance[customer, product]),
            },
        ),
    )


def _write_truth(
    sinks: _ParquetSinks,
    calendar: _Calendar,
    month: int,
    state: _BankState,
    who: np.ndarray,
    hazard: np.ndarray,
    adoption: np.ndarray,
    customer_ids: pa.Array,
    base_hazard: np.ndarray,
    response: _Response,
) -> None:
    """Write the generator's own 90-day churn and adoption probabilities at the month start:
    churn without a call, and if a retention call reached the customer now."""
    leaving = state.leaving[who]
    cutoff = calendar.month_start_us[month] + CHURN_HORIZON_DAYS * _DAY_US
    # A leaver's closing time is already drawn: it either falls within 90 days or not.
    certain = (state.churn_us[who] < cutoff).astype(np.float64)
    p_churn = np.where(leaving, certain, _churn_probability_90d(calendar, month, hazard))
    p_after_call = _churn_probability_90d(calendar, month, base_hazard * response.hazard)
    p_if_called = np.where(
        leaving,
        (1 - response.save_share) * certain + response.save_share * p_after_call,
        p_after_call,
    )
    ids = customer_ids.take(pa.array(who))
    month_start = _date_array(np.full(who.size, calendar.month_start_day[month]))
    sinks.write(
        str(TRUTH_CHURN),
        pa.table(
            {
                CUSTOMER_ID: ids,
                "month_start": month_start,
                "p_churn_90d": pa.array(p_churn),
                "p_churn_90d_if_called": pa.array(p_if_called),
                "response": pa.DictionaryArray.from_arrays(
                    pa.array(response.kind, pa.int8()), pa.array(RESPONSES)
                ),
                "leaving": pa.array(leaving),
            }
        ),
    )
    p_open = 1 - (1 - adoption) ** ADOPTION_HORIZON_MONTHS
    columns = {CUSTOMER_ID: ids, "month_start": month_start}
    for product, spec in enumerate(CATALOGUE):
        columns[TRUTH_ADOPTION_PREFIX + spec.product_id] = pa.array(
            p_open[:, product], from_pandas=True
        )
    sinks.write(str(TRUTH_ADOPTION), pa.table(columns))


# ---------------------------------------------------------------------------- writing


class _ParquetSinks:
    """One incremental Parquet writer per output table, writing on a background thread.

    Arrow releases the GIL while encoding, so the next month is simulated while this one is
    written. A single worker keeps every file's row groups in submission order, and at most
    PENDING_BYTES of tables wait to be written, which bounds memory.
    """

    PENDING_BYTES = 1 << 30

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.pending: deque[tuple[Future[None], int]] = deque()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-writer")

    def __enter__(self) -> _ParquetSinks:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait(0)
        finally:
            self.executor.shutdown(wait=True)
            for writer in self.writers.values():
                writer.close()

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self.writers:
            # A contract table by name, a truth file by its path under the extract.
            path = self.out_dir / (name if name.endswith(".parquet") else f"{name}.parquet")
            self.writers[name] = pq.ParquetWriter(path, table.schema)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows
        if table.num_rows == 0:
            return  # the file exists with its schema; an empty row group helps nobody
        self._wait(self.PENDING_BYTES - table.nbytes)
        future = self.executor.submit(
            self.writers[name].write_table, table, row_group_size=ROW_GROUP_ROWS
        )
        self.pending.append((future, table.nbytes))

    def _wait(self, allowed_bytes: int) -> None:
        """Wait for the oldest writes until at most `allowed_bytes` are pending; re-raise."""
        while self.pending and sum(size for _, size in self.pending) > allowed_bytes:
            future, _ = self.pending.popleft()
            future.result()


@contextmanager
def _month_progress(months: int, show: bool) -> Iterator[Callable[[], None]]:
    """A callable that advances a rich progress bar over the months, or does nothing."""
    if not show:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("simulating months", total=months)
        yield lambda: bar.advance(task)


def _whole_seconds(duration_us: np.ndarray) -> np.ndarray:
    """Durations in microseconds cut to whole seconds, as banks' booking clocks keep them."""
    return (np.asarray(duration_us) // _SECOND_US).astype(np.int64) * _SECOND_US


def _money(amount: np.ndarray) -> np.ndarray:
    """Amounts in cents, at least one cent: the contract wants finite amounts >= 0."""
    return np.round(np.maximum(amount, 0.01), 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
