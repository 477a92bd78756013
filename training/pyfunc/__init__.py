"""What MLflow stores with every logged model: the models-from-code entry files (each names
the pyfunc class MLflow loads, so no pickled Python object is stored) and
`retain_model_runtime.py`, the code those classes need (`training.model_logging`)."""
