"""A programme's standing control group: held out once, held out in every campaign."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from serving.batch import HOLDOUT, score_campaign

NOW = datetime(2025, 1, 1)  # the `served` fixture's scoring day


def _groups(served, tmp_path, programme_id, campaign_id, day):
    config = served["config"].model_copy(
        update={
            "output_dir": tmp_path / "outputs",
            "serving": served["config"].serving.model_copy(
                update={"programme_id": programme_id, "holdout_share": 0.3}
            ),
        }
    )
    result = score_campaign(
        served["bank"], served["champions"], config, day, tmp_path / campaign_id, campaign_id
    )
    scores = pd.read_parquet(result.files["scores.parquet"]).set_index("customer_id")
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
