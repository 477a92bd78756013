"""Programme evaluation (did the calls work, against a randomised holdout) and the metrics
training shares."""
