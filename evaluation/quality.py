"""Scoring generated images in a classifier's feature space (used by evaluation.evaluate and during training).

A `FeatureSpace` maps images in [0, 1] to features and, where it knows the data, to classes:
the Fashion-MNIST classifier for 1x28x28 images, the CIFAR-10 classifier for 3x32x32 ones. Every
score says which space it was measured in: these are classifier-feature distances, not Inception FID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from core.errors import UserError
from core.progress import progress
from core.formats.config_json import DataSource
from core.spec import ModelSpec

from gan import data as datasets

from . import classifier, metrics
from gan.models import build_from_spec, call, one_hot

# Near-copy threshold: this quantile of the distances from real test images to their nearest training image.
NEAR_COPY_QUANTILE = 0.01


@dataclass
class FeatureSpace:
    """Maps images in [0, 1], (N, C, H, W), to features (N, D) and, when it can, to class predictions."""

    name: str
    features: Callable[[torch.Tensor], torch.Tensor]
    classes: Callable[[torch.Tensor], torch.Tensor] | None = None
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def class_indices(self, names: tuple[str, ...]) -> list[int]:
        """The classifier's indices of a run's classes (all of them for a run on the whole dataset)."""
        lookup = {c.lower(): i for i, c in enumerate(self.class_names)}
        picked = [lookup[n.lower()] for n in names if n.lower() in lookup]
        return picked if picked and len(picked) == len(names) else list(range(len(self.class_names)))


def feature_space(image_shape, classifier_path=None) -> FeatureSpace:
    kind = classifier.kind_for(image_shape)
    if kind is None:
        raise UserError(f"no feature classifier for {tuple(image_shape)} images: the project has one for 1x28x28 "
                        "(Fashion-MNIST) and one for 3x32x32 (CIFAR-10) images")
    model, record = classifier.load(classifier_path or kind.weights)
    if record["kind"] != kind.name:
        raise UserError(f"{classifier_path} is the {record['kind']} classifier; {tuple(image_shape)} images need the "
                        f"{kind.name} one")

    @torch.no_grad()
    def features(x):
        return torch.cat([model.features(chunk) for chunk in x.split(500)])

    @torch.no_grad()
    def classes(x):
        return classifier.predict(model, (x * 255).round().to(torch.uint8))

    name = f"{kind.name} classifier features (test accuracy {record['test_accuracy']:.4f})"
    return FeatureSpace(name, features, classes, kind.class_names)


def to_unit(images: torch.Tensor, pixel_range) -> torch.Tensor:
    lo, hi = pixel_range
    return ((images.float() - lo) / (hi - lo)).clamp(0, 1)


@torch.no_grad()
def requested(count: int, spec: ModelSpec, only: int | None = None) -> torch.Tensor | None:
    """The classes a conditional model is asked for: each in turn (or only class `only`); None if unconditional."""
    if not spec.conditional:
        return None
    return torch.full((count,), only) if only is not None else torch.arange(count) % spec.num_classes


@torch.no_grad()
def generate(generator: nn.Module, count: int, spec: ModelSpec, seed: int = 0, only: int | None = None,
             desc: str | None = None) -> torch.Tensor:
    """`count` images in [0, 1] from seeded latents, in eval mode, batch by batch; a conditional model draws every
    class in turn (or only class `only`). With `desc`, a progress bar: 10,000 frogs take minutes on a CPU."""
    generator.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    classes = requested(count, spec, only)
    out = []
    bar = progress(count, desc=desc or "", unit="img", disable=desc is None)
    try:
        for start in range(0, count, 500):
            z = torch.randn(min(500, count - start), spec.latent_dim, generator=gen).to(device)
            onehot = None if classes is None else one_hot(classes[start:start + len(z)], spec.num_classes).to(device)
            out.append(to_unit(call(generator, z, onehot), spec.pixel_range).cpu())
            bar.update(len(z))
    finally:
        bar.close()
    return torch.cat(out)


def agreement(space: FeatureSpace, images: torch.Tensor, spec: ModelSpec, classes: torch.Tensor) -> float:
    """The share of a conditional model's images the classifier labels as the class asked for."""
    lookup = {c.lower(): i for i, c in enumerate(space.class_names)}
    wanted = torch.tensor([lookup.get(spec.class_names[k].lower(), -1) for k in classes.tolist()])
    return float((space.classes(images) == wanted).float().mean())


