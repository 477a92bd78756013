"""Models-from-code file for the churn uplift model."""

from mlflow.models import set_model

from training.uplift import UpliftPyfunc

set_model(UpliftPyfunc())
