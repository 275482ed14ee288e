"""Run an exported generator with ONNX Runtime: the only inference path the dashboard uses.

Imports numpy, onnx (to read the file's metadata and check its structure before anything runs)
and onnxruntime, never torch, so the dashboard process stays light. A model file is untrusted
input: it is read with a size cap, refused if it names external data files (ONNX Runtime would
read them relative to the working directory), and its metadata is checked against its graph.
Latent vectors come from numpy's PCG64 seeded generator: the same seed gives the same latents,
hence the same images, in every process and on the torch and ONNX paths alike.
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import UnsafeFile, read_bounded
from core.images import to_uint8
from core.runs import MAX_ONNX_BYTES
from core.spec import ModelSpec, SpecError

OUTPUT_KINDS = ("float", "uint8")
OUTPUT_TYPES = {"float": 1, "uint8": 2}  # onnx.TensorProto.FLOAT, UINT8
_ITEM_BYTES = {1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2, 11: 8, 16: 2}
MAX_REQUEST_BYTES = 256 << 20  # float output of one call: 2,000+ 3x32x32 images, far above the dashboard's caps
MAX_TENSOR_BYTES = 256 << 20  # any one tensor a graph makes whatever the request
# What ONNX Runtime may allocate for all of a process's models together (weights, activations, outputs): an
# arena with this cap serves them, so no model file can take more, whatever its graph does.
MAX_ARENA_BYTES = 2 << 30
LIVE_TENSORS = 4  # how many of a graph's largest per-image tensors a request is assumed to hold at once


class RuntimeErrorForUser(Exception):
    """A broken or foreign ONNX file, or a request it cannot serve; the text is one sentence."""


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


def parse_model(model_bytes: bytes, where: str):
    """The ModelProto of ONNX bytes (external data never loaded); not ONNX is a one-sentence error."""
    import onnx

    try:
        return onnx.load_from_string(model_bytes)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and others
        raise RuntimeErrorForUser(f"{where} is not a readable ONNX model ({type(exc).__name__})") from None


def read_metadata(model_bytes: bytes, where: str) -> dict:
    """The model's metadata_props as a dict."""
    return {p.key: p.value for p in parse_model(model_bytes, where).metadata_props}


def model_tensors(model):
    """Every TensorProto a model holds, wherever it lives: the graph's initializers and sparse initializers,
    tensor attributes of its nodes (Constant and others), subgraphs of If/Loop/Scan, and local functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _graph_tensors(graph):
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes):
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sparse in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors):
                yield from (sparse.values, sparse.indices)
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _graph_tensors(sub)


def _static_dims(value_info) -> list[int | None]:
    """A value's dims, None where not a known size (symbolic, or unknown)."""
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


@dataclass(frozen=True)
class ModelInfo:
    """What an exported model is (its `ModelSpec`), what it outputs, and all its metadata for display."""

    spec: ModelSpec
    output: str  # "float" (pixel_range) or "uint8" (0-255 baked in)
    metadata: dict
    image_bytes: int = 0  # the largest tensor the graph makes per image (shape inference), for the batch bound

    @property
    def latent_dim(self) -> int:
        return self.spec.latent_dim

    @property
    def pixel_range(self) -> tuple[float, float]:
        return self.spec.pixel_range


def inspect_model(model, where: str) -> ModelInfo:
    """Check an ONNX model before it runs: our metadata, no external data, and a graph that agrees with both."""
    meta = {p.key: p.value for p in model.metadata_props}
    try:
        spec = ModelSpec.from_metadata(meta)
    except SpecError as exc:
        raise RuntimeErrorForUser(f"{where} has unusable GAN workbench metadata: {exc}; export it with "
                                  "python -m export.to_onnx") from None
    output = meta.get("output", "float")
    if output not in OUTPUT_KINDS:
        raise RuntimeErrorForUser(f"{where} has an unknown output kind {output[:40]!r}")
    import onnx

    if any(t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) for t in model_tensors(model)):
        raise RuntimeErrorForUser(f"{where} refers to external data files; this tool never writes such models "
                                  "and does not read them")
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    wanted = 2 if spec.conditional else 1
    if len(inputs) != wanted or len(graph.output) != 1:
        raise RuntimeErrorForUser(f"{where} must have {'two inputs (z, class)' if spec.conditional else 'one input (z)'}"
                                  " and one output (images)")
    if spec.conditional and _static_dims(inputs[1])[1:] not in ([None], [spec.num_classes]):
        raise RuntimeErrorForUser(f"{where}: its class input has shape {_static_dims(inputs[1])}, but its metadata "
                                  f"names {spec.num_classes} classes")
    z_dims, out_dims = _static_dims(inputs[0]), _static_dims(graph.output[0])
    if len(z_dims) != 2 or z_dims[1] not in (None, spec.latent_dim):
        raise RuntimeErrorForUser(f"{where}: its input has shape {z_dims}, but its metadata says latent size "
                                  f"{spec.latent_dim}")
    if len(out_dims) != 4 or any(d not in (None, s) for d, s in zip(out_dims[1:], spec.image_shape)):
        raise RuntimeErrorForUser(f"{where}: its output has shape {out_dims}, but its metadata says images of "
                                  f"{list(spec.image_shape)}")
    elem_type = graph.output[0].type.tensor_type.elem_type
    if elem_type != OUTPUT_TYPES[output]:
        raise RuntimeErrorForUser(f"{where}: its metadata says its output is {output}, but the graph outputs "
                                  f"{onnx.TensorProto.DataType.Name(elem_type).lower()}")
    return ModelInfo(spec, output, meta, _check_sizes(model, where))


