"""Training side of the GAN workbench: models, data, checkpoints and the training loop.

It imports `core`, `gan` and `evaluation`, never `export`, `inference` or `dashboard`. At import time
it sets how its OpenMP threads wait (below) and checks that its packages are installed, so that a
shell without the project's environment gets one line saying so instead of a traceback.
"""
import os

from core.environment import require

# Training's OpenMP threads spin only briefly when they wait, then sleep: with libgomp's default (300,000
# spins) a run beside the dashboard or any busy program kept under half its speed, since a spinning thread
# takes the core the other program needs; never spinning cost 18 % when alone (docs/performance.md has the
# figures of benchmarks/colocation.py). Set before torch starts its OpenMP runtime; a value the user set is kept.
os.environ.setdefault("GOMP_SPINCOUNT", "3000")
require("torch", "numpy", "PIL", "tqdm")
