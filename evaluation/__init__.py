"""Measuring generators (torch): the feature classifiers (classifier.py, weights in assets/), the metrics
(metrics.py: FID, KID, precision/recall, coverage, nearest neighbours), scoring in a feature space
(quality.py, also used during training) and the command `python -m evaluation.evaluate`."""
from core.environment import require

require("torch", "numpy")
