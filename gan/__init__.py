"""The book GANs themselves, in PyTorch: their networks (models.py), their datasets (data.py and the file
formats in data_formats.py) and their checkpoint file (checkpoint.py). Training, evaluation and export
all build on this package; it imports only `core`."""
from core.environment import require

require("torch", "numpy", "PIL", "tqdm")
