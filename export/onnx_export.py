"""Export a generator to ONNX and prove it matches PyTorch.

`export_generator` turns a module and its `ModelSpec` into ONNX bytes (metadata embedded,
checked with onnx.checker); it puts the module in eval mode and writes nothing to disk. `parity` runs ONNX Runtime and PyTorch on the
same latent vectors and reports the largest absolute difference.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
import torch
from torch import nn

from core.errors import UserError
from core.spec import ModelSpec
from gan.models import ConditionalGenerator, call, evaluating, mixed_classes

from .fold import fold_affine_prefix
from inference.runtime import latents
from .subpixel import with_subpixel_deconvs

FP32_TOLERANCE = 1e-4
# fp16 keeps ~3 significant digits; after 2-5 layers errors of a few 1e-3 on a [-1, 1] scale are normal.
FP16_TOLERANCE = 2e-2
# uint8 output: rounding of values that sit on a .5 boundary may differ by one level.
UINT8_TOLERANCE = 1
PARITY_BATCHES = (1, 7, 64)


class ToPixels(nn.Module):
    """G followed by the display transform, so clients receive uint8 pixels straight from the graph."""

    def __init__(self, generator: nn.Module, pixel_range: tuple[float, float]):
        super().__init__()
        self.generator = generator
        self.lo, self.scale = pixel_range[0], 255.0 / (pixel_range[1] - pixel_range[0])

    def forward(self, z: torch.Tensor, *classes: torch.Tensor) -> torch.Tensor:
        pixels = (self.generator(z, *classes) - self.lo) * self.scale
        return torch.clamp(torch.round(pixels), 0, 255).to(torch.uint8)


class HalfPrecision(nn.Module):
    """fp16 weights and arithmetic inside, fp32 in and out. Made in PyTorch rather than by an
    ONNX fp16 converter: those have emitted unsorted graphs and wrong Casts (docs/decisions.md)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = copy.deepcopy(generator).half()

    def forward(self, z: torch.Tensor, *classes: torch.Tensor) -> torch.Tensor:
        return self.generator(z.half(), *(c.half() for c in classes)).float()


class _Named(nn.Module):
    """Gives the exported graph an input named `z` whatever G's forward calls it."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner(z)


class _NamedConditional(nn.Module):
    """A conditional G's graph: inputs `z` and `class`, the latter one-hot rows (mix two to interpolate)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.inner(z, onehot)


def _rewritten(generator: nn.Module, spec: ModelSpec, options: ExportOptions) -> tuple[nn.Module, list[str]]:
    """G with the export's graph rewrites applied; a conditional G's book layers (after [z, class code]) are
    folded and rewritten, its class code kept as is."""
    if isinstance(generator, ConditionalGenerator):
        net, folded = _rewritten(generator.net, dataclasses.replace(spec, conditional=False, class_names=(),
                                                                    latent_dim=spec.latent_dim + spec.num_classes),
                                 options)
        conditioned = copy.deepcopy(generator)
        conditioned.net = net
        return conditioned.eval(), folded
    folded = []
    if options.fold:
        generator, folded = fold_affine_prefix(generator, spec.latent_dim)
    if options.subpixel:
        generator = with_subpixel_deconvs(generator).eval()
    return generator, folded


@contextlib.contextmanager
def quiet_exporter():
    """The dynamo exporter logs about torchvision ops and deprecations that mean nothing to our users."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch._dynamo", "torch.export")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


@dataclass
class ExportOptions:
    opset: int = 18
    fp16: bool = False
    uint8_output: bool = False
    subpixel: bool = True  # transposed convolutions as Conv + DepthToSpace (export/subpixel.py)
    fold: bool = True  # leading affine layers as one matrix (export/fold.py)


def export_generator(generator: nn.Module, spec: ModelSpec, metadata: dict, options: ExportOptions) -> bytes:
    """ONNX bytes of `generator` (run in eval mode, its own mode left as found) with a dynamic batch axis and our
    metadata."""
    with evaluating(generator):
        return _export(generator, spec, metadata, options)


def _export(generator: nn.Module, spec: ModelSpec, metadata: dict, options: ExportOptions) -> bytes:
    generator, folded = _rewritten(generator, spec, options)
    if options.fp16:
        generator = HalfPrecision(generator).eval()
    inner = ToPixels(generator, spec.pixel_range) if options.uint8_output else generator
    module = (_NamedConditional if spec.conditional else _Named)(inner).eval()
    example = (torch.randn(2, spec.latent_dim),)  # batch >= 2: batch 1 can pin the "dynamic" axis to 1
    names = ["z"]
    if spec.conditional:
        example, names = (*example, mixed_classes(2, spec.num_classes)), ["z", "class"]
    batch = torch.export.Dim("batch", min=1, max=65536)
    with quiet_exporter():
        program = torch.onnx.export(
            module, example, dynamo=True, input_names=names, output_names=["images"], opset_version=options.opset,
            dynamic_shapes=tuple({0: batch} for _ in names), verbose=False)
    model = program.model_proto
    info = {
        **spec.to_metadata(),
        "output": "uint8" if options.uint8_output else "float", "precision": "fp16" if options.fp16 else "fp32",
        "deconv": "subpixel" if options.subpixel else "convtranspose",
        "folded_layers": "+".join(folded) or "none",
        **{k: str(v) for k, v in metadata.items()},
    }
    del model.metadata_props[:]
    for key, value in info.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def tolerance(options: ExportOptions) -> float:
    if options.uint8_output:
        return UINT8_TOLERANCE
    return FP16_TOLERANCE if options.fp16 else FP32_TOLERANCE


@torch.no_grad()
def torch_reference(generator: nn.Module, z: np.ndarray, spec: ModelSpec, uint8_output: bool,
                    onehot: np.ndarray | None = None) -> np.ndarray:
    with evaluating(generator):
        module = ToPixels(generator, spec.pixel_range) if uint8_output else generator
        return call(module, torch.from_numpy(z), None if onehot is None else torch.from_numpy(onehot)).numpy()


@dataclass
class Parity:
    """The proof that an export computes what PyTorch computes: max |ORT − PyTorch| per batch size."""

    errors: dict[int, float]
    provider: str  # the provider ONNX Runtime actually used (it falls back to the CPU if CUDA fails)

    @property
    def worst(self) -> float:
        return max(self.errors.values())


def parity(model_bytes: bytes, generator: nn.Module, spec: ModelSpec, options: ExportOptions,
           providers: list | None = None, batches=PARITY_BATCHES, seed: int = 0) -> Parity:
    """Max |ONNX Runtime − PyTorch| per batch size, on the same seeded latent vectors.

    A non-finite value on either side counts as an infinite difference: a generator whose
    weights went NaN must fail the proof, not pass it with "max |diff| nan".
    """
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=providers or ["CPUExecutionProvider"])
    errors = {}
    for batch in batches:
        z = latents(seed + batch, batch, spec.latent_dim)
        onehot = mixed_classes(batch, spec.num_classes).numpy() if spec.conditional else None
        ours = session.run(None, {"z": z, **({"class": onehot} if onehot is not None else {})})[0]
        ref = torch_reference(generator, z, spec, options.uint8_output, onehot)
        raw = ref if not options.uint8_output else torch_reference(generator, z, spec, False, onehot)
        if ours.shape != ref.shape:
            raise UserError(f"the exported model returns shape {ours.shape} for batch {batch} where PyTorch returns "
                            f"{ref.shape}; nothing was written")
        finite = np.isfinite(ours).all() and np.isfinite(raw).all()
        errors[batch] = float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()) if finite else np.inf
    return Parity(errors, session.get_providers()[0])
