"""Models-from-code file for the churn uplift model.

MLflow runs it when the model is logged and each time it is loaded; `retain_model_runtime`
comes from the model's own `code/` folder (`training.model_logging`).
"""

from mlflow.models import set_model
from retain_model_runtime import UpliftPyfunc

set_model(UpliftPyfunc())
