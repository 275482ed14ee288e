"""PyTorch to ONNX: `python -m export.to_onnx` exports a run's generators, proves them equal to PyTorch
(onnx_export.py, with the graph rewrites of fold.py and subpixel.py), and computes what the torch-free
explorer needs from the weights (explore.py, explorer.py). Running the exported files is `inference`'s job."""
from core.environment import require

require("torch", "numpy", "onnx", "onnxruntime")
