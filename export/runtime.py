"""Run an exported generator with ONNX Runtime: the only inference path the dashboard uses.

Imports numpy and onnxruntime only (never torch), so the dashboard process stays light.
Latent vectors come from numpy's PCG64 seeded generator: the same seed gives the same
latents, hence the same images, in every process and on the torch and ONNX paths alike.
"""
from __future__ import annotations

import ctypes
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.images import to_uint8

# Keys this project writes into the model's metadata_props (values are strings; JSON where structured).
REQUIRED_METADATA = ("preset", "latent_dim", "image_shape", "pixel_range", "output")


class RuntimeErrorForUser(Exception):
    """A broken or foreign ONNX file; the text is a one-sentence explanation."""


def cuda_usable() -> bool:
    """True when a CUDA driver can be loaded: the GPU build of onnxruntime lists the CUDA
    provider even on machines without a GPU, where asking for it only prints errors."""
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def pick_providers(device: str = "auto") -> list:
    if device == "cpu" or (device == "auto" and not cuda_usable()):
        return ["CPUExecutionProvider"]
    # Heuristic cuDNN search: the exhaustive default re-benchmarks every new batch size.
    return [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), "CPUExecutionProvider"]


def latents(seed: int, count: int, latent_dim: int, truncation: float = 1.0) -> np.ndarray:
    """Standard-normal latent vectors for a seed, scaled by `truncation` (float32, (count, latent_dim))."""
    z = np.random.Generator(np.random.PCG64(seed)).standard_normal((count, latent_dim))
    return (z * truncation).astype(np.float32)


def read_metadata(model_bytes: bytes, where: str) -> dict:
    """The model's metadata_props as a dict; a file that is not ONNX is a one-sentence error."""
    import onnx

    try:
        model = onnx.load_from_string(model_bytes)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and others
        raise RuntimeErrorForUser(f"{where} is not a readable ONNX model ({type(exc).__name__})") from None
    return {p.key: p.value for p in model.metadata_props}


@dataclass(frozen=True)
class ModelInfo:
    preset: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    pixel_range: tuple[float, float]
    output: str  # "float" (pixel_range) or "uint8" (0-255 baked in)
    metadata: dict


def parse_metadata(meta: dict, where: str) -> ModelInfo:
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise RuntimeErrorForUser(f"{where} has no GAN workbench metadata ({', '.join(missing)} missing); "
                                  "export it with python -m export.to_onnx")
    try:
        return ModelInfo(meta["preset"], int(meta["latent_dim"]), tuple(json.loads(meta["image_shape"])),
                         tuple(json.loads(meta["pixel_range"])), meta["output"], meta)
    except (ValueError, TypeError) as exc:
        raise RuntimeErrorForUser(f"{where} has malformed metadata ({exc})") from None


class OnnxGenerator:
    """A loaded ONNX generator: `images(z)` returns displayable uint8 (N, H, W, C) pictures."""

    def __init__(self, path: str | Path, device: str = "auto", threads: int = 0):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise RuntimeErrorForUser(f"{self.path} does not exist")
        raw = self.path.read_bytes()
        self.info = parse_metadata(read_metadata(raw, str(self.path)), str(self.path))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no warnings about unused initialisers
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(raw, sess_options=options, providers=pick_providers(device))
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise RuntimeErrorForUser(f"{self.path} could not be loaded by ONNX Runtime "
                                      f"({str(exc).splitlines()[0][:200]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.last_latency_ms = 0.0

    @property
    def provider(self) -> str:
        """The provider that runs the model: CUDAExecutionProvider or CPUExecutionProvider."""
        return self.session.get_providers()[0]

    def latents(self, seed: int, count: int, truncation: float = 1.0) -> np.ndarray:
        return latents(seed, count, self.info.latent_dim, truncation)

    def run(self, z: np.ndarray) -> np.ndarray:
        """Raw model output, (N, C, H, W): floats in pixel_range, or uint8 for 0-255 exports."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.info.latent_dim:
            raise ValueError(f"latent vectors must have shape (N, {self.info.latent_dim}), got {z.shape}")
        start = time.perf_counter()
        out = self.session.run(None, {self.input_name: z})[0]
        self.last_latency_ms = (time.perf_counter() - start) * 1000
        return out

    def images(self, z: np.ndarray) -> np.ndarray:
        out = self.run(z)
        if self.info.output == "uint8":
            return out.transpose(0, 2, 3, 1)
        return to_uint8(out, self.info.pixel_range)