def score(space: FeatureSpace, real_features: torch.Tensor, images: torch.Tensor, run_classes: tuple[str, ...] = (),
          kid_subsets: int = 10, with_precision_recall: bool = True, fake_features: torch.Tensor | None = None) -> dict:
    """Distances to the real features; for a classifier space, how the samples spread over the run's classes.
    `fake_features` are the images' features when the caller already has them (a frog's classifier pass over
    10,000 samples is not free)."""
    fake = space.features(images) if fake_features is None else fake_features
    result = {"fid": metrics.frechet_distance(real_features, fake),
              "kid": metrics.kernel_distance(real_features, fake, subsets=kid_subsets)}
    if with_precision_recall:
        result["precision"], result["recall"] = metrics.precision_recall(real_features, fake)
    if space.classes is not None:
        predicted = space.classes(images)
        targets = space.class_indices(run_classes)
        coverage = metrics.class_coverage(predicted, len(space.class_names), among=targets)
        result.update(classes_covered=coverage["classes_covered"], kl_uniform=coverage["kl_uniform"],
                      class_histogram=coverage["histogram"])
        if len(targets) < len(space.class_names):
            result["in_classes"] = coverage["in_classes"]
    return result


def references(space: FeatureSpace, test_features: torch.Tensor, real_train: torch.Tensor, spec: ModelSpec,
               count: int, real_train_features: torch.Tensor | None = None) -> dict:
    """Floor (real train vs real test) and ceiling (an untrained generator) in the same feature space."""
    torch.manual_seed(0)
    untrained, _ = build_from_spec(spec)
    return {
        "real_train_vs_test": score(space, test_features, real_train, spec.class_names,
                                    fake_features=real_train_features),
        "untrained_generator": score(space, test_features, generate(untrained, count, spec), spec.class_names),
    }


def near_copies(train_features: torch.Tensor, test_features: torch.Tensor, fake_features: torch.Tensor) -> dict:
    """Does G copy its training images? The share of samples closer to a training image than real test images
    typically are (the NEAR_COPY_QUANTILE of test-to-train nearest distances; real images: that share by
    construction), and each sample's nearest training image and distance."""
    test_d, _ = metrics.nearest(test_features, train_features)
    threshold = float(torch.quantile(test_d, NEAR_COPY_QUANTILE))
    fake_d, fake_i = metrics.nearest(fake_features, train_features)
    return {"near_copy_share": float((fake_d < threshold).float().mean()), "threshold": threshold,
            "real_test_share": NEAR_COPY_QUANTILE, "distances": fake_d, "neighbours": fake_i}


def sample_order(total: int, count: int, seed: int = 0) -> torch.Tensor:
    """Which `count` of `total` images sample_of draws: an image folder lists its classes one after another, so
    its first N images can all be airplanes."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:count]


def sample_of(images: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """`count` of `images` (uint8) drawn at random (sample_order) as [0, 1] floats."""
    return images[sample_order(len(images), count, seed)].float() / 255


class QuickEval:
    """The cheap in-training version: fixed real features and fixed latents, every N steps."""

    def __init__(self, source: DataSource, spec: ModelSpec, samples: int):
        self.space = feature_space(spec.image_shape)
        real = datasets.load(source.dataset, "test", source.data_dir, source.classes, spec.image_shape)
        self.real_features = self.space.features(sample_of(real.images, samples))
        self.samples, self.spec = samples, spec
        self.best_coverage = 0

    def __call__(self, generator: nn.Module) -> dict:
        was_training = generator.training
        images = generate(generator, self.samples, self.spec, seed=1)
        generator.train(was_training)
        result = score(self.space, self.real_features, images, self.spec.class_names, kid_subsets=3,
                       with_precision_recall=False)
        result.pop("class_histogram", None)
        if self.spec.conditional and self.space.classes is not None:
            result["class_agreement"] = agreement(self.space, images, self.spec, requested(len(images), self.spec))
        return result

    def collapse_warning(self, result: dict) -> str | None:
        """A warning when class coverage falls two or more classes below its best so far."""
        covered = result.get("classes_covered")
        if covered is None:
            return None
        self.best_coverage = max(self.best_coverage, covered)
        if covered <= self.best_coverage - 2:
            return (f"warning: mode collapse? generated images now cover {covered} of {len(self.space.class_names)} "
                    f"classes (best so far {self.best_coverage})")
        return None