def _check_sizes(model, where: str) -> int:
    """Refuse a graph whose memory does not follow the request: an output whose batch is fixed, or any
    tensor that shape inference shows to be larger than MAX_TENSOR_BYTES whatever the batch (ONNX Runtime
    would allocate it at load, folding constants, or on the first request). Returns the bytes of the largest
    tensor that grows with the batch, per image."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError and others on hostile graphs
        raise RuntimeErrorForUser(f"{where} has a graph whose shapes cannot be checked ({str(exc)[:120]})") from None
    batch = _static_dims(inferred.graph.output[0])[:1]
    if batch and batch[0] is not None:
        raise RuntimeErrorForUser(f"{where} always returns {batch[0]} images, whatever the request")
    per_image = 0
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        dims = _static_dims(value)
        item = _ITEM_BYTES.get(value.type.tensor_type.elem_type, 8)
        if dims and all(d is not None for d in dims):
            size = int(np.prod(dims, dtype=np.int64)) * item
            if size > MAX_TENSOR_BYTES:
                raise RuntimeErrorForUser(f"{where} makes a {size / 2**20:,.0f} MB tensor whatever the request "
                                          f"(the limit is {MAX_TENSOR_BYTES >> 20} MB)")
        elif len(dims) > 1 and dims[0] is None and all(d is not None for d in dims[1:]):
            per_image = max(per_image, int(np.prod(dims[1:], dtype=np.int64)) * max(item, 4))  # CPU: fp16 runs as fp32
    return per_image


_ARENA: list = []  # the one capped allocator of this process, once registered


def session_options(threads: int = 0):
    """How every session of ours runs: from bytes (no base folder to resolve file names against), errors-only
    logs, ONNX Runtime's worker threads sleeping instead of spinning while they wait (a training run beside
    the dashboard needs those cycles: docs/performance.md), and allocations from one capped arena."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings about unused initialisers
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if not _ARENA:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(MAX_ARENA_BYTES, -1, -1, -1))
        _ARENA.append(info)
    options.add_session_config_entry("session.use_env_allocators", "1")
    return options


