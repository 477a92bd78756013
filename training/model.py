"""The trained models as training uses them: feature preparation, booster, calibration.

The classes live in `training/pyfunc/retain_model_runtime.py`, the one file every logged
model carries so it loads without Retain (`training.model_logging`); this module is their
name inside Retain. Fitting is training's own: `training.binary` (LightGBM, calibration),
`training.xsell`, `training.uplift`.

Models logged by an earlier Retain carry no code: their MLflow entry file imports
`training.model.CalibratedBinaryPyfunc` or `training.model.CrossSellPyfunc` (and
`training.uplift.UpliftPyfunc`). They load only inside a checkout, and these names keep them
loading there.
"""

from __future__ import annotations

import json
from pathlib import Path

from features.definitions import held_column
from training.pyfunc import retain_model_runtime as runtime
from training.pyfunc.retain_model_runtime import (
    CROSS_SELL_FILE,
    PRODUCT_COLUMN,
    BinaryModel,
    CalibratedBinaryPyfunc,
    Calibration,
    CrossSellModel,
    ModelSchema,
    UpliftModel,
    UpliftPyfunc,
    log_odds,
    predict,
)

__all__ = [
    "PRODUCT_COLUMN",
    "BinaryModel",
    "CalibratedBinaryPyfunc",
    "Calibration",
    "CrossSellModel",
    "CrossSellPyfunc",
    "ModelSchema",
    "UpliftModel",
    "UpliftPyfunc",
    "log_odds",
    "predict",
]


class CrossSellPyfunc(runtime.CrossSellPyfunc):
    """A cross-sell model logged before its metadata named the held-product columns: the
    feature definitions name them."""

    def load_context(self, context) -> None:
        folder = Path(context.artifacts["cross_sell"])
        products = json.loads((folder / CROSS_SELL_FILE).read_text())["products"]
        self.model = CrossSellModel.load(folder, {pid: held_column(pid) for pid in products})
