"""Model frames: the feature columns with the dtypes every model and every request sees."""

from __future__ import annotations

import pandas as pd

from common.config import FeaturesConfig
from features.definitions import FAMILIES, feature_columns

# Categorical levels fixed by the contract (declared with each feature), so a one-row request
# and a million-row batch get identical dtypes. `region` is open-ended (None): its levels
# come from the data a model saw.
CATEGORY_LEVELS: dict[str, tuple[str, ...] | None] = {
    column.name: column.levels
    for family in FAMILIES
    for column in family.columns((), ())
    if column.categorical
}


def to_model_frame(frame: pd.DataFrame, config: FeaturesConfig) -> pd.DataFrame:
    """Fix dtypes: numeric features float64, categoricals with the contract's levels."""
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    numeric = [column.name for column in feature_columns(config) if not column.categorical]
    out[numeric] = out[numeric].astype("float64")
    for name, levels in CATEGORY_LEVELS.items():
        if name in out:
            values = out[name].astype("object").where(out[name].notna(), None)
            out[name] = (
                pd.Categorical(values, categories=list(levels))
                if levels is not None
                else values.astype("category")
            )
    return out.copy()  # one consolidated block: later column additions stay cheap
