"""Export side: turn a run's generator into ONNX (`to_onnx`), and run it (`runtime`: numpy, onnx and
onnxruntime, never torch). At import time it only checks that those packages are installed."""
from core.environment import require

require("numpy", "onnx", "onnxruntime")
