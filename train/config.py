"""The training configuration: one frozen dataclass, and the argparse parser built from it.

Every field has its help text next to it, so `--help` and `config.json` can never drift
apart. `None` means "the preset's book value"; `resolve()` fills those in.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from .data import DATASETS
from .models import PRESETS

# Fields a resumed run may change (they set how long, how often and how fast, not what is trained).
SCHEDULE_FIELDS = ("epochs", "max_steps", "sample_every", "checkpoint_every", "keep_checkpoints",
                   "log_every", "device", "data_dir", "eval_every", "eval_samples", "cuda_graphs",
                   "precision", "channels_last")


def _f(default, help_text: str, **extra):
    return field(default=default, metadata={"help": help_text, **extra})


@dataclass(frozen=True)
class TrainConfig:
    model: str = _f("dcgan", "model preset: dcgan (Géron's DCGAN), mlp (Géron's simple GAN), "
                    "frog (Chollet's CIFAR-10 frog DCGAN)", choices=tuple(PRESETS))
    dataset: str | None = _f(None, "fashion-mnist, cifar10 or folder (default: the preset's)", choices=DATASETS)
    data_dir: str | None = _f(None, "folder holding the dataset files (for --dataset folder: the images; "
                              "a train/ subfolder is used when present)")
    classes: str | None = _f(None, "comma-separated class names to keep, e.g. frog (default: the preset's)")
    epochs: int = _f(1, "passes over the data; 1 is a quick look, the books train 50 (dcgan, mlp) or ~40 (frog)")
    batch_size: int | None = _f(None, "images per step (book: 32, frog 20)")
    lr: float | None = _f(None, "learning rate for both D and G (book: 1e-3; frog D 8e-4, G 4e-4)")
    lr_d: float | None = _f(None, "learning rate of D only (overrides --lr)")
    lr_g: float | None = _f(None, "learning rate of G only (overrides --lr)")
    seed: int = _f(42, "random seed for weights, data order, noise and the fixed sample latents")
    device: str = _f("auto", "auto (CUDA when available), cpu, cuda or cuda:N")
    out: str = _f("checkpoints", "folder that holds run folders")
    name: str | None = _f(None, "run folder name (default: <model>-<dataset>-<date>-<time>)")
    cuda_graphs: str = _f("auto", "auto: on CUDA, replay each training step as one captured CUDA graph (not with "
                          "DDP or --replay); off: plain eager steps", choices=("auto", "off"))
    precision: str = _f("fp32", "fp32, or bf16: forward passes under bfloat16 autocast (faster on recent GPUs and on "
                        "CPUs with AVX-512 BF16; changes the numerics slightly, so it is off by default)",
                        choices=("fp32", "bf16"))
    channels_last: bool = _f(False, "convolution activations in channels-last memory layout (an option to measure: "
                             "see docs/performance.md)")
    max_steps: int = _f(0, "stop after this many steps in total (0 = no limit); for smoke runs")
    log_every: int = _f(50, "steps between metrics.jsonl records (each averages its window)")
    sample_every: int = _f(0, "also write a sample grid every N steps (0 = only at each epoch's end)")
    checkpoint_every: int = _f(1000, "steps between periodic checkpoints (0 = only last.pt at epoch ends)")
    keep_checkpoints: int = _f(3, "periodic checkpoints to keep (older ones are deleted)")
    eval_every: int = _f(0, "every N steps, log quick FID/KID and class coverage of 2,000 samples to metrics.jsonl "
                         "(0 = off; Fashion-MNIST-shaped models)")
    eval_samples: int = _f(2000, "samples for the quick in-training evaluation")
    label_smoothing: float = _f(0.0, "one-sided label smoothing: D's real targets become 1 - value (e.g. 0.1)")
    label_noise: float | None = _f(None, "Chollet's label noise: subtract value*U(0,1) from D's targets "
                                   "(frog preset: 0.05, else 0)")
    replay: int = _f(0, "experience replay: keep a buffer of this many past fakes; half of each fake "
                     "batch D sees comes from it (0 = off)")
    minibatch_std: bool = _f(False, "add a minibatch standard-deviation layer to D (minibatch discrimination)")
    ema: float = _f(0.0, "keep an exponential moving average of G's weights with this decay, e.g. 0.999 (0 = off)")
    leaky_slope: float | None = _f(None, "LeakyReLU slope of the frog preset (Keras 3: 0.2, book-era Keras 2: 0.3)")
    clip_value: float | None = _f(None, "clip each gradient value to ±this (frog: 1.0, else off)")

    def resolved(self) -> "TrainConfig":
        """Fill the preset's book values into every field left as None."""
        p = PRESETS[self.model]
        return dataclasses.replace(
            self,
            dataset=self.dataset or p.dataset,
            classes=self.classes if self.classes is not None else (",".join(p.classes) if not self.dataset or self.dataset == p.dataset else ""),
            batch_size=self.batch_size or p.batch_size,
            lr_d=self.lr_d or self.lr or p.lr_d,
            lr_g=self.lr_g or self.lr or p.lr_g,
            label_noise=p.label_noise if self.label_noise is None else self.label_noise,
            leaky_slope=p.leaky_slope if self.leaky_slope is None else self.leaky_slope,
            clip_value=p.clip_value if self.clip_value is None else self.clip_value,
        )

    @property
    def class_tuple(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in (self.classes or "").split(",") if c.strip())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def _bounded(kind, ok, rule: str):
    """An argparse type that names the rule in its error: "must be > 0, got -3"."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    return parse


def _positive(kind):
    return _bounded(kind, lambda v: v > 0, "> 0")


def _non_negative(kind):
    return _bounded(kind, lambda v: v >= 0, ">= 0")


_fraction = _bounded(float, lambda v: 0 <= v < 1, "in [0, 1)")


_TYPES = {
    "epochs": _positive(int), "batch_size": _positive(int), "lr": _positive(float), "lr_d": _positive(float),
    "lr_g": _positive(float), "max_steps": _non_negative(int), "log_every": _positive(int),
    "sample_every": _non_negative(int), "checkpoint_every": _non_negative(int), "keep_checkpoints": _positive(int),
    "eval_every": _non_negative(int), "eval_samples": _bounded(int, lambda v: v >= 100, ">= 100"),
    "label_smoothing": _fraction, "label_noise": _fraction, "replay": _non_negative(int), "ema": _fraction,
    "leaky_slope": _non_negative(float), "clip_value": _non_negative(float),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults are None so we can tell what the user typed."""
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"]
        if f.default is not None and f.type != "bool" and f.default is not False:
            help_text += f" (default: {f.default})"
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", default=None, help=help_text)
            continue
        kind = _TYPES.get(f.name, str if "str" in str(f.type) else (int if "int" in str(f.type) else float))
        parser.add_argument(flag, type=kind, default=None, choices=f.metadata.get("choices"),
                            metavar=None if f.metadata.get("choices") else f.name.upper(), help=help_text)


def from_args(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """The config with defaults for what was not given, and the dict of what was given."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return TrainConfig(**given), given