class OnnxGenerator:
    """A loaded ONNX generator: `images(z)` returns displayable uint8 (N, H, W, C) pictures."""

    def __init__(self, path: str | Path, device: str = "auto", threads: int = 0, root: str | Path | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.exists():
            raise RuntimeErrorForUser(f"{self.path} does not exist")
        try:
            raw = read_bounded(self.path, MAX_ONNX_BYTES, root)
        except UnsafeFile as exc:
            raise RuntimeErrorForUser(str(exc)) from None
        self.info = inspect_model(parse_model(raw, str(self.path)), str(self.path))
        requested = pick_providers(device)
        try:
            self.session = ort.InferenceSession(raw, sess_options=session_options(threads), providers=requested)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise RuntimeErrorForUser(f"{self.path} could not be loaded by ONNX Runtime "
                                      f"({str(exc).splitlines()[0][:200]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.class_input = self.session.get_inputs()[1].name if self.info.spec.conditional else None
        wanted = [p if isinstance(p, str) else p[0] for p in requested]
        # ONNX Runtime drops a provider that fails to start (e.g. CUDA without its libraries) and runs on
        # the next one: say so rather than claim the GPU.
        self.fell_back_from = wanted[0] if self.provider != wanted[0] else None
        # A request's output, and its activations (a few of the largest alive at once), stay within the bounds.
        activations = LIVE_TENSORS * max(self.info.image_bytes, 4 * self.info.spec.values_per_image)
        self.max_batch = max(1, min(MAX_REQUEST_BYTES // (4 * self.info.spec.values_per_image),
                                    MAX_ARENA_BYTES // 2 // activations))
        self.last_latency_ms = 0.0

    @property
    def provider(self) -> str:
        """The provider that actually runs the model (ONNX Runtime falls back to the CPU when CUDA fails)."""
        return self.session.get_providers()[0]

    def latents(self, seed: int, count: int, truncation: float = 1.0) -> np.ndarray:
        return latents(seed, count, self.info.latent_dim, truncation)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes a conditional model draws on request (empty for an unconditional one)."""
        return self.info.spec.class_names if self.info.spec.conditional else ()

    def class_index(self, name: str) -> int:
        """A class by its name (case-insensitive); an unknown one is a one-sentence error naming the others."""
        lookup = {c.lower(): i for i, c in enumerate(self.class_names)}
        if not self.class_names:
            raise RuntimeErrorForUser(f"{self.path.name} is not class-conditional: it draws no class on request")
        if name.lower() not in lookup:
            raise RuntimeErrorForUser(f"no class {name!r} in {self.path.name}; it knows: {', '.join(self.class_names)}")
        return lookup[name.lower()]

    def class_rows(self, count: int, classes=None) -> np.ndarray:
        """One-hot class rows for `count` images: each class in turn (None), one class index for all, an index per
        image, or rows given as they are (a mix of two classes interpolates between them)."""
        k = len(self.class_names)
        if classes is None:
            classes = np.arange(count) % k
        classes = np.asarray(classes)
        if classes.ndim == 2:
            if classes.shape != (count, k) or not np.isfinite(classes).all():
                raise ValueError(f"class rows must have shape ({count}, {k}), got {classes.shape}")
            return classes.astype(np.float32)
        indices = np.broadcast_to(classes, (count,))
        if not np.issubdtype(indices.dtype, np.integer):
            raise RuntimeErrorForUser(f"class indices must be integers, got {indices.dtype}")
        wrong = indices[(indices < 0) | (indices >= k)]
        if len(wrong):
            raise RuntimeErrorForUser(f"class index {wrong[:1]} is not one of this model's {k} classes (0-{k - 1})")
        return np.eye(k, dtype=np.float32)[indices]

    def run(self, z: np.ndarray, classes=None) -> np.ndarray:
        """Raw model output, (N, C, H, W): floats in pixel_range, or uint8 for 0-255 exports. A conditional model
        takes `classes` (see class_rows; by default each class in turn); an unconditional one ignores them."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.info.latent_dim:
            raise ValueError(f"latent vectors must have shape (N, {self.info.latent_dim}), got {z.shape}")
        if len(z) > self.max_batch:
            raise RuntimeErrorForUser(f"{len(z)} images in one request is over this model's limit of {self.max_batch}")
        feeds = {self.input_name: z}
        if self.class_input is not None:
            feeds[self.class_input] = self.class_rows(len(z), classes)
        start = time.perf_counter()
        try:
            out = self.session.run(None, feeds)[0]
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise RuntimeErrorForUser(f"{self.path.name} failed to generate ({str(exc).splitlines()[0][:200]})") from None
        self.last_latency_ms = (time.perf_counter() - start) * 1000
        expected = (len(z), *self.info.spec.image_shape)
        if tuple(out.shape) != expected:
            raise RuntimeErrorForUser(f"{self.path.name} returned shape {tuple(out.shape)}, expected {expected}")
        return out

    def images(self, z: np.ndarray, classes=None) -> np.ndarray:
        out = self.run(z, classes)
        if self.info.output == "uint8":
            return np.ascontiguousarray(out.transpose(0, 2, 3, 1), dtype=np.uint8)
        return to_uint8(self._finite(out), self.info.pixel_range)

    def unit(self, z: np.ndarray, classes=None) -> np.ndarray:
        """(N, C, H, W) pixels on a 0-1 scale, from the float output where there is one: finer than the 8-bit
        pictures, for the projection's distances and its encoder."""
        out = self.run(z, classes)
        if self.info.output == "uint8":
            return out.astype(np.float32) / 255.0
        lo, hi = self.info.pixel_range
        return np.clip((self._finite(out) - lo) / (hi - lo), 0.0, 1.0)

    def _finite(self, out: np.ndarray) -> np.ndarray:
        if not np.isfinite(out).all():
            raise RuntimeErrorForUser(f"{self.path.name} produced NaN or infinite pixels; re-export it from a "
                                      "healthy checkpoint")
        return out


CLASSIFIER_ASSETS = Path(__file__).resolve().parent / "assets"


class OnnxClassifier:
    """The project's feature classifier for one image shape, run by ONNX Runtime (no torch): labels and
    features of generated pictures for the dashboard (`python -m export.classifier_onnx` makes the files)."""

    def __init__(self, path: str | Path):
        import json

        import onnxruntime as ort

        raw = read_bounded(Path(path), MAX_ONNX_BYTES)
        meta = {p.key: p.value for p in parse_model(raw, str(path)).metadata_props}
        self.kind = meta.get("kind", "")
        self.class_names = tuple(json.loads(meta.get("class_names", "[]")))
        self.image_shape = tuple(json.loads(meta.get("image_shape", "[]")))
        self.session = ort.InferenceSession(raw, sess_options=session_options(), providers=["CPUExecutionProvider"])

    @classmethod
    def for_shape(cls, image_shape) -> "OnnxClassifier | None":
        """The committed classifier for images of this (C, H, W) shape, or None."""
        for path in sorted(CLASSIFIER_ASSETS.glob("*_classifier.onnx")):
            try:
                found = cls(path)
            except (UnsafeFile, RuntimeErrorForUser, OSError, ValueError):
                continue
            if found.image_shape == tuple(image_shape):
                return found
        return None

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and features of uint8 (N, H, W, C) pictures."""
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        logits, features = self.session.run(None, {"images": x})
        return logits, features

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.run(images)[0].argmax(axis=1)
