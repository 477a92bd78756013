"""MLflow models-from-code entry points: each file names the pyfunc class MLflow loads, so
no pickled Python object is stored with a model."""
