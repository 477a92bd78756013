"""Names every stage shares, declared once: registered models and their aliases, the
actions a decision can take, campaign groups, the files of a campaign folder, the synthetic
bank's truth files."""

from __future__ import annotations

from pathlib import PurePosixPath

# The MLflow registry: one registered model per decision, served by alias, never `latest`.
CHURN_MODEL = "retain-churn"
XSELL_MODEL = "retain-xsell"
UPLIFT_MODEL = "retain-uplift-churn"
CHAMPION = "champion"
CHALLENGER = "challenger"

# The next best actions (serving decides them; the CRM, the call centre and the programme
# evaluation read them back).
# In order of precedence: a customer gets the first that applies.
COMPLAINT_FOLLOW_UP = "complaint_follow_up"
RETENTION_CALLBACK = "retention_callback"
WELCOME_CALLBACK = "welcome_callback"
WIN_BACK_CALL = "win_back_call"
CROSS_SELL_OFFER = "cross_sell_offer"
NO_ACTION = "none"
ACTIONS = (
    COMPLAINT_FOLLOW_UP,
    RETENTION_CALLBACK,
    WELCOME_CALLBACK,
    WIN_BACK_CALL,
    CROSS_SELL_OFFER,
    NO_ACTION,
)
CALLBACKS = (COMPLAINT_FOLLOW_UP, RETENTION_CALLBACK, WELCOME_CALLBACK, WIN_BACK_CALL)
# Contacts the cooldown holds back (service calls owed are never held back).
MARKETING = (RETENTION_CALLBACK, WIN_BACK_CALL, CROSS_SELL_OFFER)
# Calls a customer is owed: made for everyone, due by the event's own limit.
OWED = (COMPLAINT_FOLLOW_UP, WELCOME_CALLBACK)

# Campaign groups: contacted, deliberately not contacted (the randomised holdout), and the
# customers a campaign did not list at all. The experiment's arms are treatment and
# holdout; a customer whose action is a call they are owed (OWED) is never held out: their
# group is `owed`, outside the experiment, and their call is always made.
TREATMENT = "treatment"
HOLDOUT = "holdout"
OWED_GROUP = "owed"
NOT_LISTED = "not_listed"
CAMPAIGN_GROUPS = (TREATMENT, HOLDOUT)  # the randomised arms compared by the evaluation
CONTACTED_GROUPS = (TREATMENT, OWED_GROUP)  # the groups whose tasks are made
TASK_GROUPS = (TREATMENT, HOLDOUT, OWED_GROUP)

# The files `retain score` writes into a campaign folder and evaluation reads back.
CALLBACKS_CSV = "callbacks.csv"
CALLBACKS_PARQUET = "callbacks.parquet"
OFFERS_CSV = "offers.csv"
TASKS_FILE = "tasks.parquet"  # every task of both groups, with its task id
SCORES_FILE = "scores.parquet"  # every customer's scores, no features
SUMMARY_FILE = "summary.json"

# What the synthetic bank writes beside the contract tables: the generator's own
# probabilities, which no feature reads and against which models are measured.
TRUTH_DIR = "_truth"
TRUTH_CHURN = PurePosixPath(TRUTH_DIR, "churn.parquet")
TRUTH_ADOPTION = PurePosixPath(TRUTH_DIR, "adoption.parquet")
TRUTH_CALLS = PurePosixPath(TRUTH_DIR, "calls.parquet")
TRUTH_DEPARTURES = PurePosixPath(TRUTH_DIR, "departures.parquet")
# Column prefix of the adoption truth: `p_open_90d__<product_id>`.
TRUTH_ADOPTION_PREFIX = "p_open_90d__"
