"""Models-from-code file for binary models (churn, table mode)."""

from mlflow.models import set_model

from training.model import CalibratedBinaryPyfunc

set_model(CalibratedBinaryPyfunc())
