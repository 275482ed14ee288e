"""Training side of the GAN workbench: models, data, checkpoints and the training loop.

This package never imports `export` or `dashboard`. The one thing it does at import time is
check that its packages are installed, so that a shell without the project's environment gets
one line saying so instead of a traceback.
"""
import os

from core.environment import require

# Training's OpenMP threads sleep when they wait instead of spinning: beside the dashboard or any other
# program, a spinning thread takes the core the other one needs (docs/performance.md has the figures).
# Set before torch starts its OpenMP runtime; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
require("torch", "numpy", "PIL", "tqdm")
