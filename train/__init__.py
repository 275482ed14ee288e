"""Training side of the GAN workbench: models, data, checkpoints and the training loop.

This package never imports `export` or `dashboard`. The one thing it does at import time is
check that its packages are installed, so that a shell without the project's environment gets
one line saying so instead of a traceback.
"""
from core.environment import require

require("torch", "numpy", "PIL", "tqdm")
