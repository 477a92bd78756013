"""Models-from-code file for the cross-sell model."""

from mlflow.models import set_model

from training.model import CrossSellPyfunc

set_model(CrossSellPyfunc())
