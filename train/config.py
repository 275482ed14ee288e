"""The training configuration: one frozen dataclass, and the argparse parser built from it.

Every field carries its help text, its parser (type and bound) and its choices, so `--help`,
the checks on what a user types and `config.json` can never drift apart. `None` means "the
recipe's value, else the preset's book value"; `resolved()` fills those in.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from core.formats.config_json import DataSource
from core.spec import PRESETS

from .augment import OPERATIONS, parse_policy
from gan.data import DATASETS
from .step import ADAM_BETAS, OPTIMIZERS

RECIPES = ("book", "modern")
# What each recipe sets for the fields a user leaves out (docs/modern-recipe.md says why these values).
# The book recipe is the preset's own training, exactly; the modern one keeps the preset's architecture.
RECIPE_DEFAULTS = {
    "book": {"loss": "bce", "optimizer": "rmsprop", "spectral_norm": "off", "augment": "none", "augment_p": 0.0,
             "ada_target": 0.0},
    "modern": {"loss": "hinge", "optimizer": "adam", "spectral_norm": "off", "augment": ",".join(OPERATIONS),
               "augment_p": 0.0, "ada_target": 0.6, "label_noise": 0.0, "clip_value": 0.0},
}
# With no --epochs, --max-steps or --minutes, a new run is a quick look: this many minutes of
# training (at most QUICK_LOOK_EPOCHS epochs), the best first grid a small CPU gives in that time
# (docs/quick-look.md has the measurements behind the choice).
QUICK_LOOK_MINUTES, QUICK_LOOK_EPOCHS = 3.0, 5
# The modern recipe trains at the preset's book learning rates, except where they made G collapse:
# the frog's (D 8e-4, G 4e-4) without Chollet's gradient clipping lost G after ~500 steps; halved, it trains on.
MODERN_LEARNING_RATES = {"frog": (4e-4, 2e-4)}


def _policy(text: str) -> str:
    try:
        return ",".join(parse_policy(text)) or "none"
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

# Fields a resumed run may change (they set how long, how often and how fast, not what is trained).
SCHEDULE_FIELDS = ("epochs", "max_steps", "minutes", "sample_every", "checkpoint_every", "keep_checkpoints",
                   "log_every", "device", "data_dir", "eval_every", "eval_samples", "cuda_graphs",
                   "precision", "channels_last", "collective_timeout", "threads")


def _bounded(kind: type, ok: Callable, rule: str) -> Callable[[str], object]:
    """An argparse type that names the rule in its error: "must be > 0, got -3"."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


POSITIVE_INT = _bounded(int, lambda v: v > 0, "> 0")
POSITIVE_FLOAT = _bounded(float, lambda v: v > 0, "> 0")
COUNT = _bounded(int, lambda v: v >= 0, ">= 0")
NON_NEGATIVE_FLOAT = _bounded(float, lambda v: v >= 0, ">= 0")
FRACTION = _bounded(float, lambda v: 0 <= v < 1, "in [0, 1)")
FLAG = "flag"  # a store_true switch


