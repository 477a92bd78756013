"""A programme's standing control group: held out once, held out in every campaign."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from common.names import OWED, OWED_GROUP
from serving.batch import HOLDOUT, score_campaign

NOW = datetime(2025, 1, 1)  # the `served` fixture's scoring day


def _score(served, tmp_path, programme_id, campaign_id, day, share=0.3):
    config = served["config"].model_copy(
        update={
            "output_dir": tmp_path / "outputs",
            "serving": served["config"].serving.model_copy(
                update={"programme_id": programme_id, "holdout_share": share}
            ),
        }
    )
    return score_campaign(
        served["bank"], served["champions"], config, day, tmp_path / campaign_id, campaign_id
    )


def _groups(served, tmp_path, programme_id, campaign_id, day):
    """Who is held out, among the customers not owed a call (those never are)."""
    result = _score(served, tmp_path, programme_id, campaign_id, day)
    scores = pd.read_parquet(result.files["scores.parquet"]).set_index("customer_id")
    scores = scores[scores["group"] != OWED_GROUP]
    return scores["group"] == HOLDOUT, result.summary


def test_holdout_is_drawn_per_programme_when_one_is_set(served, tmp_path):
    first, summary = _groups(served, tmp_path / "p", "retention-2025", "january", NOW.date())
    second, _ = _groups(
        served, tmp_path / "p", "retention-2025", "february", NOW.date() + timedelta(days=31)
    )
    common = first.index.intersection(second.index)
    assert first[common].equals(second[common])
    assert 0.25 < first.mean() < 0.35
    assert summary["holdout_drawn_per"] == "programme retention-2025"

    alone, summary = _groups(served, tmp_path / "c", None, "january", NOW.date())
    again, _ = _groups(served, tmp_path / "c", None, "february", NOW.date())
    assert not alone.equals(again)  # each campaign draws its own
    assert summary["holdout_drawn_per"] == "campaign january"


def test_calls_a_customer_is_owed_are_never_held_out_even_when_everyone_is(served, tmp_path):
    """A complaint follow-up or a welcome call is owed: made for every customer, outside
    the experiment, and handed to the CRM, whatever the holdout share."""
    result = _score(served, tmp_path, None, "all-held", NOW.date(), share=1.0)
    tasks = pd.read_parquet(result.files["tasks.parquet"])
    owed = tasks[tasks["action"].isin(OWED)]
    assert len(owed) > 0, "the served bank should owe somebody a call"
    assert (owed["group"] == OWED_GROUP).all()
    assert owed["status"].isin(["scheduled", "over_capacity"]).all()
    others = tasks[~tasks["action"].isin(OWED)]
    assert (others["group"] == HOLDOUT).all()  # everything else is held out
    # What goes to the CRM: the owed calls scheduled, the only tasks made here.
    scheduled = int((owed["status"] == "scheduled").sum())
    assert scheduled > 0 and result.summary["outbox"]["scheduled"] == scheduled
    assert result.summary["detectability"]["treated"] == 0
