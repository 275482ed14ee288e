"""What a trained model is, in one typed place: the book presets and `ModelSpec`.

`Preset` holds a book model's facts and training defaults (docs/book-models.md lists the
sources). `ModelSpec` describes one trained generator: which preset, latent size, image shape,
pixel range, the architecture options that change its weights, and the classes it was trained
on. The trainer builds it once; it is written into every checkpoint (`to_dict`) and into every
exported ONNX file (`to_metadata`), and read back from both here and nowhere else, with every
field checked, because both kinds of file may come from somebody else.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_LATENT_DIM = 4096
MAX_SIDE = 512  # pixels per image side; the presets make 28 and 32


class SpecError(ValueError):
    """A model description that is missing, malformed or impossible; the text says which field."""


@dataclass(frozen=True)
class Preset:
    """Everything about a book model that training, export and the dashboard must agree on."""

    name: str
    latent_dim: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    pixel_range: tuple[float, float]  # range of G's output and of the scaled real images
    dataset: str  # default dataset
    classes: tuple[str, ...] = ()
    batch_size: int = 32
    epochs: int = 50
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    clip_value: float = 0.0  # Keras clipvalue; 0 = off
    label_noise: float = 0.0  # Chollet's noise on D's labels
    leaky_slope: float = 0.2
    channels_last: bool = False  # the training default: on where it measured faster (docs/performance.md)
    source: str = ""


PRESETS: dict[str, Preset] = {
    "mlp": Preset(
        "mlp", latent_dim=30, image_shape=(1, 28, 28), pixel_range=(0.0, 1.0),
        dataset="fashion-mnist", source="Géron, Hands-On ML ch. 17, simple GAN",
    ),
    "dcgan": Preset(
        "dcgan", latent_dim=100, image_shape=(1, 28, 28), pixel_range=(-1.0, 1.0),
        dataset="fashion-mnist", source="Géron, Hands-On ML ch. 17, DCGAN",
    ),
    "frog": Preset(
        "frog", latent_dim=32, image_shape=(3, 32, 32), pixel_range=(-1.0, 1.0),
        dataset="cifar10", classes=("frog",), batch_size=20, epochs=40,
        lr_d=8e-4, lr_g=4e-4, clip_value=1.0, label_noise=0.05, leaky_slope=0.2, channels_last=True,
        source="Chollet, Deep Learning with Python, CIFAR-10 frog DCGAN",
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    """One trained generator: enough to rebuild it from weights, and to show and score its images."""

    preset: str
    latent_dim: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    pixel_range: tuple[float, float]
    leaky_slope: float | None = None  # the frog preset's LeakyReLU slope (changes G)
    minibatch_std: bool = False  # D's minibatch-stddev layer (changes D's weights)
    dataset: str = ""
    class_names: tuple[str, ...] = ()
    conditional: bool = False  # G and D take each image's class (--conditional): G draws the class it is given

    def __post_init__(self):
        _check(isinstance(self.preset, str) and 0 < len(self.preset) <= 64, "preset", self.preset)
        _check(_is_int(self.latent_dim) and 0 < self.latent_dim <= MAX_LATENT_DIM, "latent_dim", self.latent_dim)
        shape = self.image_shape
        _check(isinstance(shape, tuple) and len(shape) == 3 and all(map(_is_int, shape)) and shape[0] in (1, 3)
               and all(0 < s <= MAX_SIDE for s in shape[1:]), "image_shape", shape)
        lo_hi = self.pixel_range
        _check(isinstance(lo_hi, tuple) and len(lo_hi) == 2 and all(_is_number(v) and math.isfinite(v) for v in lo_hi)
               and lo_hi[0] < lo_hi[1], "pixel_range", lo_hi)
        _check(self.leaky_slope is None or (_is_number(self.leaky_slope) and 0 <= self.leaky_slope < 10),
               "leaky_slope", self.leaky_slope)
        _check(isinstance(self.minibatch_std, bool), "minibatch_std", self.minibatch_std)
        _check(isinstance(self.dataset, str), "dataset", self.dataset)
        _check(isinstance(self.class_names, tuple) and all(isinstance(c, str) for c in self.class_names),
               "class_names", self.class_names)
        _check(isinstance(self.conditional, bool) and (not self.conditional or 2 <= len(self.class_names) <= 1000),
               "conditional", f"{self.conditional} with {len(self.class_names)} classes")

    @classmethod
    def of_preset(cls, name: str, **changes) -> "ModelSpec":
        """The spec of a book preset with its own defaults (for tests, benchmarks and untrained models)."""
        p = PRESETS[name]
        values = dict(preset=name, latent_dim=p.latent_dim, image_shape=p.image_shape, pixel_range=p.pixel_range,
                      leaky_slope=p.leaky_slope, dataset=p.dataset, class_names=p.classes)
        return cls(**{**values, **changes})

    @property
    def num_classes(self) -> int:
        """The classes a conditional model takes (0 for an unconditional one)."""
        return len(self.class_names) if self.conditional else 0

    @property
    def values_per_image(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    # --- checkpoints (the "model" entry) ----------------------------------------------------

    def to_dict(self) -> dict:
        return {"preset": self.preset, "latent_dim": self.latent_dim, "image_shape": list(self.image_shape),
                "pixel_range": list(self.pixel_range), "minibatch_std": self.minibatch_std,
                "leaky_slope": self.leaky_slope, "dataset": self.dataset, "class_names": list(self.class_names),
                "conditional": self.conditional}

    @classmethod
    def from_dict(cls, values) -> "ModelSpec":
        """The spec stored in a checkpoint (every checkpoint version so far used these keys)."""
        if not isinstance(values, dict):
            raise SpecError("the model description is not a dictionary")
        missing = [k for k in ("preset", "latent_dim", "image_shape", "pixel_range") if k not in values]
        if missing:
            raise SpecError(f"the model description lacks {', '.join(missing)}")
        return cls(values["preset"], values["latent_dim"], _tuple(values["image_shape"], "image_shape"),
                   _tuple(values["pixel_range"], "pixel_range"), values.get("leaky_slope"),
                   values.get("minibatch_std", False), values.get("dataset") or "",
                   _tuple(values.get("class_names") or (), "class_names"), values.get("conditional", False))

    # --- ONNX metadata_props (strings) ------------------------------------------------------

    def to_metadata(self) -> dict[str, str]:
        return {"preset": self.preset, "latent_dim": str(self.latent_dim),
                "image_shape": json.dumps(list(self.image_shape)), "pixel_range": json.dumps(list(self.pixel_range)),
                "dataset": self.dataset, "class_names": ",".join(self.class_names),
                "leaky_slope": json.dumps(self.leaky_slope), "conditional": json.dumps(self.conditional)}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "ModelSpec":
        """The spec stored in an exported model; files from before `leaky_slope` or `conditional` were stored read
        as None and unconditional."""
        missing = [k for k in ("preset", "latent_dim", "image_shape", "pixel_range") if k not in meta]
        if missing:
            raise SpecError(f"no GAN workbench metadata ({', '.join(missing)} missing)")
        try:
            latent = int(meta["latent_dim"])
            shape, pixel_range = json.loads(meta["image_shape"]), json.loads(meta["pixel_range"])
            slope = json.loads(meta.get("leaky_slope", "null"))
            conditional = json.loads(meta.get("conditional", "false"))
        except (ValueError, TypeError) as exc:
            raise SpecError(f"malformed metadata ({exc})") from None
        classes = tuple(c for c in meta.get("class_names", "").split(",") if c)
        return cls(meta["preset"], latent, _tuple(shape, "image_shape"), _tuple(pixel_range, "pixel_range"), slope,
                   False, meta.get("dataset", ""), classes, conditional)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tuple(value, name: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"{name} must be a list, got {type(value).__name__}")
    return tuple(value)


def _check(ok: bool, name: str, value) -> None:
    if not ok:
        raise SpecError(f"impossible {name}: {str(value)[:80]}")