def _f(default, help_text: str, parse: Callable | str = str, choices: tuple | None = None):
    """A config field with its flag's help, parser (a type such as POSITIVE_INT, or FLAG) and choices."""
    return field(default=default, metadata={"help": help_text, "parse": parse, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    model: str = _f("dcgan", "model preset: dcgan (Géron's DCGAN), mlp (Géron's simple GAN), "
                    "frog (Chollet's CIFAR-10 frog DCGAN)", choices=tuple(PRESETS))
    dataset: str | None = _f(None, "fashion-mnist, cifar10 or folder (default: the preset's)", choices=DATASETS)
    data_dir: str | None = _f(None, "folder holding the dataset files (for --dataset folder: the images; "
                              "a train/ subfolder is used when present)")
    classes: str | None = _f(None, "comma-separated class names to keep, e.g. frog (default: the preset's)")
    epochs: int | None = _f(None, "passes over the data; the books train 50 (dcgan, mlp) or 40 (frog). Without "
                            f"--epochs, --max-steps or --minutes a run is a quick look: {QUICK_LOOK_MINUTES:g} minutes "
                            f"of training, at most {QUICK_LOOK_EPOCHS} epochs", POSITIVE_INT)
    batch_size: int | None = _f(None, "images per step (book: 32, frog 20)", POSITIVE_INT)
    lr: float | None = _f(None, "learning rate for both D and G (book: 1e-3; frog D 8e-4, G 4e-4)", POSITIVE_FLOAT)
    lr_d: float | None = _f(None, "learning rate of D only (overrides --lr)", POSITIVE_FLOAT)
    lr_g: float | None = _f(None, "learning rate of G only (overrides --lr)", POSITIVE_FLOAT)
    seed: int = _f(42, "random seed for weights, data order, noise and the fixed sample latents", int)
    device: str = _f("auto", "auto (CUDA when available), cpu, cuda or cuda:N")
    out: str = _f("checkpoints", "folder that holds run folders")
    name: str | None = _f(None, "run folder name (default: <model>-<dataset>-<date>-<time>)")
    cuda_graphs: str = _f("auto", "auto: on CUDA, replay each training step as one captured CUDA graph (not with "
                          "DDP or --replay); off: plain eager steps", choices=("auto", "off"))
    precision: str = _f("auto", "fp32, or bf16: forward passes under bfloat16 autocast (changes the numerics "
                        "slightly; about 2x faster on some CPUs, slower on others: docs/performance.md); auto: bf16 "
                        "where a few passes of the model measure it clearly faster on this CPU, fp32 everywhere else",
                        choices=("auto", "fp32", "bf16"))
    channels_last: bool | None = _f(None, "convolution activations in channels-last memory layout (default: on for "
                             "frog, whose step it makes 1.3x faster, off elsewhere; --no-channels-last turns it off; "
                             "see docs/performance.md)", FLAG)
    threads: int = _f(0, "torch threads on the CPU: 0 starts with torch's own count (one per core, or "
                      "$OMP_NUM_THREADS) and every few minutes times a throwaway forward pass of G with it and with half "
                      "as many, training with the faster, so that a run beside another busy program does not wait on a taken core "
                      "(docs/performance.md); N fixes the count (then repeated runs compute exactly the same)", COUNT)
    max_steps: int = _f(0, "stop after this many steps in total (0 = no limit); for smoke runs", COUNT)
    minutes: float | None = _f(None, "stop after this many minutes of training in total, saving the run so "
                               "--resume can continue it (0 = no limit)", NON_NEGATIVE_FLOAT)
    log_every: int = _f(50, "steps between metrics.jsonl records (each averages its window)", POSITIVE_INT)
    sample_every: int = _f(0, "also write a sample grid every N steps (0 = only at each epoch's end)", COUNT)
    checkpoint_every: int = _f(1000, "steps between periodic checkpoints (0 = only last.pt at epoch ends)", COUNT)
    keep_checkpoints: int = _f(3, "periodic checkpoints to keep (older ones are deleted)", POSITIVE_INT)
    eval_every: int = _f(0, "every N steps, log quick FID/KID and class coverage of 2,000 samples to metrics.jsonl "
                         "(0 = off; Fashion-MNIST-shaped models)", COUNT)
    eval_samples: int = _f(2000, "samples for the quick in-training evaluation",
                           _bounded(int, lambda v: v >= 100, ">= 100"))
    label_smoothing: float = _f(0.0, "one-sided label smoothing: D's real targets become 1 - value (e.g. 0.1)",
                                FRACTION)
    label_noise: float | None = _f(None, "Chollet's label noise: subtract value*U(0,1) from D's targets "
                                   "(frog preset: 0.05, else 0)", FRACTION)
    replay: int = _f(0, "experience replay: keep a buffer of this many past fakes; half of each fake "
                     "batch D sees comes from it (0 = off)", COUNT)
    minibatch_std: bool = _f(False, "add a minibatch standard-deviation layer to D (minibatch discrimination)", FLAG)
    conditional: bool = _f(False, "class-conditional: G draws the class it is given, D judges image and class "
                           "together (the one-hot class beside z in G's first layer, a projection discriminator); "
                           "trains on every class of the dataset unless --classes names some", FLAG)
    ema: float = _f(0.999, "also keep an exponential moving average of G's weights with this decay (warmed up: "
                    "min(decay, (1+step)/(10+step))), exported beside G as generator_ema.onnx; it never feeds back "
                    "into training, so G trains exactly as without it (0 = off)", FRACTION)
    leaky_slope: float | None = _f(None, "LeakyReLU slope of the frog preset (Keras 3: 0.2, book-era Keras 2: 0.3)",
                                   NON_NEGATIVE_FLOAT)
    clip_value: float | None = _f(None, "clip each gradient value to ±this (frog: 1.0, else off; modern: off)",
                                  NON_NEGATIVE_FLOAT)
    recipe: str = _f("book", "book: each preset's training exactly as its book has it; modern: the same architecture "
                     "trained with hinge loss, Adam (beta1 0) at the preset's two learning rates, and differentiable "
                     "augmentation of everything D sees with an adaptive probability (docs/modern-recipe.md); the "
                     "flags below change single parts", choices=RECIPES)
    loss: str | None = _f(None, "bce (the books' non-saturating loss) or hinge (book: bce, modern: hinge)",
                          choices=("bce", "hinge"))
    optimizer: str | None = _f(None, f"rmsprop (Keras defaults) or adam (betas {ADAM_BETAS}) (book: rmsprop, "
                               "modern: adam)", choices=tuple(OPTIMIZERS))
    spectral_norm: str | None = _f(None, "spectral normalisation of D's weights (book: off; modern: on for the "
                                   "dcgan preset, where it helped at every length measured, and for a conditional "
                                   "dcgan or mlp; off for frog, whose D it left constant, conditional or not, and "
                                   "the unconditional mlp: docs/modern-recipe.md)",
                                   choices=("on", "off"))
    augment: str | None = _f(None, f"differentiable augmentations of every image D sees: a comma list of "
                             f"{', '.join(OPERATIONS)}, or none (book: none, modern: all three)", _policy)
    augment_p: float | None = _f(None, "probability of each augmentation per image; the start value when adaptive "
                                 "(book: 0, modern: 0)", _bounded(float, lambda v: 0 <= v <= 1, "in [0, 1]"))
    ada_target: float | None = _f(None, "adapt the augmentation probability to keep E[sign D(real)] at this value "
                                  "(0 = fixed probability; book: 0, modern: 0.6)", FRACTION)
    collective_timeout: float = _f(600.0, "under torchrun: seconds a process waits for the others at a collective "
                                   "(rank 0's evaluations and checkpoints included) before it says which stopped "
                                   "answering and exits, keeping the last checkpoint", POSITIVE_FLOAT)
    ada_kimg: float = _f(20.0, "thousands of real images over which the adaptive probability can move from 0 to 1",
                         POSITIVE_FLOAT)
    class_loss: float | None = _f(None, "with --conditional: weight of an auxiliary classification loss (AC-GAN, "
                                  "Odena et al. 2017): D also learns each real image's class, and G is also trained "
                                  "to make images D classifies as the class asked for, which sharpens classes that "
                                  "look alike (docs/conditional.md; 0 = off; --conditional --recipe modern: 1, "
                                  "else 0)", NON_NEGATIVE_FLOAT)

    def resolved(self) -> "TrainConfig":
        """Fill every field left as None: the recipe's value where it has one, else the preset's book value."""
        p = PRESETS[self.model]
        recipe = RECIPE_DEFAULTS[self.recipe]

        def pick(name: str, book_value):
            value = getattr(self, name)
            if value is None and name == "spectral_norm" and self.recipe == "modern" and self.model != "frog" and (
                    self.conditional or self.model == "dcgan"):
                # as SNGAN/BigGAN train projection Ds, and it made the modern DCGAN better at every length measured
                # (the shipped dcgan-modern-50ep, docs/results.md); the frog's D went constant with it, so the
                # conditional frog (all of CIFAR-10, docs/conditional.md) trained without it
                return "on"
            if value is None and name == "class_loss":  # the shipped conditional model's: every class >= 90 % right
                return 1.0 if self.conditional and self.recipe == "modern" else 0.0
            return value if value is not None else recipe.get(name, book_value)

        quick_look = self.is_quick_look
        lr_d, lr_g = self._recipe_lrs()
        return dataclasses.replace(
            self,
            epochs=self.epochs or (QUICK_LOOK_EPOCHS if quick_look else p.epochs),
            minutes=QUICK_LOOK_MINUTES if quick_look else (self.minutes or 0.0),
            dataset=self.dataset or p.dataset,
            classes=self._resolved_classes(),
            batch_size=self.batch_size or p.batch_size,
            lr_d=self.lr_d or self.lr or lr_d,
            lr_g=self.lr_g or self.lr or lr_g,
            label_noise=pick("label_noise", p.label_noise),
            leaky_slope=p.leaky_slope if self.leaky_slope is None else self.leaky_slope,
            clip_value=pick("clip_value", p.clip_value),
            channels_last=p.channels_last if self.channels_last is None else self.channels_last,
            **{name: pick(name, None) for name in ("loss", "optimizer", "spectral_norm", "augment", "augment_p",
                                                   "ada_target", "class_loss")},
        )

    @property
    def is_quick_look(self) -> bool:
        """Whether this (unresolved) config asks for a quick look: no length given at all."""
        return self.epochs is None and not self.max_steps and self.minutes is None

    def _recipe_lrs(self) -> tuple[float, float]:
        p = PRESETS[self.model]
        if self.recipe == "modern":
            return MODERN_LEARNING_RATES.get(self.model, (p.lr_d, p.lr_g))
        return p.lr_d, p.lr_g

    def _resolved_classes(self) -> str:
        """The classes asked for; else the preset's own (frog), but only on the preset's own dataset."""
        if self.classes is not None:
            return self.classes
        if self.conditional:
            return ""  # every class: a conditional model is asked for any of them
        p = PRESETS[self.model]
        on_preset_data = not self.dataset or self.dataset == p.dataset
        return ",".join(p.classes) if on_preset_data else ""

    @property
    def class_tuple(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in (self.classes or "").split(",") if c.strip())

    @property
    def data_source(self) -> DataSource:
        return DataSource(self.dataset or "", self.data_dir, self.class_tuple)

    def with_precision(self, device) -> tuple["TrainConfig", str | None]:
        """--precision auto made concrete for the device (train/precision.py: bf16 only where it is measured
        faster here), and why, for the start-up line (None when the user chose)."""
        if self.precision != "auto":
            return self, None
        from core.spec import ModelSpec

        from .precision import auto

        choice, why = auto(device, ModelSpec.of_preset(self.model, leaky_slope=self.leaky_slope),
                           min(self.batch_size or PRESETS[self.model].batch_size, 64))  # larger: same ratio, slower
        return dataclasses.replace(self, precision=choice), why

    @property
    def augment_ops(self) -> tuple[str, ...]:
        return parse_policy(self.augment or "")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Read a saved config; runs written before the recipe fields existed were book runs."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if values.get("lr_d") is not None and "loss" not in values:  # resolved, saved before recipes existed
            for name, value in RECIPE_DEFAULTS["book"].items():
                values.setdefault(name, value)
            values.setdefault("minutes", 0.0)
        if values.get("lr_d") is not None:  # resolved, saved before --class-loss existed: trained without it
            values.setdefault("class_loss", 0.0)
        return cls(**values)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults are None so we can tell what the user typed."""
    for f in dataclasses.fields(TrainConfig):
        meta = f.metadata
        help_text = meta["help"]
        if meta["parse"] == FLAG:
            parser.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        if f.default is not None:
            help_text += f" (default: {f.default})"
        parser.add_argument(flag(f.name), type=meta["parse"], default=None, choices=meta["choices"],
                            metavar=None if meta["choices"] else f.name.upper(), help=help_text)


def from_args(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """The config with defaults for what was not given, and the dict of what was given."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return TrainConfig(**given), given
