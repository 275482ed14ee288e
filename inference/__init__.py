"""Running exported generators without torch: ONNX Runtime (runtime.py), their latent spaces (latent_space.py:
stored directions and the projection of real images), `python -m inference.generate`, and the static web
page (web.py). numpy, onnx, onnxruntime and Pillow only: the dashboard and a browser-only user need no
PyTorch; `tests/test_layering.py` keeps it so."""
from core.environment import require

require("numpy", "onnx", "onnxruntime")
