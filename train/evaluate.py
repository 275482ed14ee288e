"""Measure a run's generators: `python -m train.evaluate checkpoints/<run>` (see --help).

Prints and saves `<run>/eval.json`: Fréchet and kernel distances (FID/KID) between generated
and real test images, k-NN precision and recall, and for labelled data the class histogram
of generated images with its KL divergence from uniform and the classes covered. Reference
rows bracket the result: real train vs real test images (the floor) and an untrained
generator (the ceiling).

Features: for 1x28x28 data, our own Fashion-MNIST classifier (train/classifier.py). These are
classifier-feature distances, NOT Inception FID, and are not comparable with published
numbers. For other data pass `--inception-weights PATH` (torchvision's inception_v3 weights).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from core.errors import ArgumentParser, UserError, cli_entry
from core.files import atomic_write
from core.spec import ModelSpec

from . import checkpoint, classifier, data as datasets, metrics
from .config import TrainConfig
from .models import build_from_spec

NOTE = ("distances in the 128-d features of the project's Fashion-MNIST classifier: compare runs with each "
        "other, not with published Inception-FID numbers")


@dataclass
class FeatureSpace:
    """Maps images in [0, 1], (N, C, H, W), to features (N, D) and, when it can, to class predictions."""

    name: str
    features: Callable[[torch.Tensor], torch.Tensor]
    classes: Callable[[torch.Tensor], torch.Tensor] | None
    num_classes: int


def feature_space(image_shape, classifier_path=classifier.WEIGHTS, inception_weights: str | None = None) -> FeatureSpace:
    if inception_weights:
        return _inception(inception_weights)
    if tuple(image_shape) != (1, 28, 28):
        raise UserError(f"no feature extractor for {tuple(image_shape)} images: pass --inception-weights PATH "
                        "(torchvision's inception_v3 weights file)")
    model, record = classifier.load(classifier_path)

    @torch.no_grad()
    def features(x):
        return torch.cat([model.features(chunk) for chunk in x.split(1000)])

    @torch.no_grad()
    def classes(x):
        return torch.cat([model(chunk).argmax(1) for chunk in x.split(1000)])

    return FeatureSpace(f"fashion-classifier (test accuracy {record['test_accuracy']:.4f})", features, classes, 10)


def _inception(path: str) -> FeatureSpace:
    try:
        from torchvision.models import inception_v3
    except Exception as exc:  # noqa: BLE001 - torchvision missing or built for another torch
        raise UserError(f"--inception-weights needs a working torchvision ({type(exc).__name__})") from None
    model = inception_v3(weights=None, aux_logits=True, init_weights=False)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path} is not an inception_v3 weights file ({str(exc).splitlines()[0][:120]})") from None
    model.fc = nn.Identity()
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    @torch.no_grad()
    def features(x):
        out = []
        for chunk in x.split(100):
            chunk = chunk.expand(-1, 3, -1, -1) if chunk.shape[1] == 1 else chunk
            chunk = nn.functional.interpolate(chunk, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(model((chunk - mean) / std))
        return torch.cat(out)

    return FeatureSpace("inception_v3 pool features", features, None, 0)


def to_unit(images: torch.Tensor, pixel_range) -> torch.Tensor:
    lo, hi = pixel_range
    return ((images.float() - lo) / (hi - lo)).clamp(0, 1)


@torch.no_grad()
def generate(generator: nn.Module, count: int, spec: ModelSpec, seed: int = 0) -> torch.Tensor:
    """`count` images in [0, 1] from seeded latents, in eval mode, batch by batch."""
    generator.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    out = []
    for start in range(0, count, 500):
        z = torch.randn(min(500, count - start), spec.latent_dim, generator=gen).to(device)
        out.append(to_unit(generator(z), spec.pixel_range).cpu())
    return torch.cat(out)


def score(space: FeatureSpace, real_features: torch.Tensor, images: torch.Tensor, kid_subsets: int = 10,
          with_precision_recall: bool = True) -> dict:
    fake = space.features(images)
    result = {"fid": metrics.frechet_distance(real_features, fake),
              "kid": metrics.kernel_distance(real_features, fake, subsets=kid_subsets)}
    if with_precision_recall:
        result["precision"], result["recall"] = metrics.precision_recall(real_features, fake)
    if space.classes is not None:
        coverage = metrics.class_coverage(space.classes(images), space.num_classes)
        result.update(classes_covered=coverage["classes_covered"], kl_uniform=coverage["kl_uniform"],
                      class_histogram=coverage["histogram"])
    return result


class QuickEval:
    """The cheap in-training version: fixed real features and fixed latents, every N steps."""

    def __init__(self, cfg, spec: ModelSpec, samples: int):
        self.space = feature_space(spec.image_shape)
        real = datasets.load(cfg.dataset, "test", cfg.data_dir, cfg.class_tuple, spec.image_shape)
        order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:samples]
        self.real_features = self.space.features(real.images[order].float() / 255)
        self.samples, self.spec = samples, spec
        self.best_coverage = 0

    def __call__(self, generator: nn.Module) -> dict:
        was_training = generator.training
        images = generate(generator, self.samples, self.spec, seed=1)
        generator.train(was_training)
        result = score(self.space, self.real_features, images, kid_subsets=3, with_precision_recall=False)
        result.pop("class_histogram", None)
        return result

    def collapse_warning(self, result: dict) -> str | None:
        """A warning when class coverage falls two or more classes below its best so far."""
        covered = result.get("classes_covered")
        if covered is None:
            return None
        self.best_coverage = max(self.best_coverage, covered)
        if covered <= self.best_coverage - 2:
            return (f"warning: mode collapse? generated images now cover {covered} of {self.space.num_classes} "
                    f"classes (best so far {self.best_coverage})")
        return None


def references(space: FeatureSpace, test_features: torch.Tensor, real_train: torch.Tensor, spec: ModelSpec,
               count: int) -> dict:
    """Floor (real train vs real test) and ceiling (an untrained generator) in the same feature space."""
    torch.manual_seed(0)
    untrained, _ = build_from_spec(spec)
    return {
        "real_train_vs_test": score(space, test_features, real_train),
        "untrained_generator": score(space, test_features,
                                     generate(untrained, count, spec)),
    }


def format_table(rows: dict[str, dict]) -> str:
    keys = ["fid", "kid", "precision", "recall", "classes_covered", "kl_uniform"]
    keys = [k for k in keys if any(k in r for r in rows.values())]
    lines = [f"{'':28}" + "".join(f"{k:>16}" for k in keys)]
    for name, row in rows.items():
        cells = "".join(f"{row[k]:>16.4f}" if isinstance(row.get(k), float) else f"{row.get(k, ''):>16}" for k in keys)
        lines.append(f"{name:28}{cells}")
    return "\n".join(lines)


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder or checkpoint file")
    parser.add_argument("--samples", type=int, default=10_000, help="generated images per generator (default 10000)")
    parser.add_argument("--classifier", default=str(classifier.WEIGHTS), help="feature classifier weights")
    parser.add_argument("--inception-weights", help="use torchvision's Inception v3 features from this weights file")
    parser.add_argument("--no-reference", action="store_true", help="skip the floor/ceiling reference rows")
    args = parser.parse_args(argv)
    if args.samples < 100:
        raise UserError("--samples must be at least 100")
    ckpt = checkpoint.resolve(args.run)
    state = checkpoint.load(ckpt)
    spec, cfg = checkpoint.spec_of(state), TrainConfig.from_dict(state["config"])
    space = feature_space(spec.image_shape, args.classifier, args.inception_weights)
    shape = spec.image_shape
    test = datasets.load(cfg.dataset, "test", cfg.data_dir, cfg.class_tuple, shape)
    real_test = test.images[: args.samples].float() / 255
    real_features = space.features(real_test)
    generator, ema = checkpoint.build_generators(state)
    rows = {"generator": score(space, real_features, generate(generator, args.samples, spec))}
    if ema is not None:
        rows["generator_ema"] = score(space, real_features, generate(ema, args.samples, spec))
    report = {"run": ckpt.parent.name, "checkpoint": ckpt.name, "step": state["step"], "epoch": state["epoch"],
              "samples": args.samples, "features": space.name, "note": NOTE, "generators": rows}
    if not args.no_reference:
        train = datasets.load(cfg.dataset, "train", cfg.data_dir, cfg.class_tuple, shape)
        report["reference"] = references(space, real_features, train.images[: args.samples].float() / 255, spec, args.samples)
    atomic_write(ckpt.parent / "eval.json", (json.dumps(report, indent=2) + "\n").encode())
    table = {**rows, **{f"ref: {k}": v for k, v in report.get("reference", {}).items()}}
    print(f"{ckpt} (step {state['step']}), {args.samples} samples, features: {space.name}")
    print(format_table(table))
    print(f"wrote {ckpt.parent / 'eval.json'}  ({NOTE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
