"""What a generator's latent space holds, computed from the PyTorch weights at export time.

The dashboard and `inference.generate` are torch-free, so everything that needs G's weights or the
project's classifier is computed here and stored beside the ONNX model as `<model>.explore.npz`
(named and hashed in the model's metadata, so a stale or foreign file is refused):

- **SeFa** (Shen & Zhou 2021): where G starts with an affine map A of z, the eigenvectors of AᵀA
  with the largest eigenvalues are the directions that change A's output most. The DCGAN's
  Dense → BatchNorm → ConvTranspose prefix is affine, and the export fold already computes it as
  one matrix, so SeFa is exact there.
- **GANSpace** (Härkönen et al. 2020) where it is not: the `mlp` and `frog` generators apply a
  nonlinearity right after their first Dense layer, so SeFa on that layer's weight would ignore
  what the SELU/LeakyReLU does. We take PCA of the first layer's *activations* over many z and
  regress z onto the principal coordinates: the regression weights are the latent directions.
- **Class directions**, where a project classifier knows the data: label samples with it and take
  each class's mean z minus the overall mean (z is isotropic Gaussian, so this is the linear
  direction that best separates the class), normalised.

Each direction is measured, not just indexed: moving base latents along it, how the classifier's
class shares and the pixels change.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from core.formats.explore_npz import ExploreData
from core.spec import ModelSpec
from gan.models import ConditionalGenerator, mixed_classes
from inference.latent_space import ENCODER_IMAGES, ENCODER_SEED, fit_encoder
from evaluation.quality import to_unit

from .fold import AFFINE, fold_affine_prefix

DIRECTIONS = 8  # unsupervised directions kept
# G's arithmetic the explore data may spend: 4,096 DCGAN images (capped) but ~260 frogs (3.9 G each).
EXPLORE_MULTIPLY_ADDS = 1e12
MEASURE_STRENGTH = 3.0  # latent units moved to measure a direction's effect
Labeller = Callable[[torch.Tensor], torch.Tensor]  # images in [0, 1] -> class probabilities (N, K)


def sefa(weight: torch.Tensor, count: int = DIRECTIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """Top eigenvectors (rows, orthonormal) and eigenvalues of AᵀA for A = weight (out, latent)."""
    a = weight.double()
    values, vectors = torch.linalg.eigh(a.T @ a)  # ascending
    order = values.argsort(descending=True)[:count]
    return vectors[:, order].T.float(), values[order].float()


def first_block(generator: nn.Sequential) -> nn.Sequential:
    """G's layers up to and including its first nonlinearity."""
    layers = list(generator)
    end = next(i for i, layer in enumerate(layers) if not isinstance(layer, AFFINE))
    return nn.Sequential(*layers[: end + 1])


@torch.no_grad()
def ganspace(generator: nn.Sequential, latent_dim: int, count: int = DIRECTIONS, samples: int = 8192,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent directions (rows, unit length) of the top principal components of the first layer's
    activations, and the share of the activations' variance each component explains."""
    z = torch.randn(samples, latent_dim, generator=torch.Generator().manual_seed(seed))
    y = first_block(generator.eval())(z).reshape(samples, -1).double()
    y = y - y.mean(0)
    # Only the top components are needed: a randomized truncated SVD (Halko et al.) instead of the full
    # one, which for the frog's 32,768 activations took tens of minutes on 2 cores.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        _, s, v = torch.svd_lowrank(y, q=min(count + 10, *y.shape), niter=4)
    coords = y @ v[:, :count]                                       # (N, count) principal coordinates
    weights = torch.linalg.lstsq(z.double(), coords).solution.T    # (count, latent): z -> coordinates
    directions = weights / weights.norm(dim=1, keepdim=True)
    explained = (s[:count] ** 2) / (y ** 2).sum()
    return directions.float(), explained.float()


@torch.no_grad()
def generate_unit(generator: nn.Module, z: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    return to_unit(torch.cat([generator(part) for part in z.split(512)]), spec.pixel_range)


@torch.no_grad()
def class_directions(generator: nn.Module, spec: ModelSpec, labeller: Labeller, class_names: tuple[str, ...],
                     samples: int = 4096, seed: int = 1, min_share: float = 0.01) -> tuple[torch.Tensor, list[str]]:
    """Unit directions towards each class that at least `min_share` (and not all) of the samples fall in."""
    z = torch.randn(samples, spec.latent_dim, generator=torch.Generator().manual_seed(seed))
    labels = labeller(generate_unit(generator, z, spec)).argmax(1)
    centre = z.mean(0)
    vectors, names = [], []
    for c, name in enumerate(class_names):
        members = labels == c
        if min_share <= members.float().mean() <= 1 - min_share and members.sum() >= 8:
            v = z[members].mean(0) - centre
            vectors.append(v / v.norm())
            names.append(name)
    return (torch.stack(vectors) if vectors else torch.zeros(0, spec.latent_dim)), names


@torch.no_grad()
def measure(generator: nn.Module, spec: ModelSpec, vectors: torch.Tensor, labeller: Labeller | None,
            class_names: tuple[str, ...], strength: float = MEASURE_STRENGTH, bases: int = 256,
            seed: int = 2) -> list[dict]:
    """For each direction: the mean absolute pixel change (0-1 scale) and the class shares' changes when
    `bases` latents move by ±strength along it."""
    z = torch.randn(bases, spec.latent_dim, generator=torch.Generator().manual_seed(seed))
    results = []
    for v in vectors:
        minus, plus = generate_unit(generator, z - strength * v, spec), generate_unit(generator, z + strength * v, spec)
        effect = {"pixel_change": float((plus - minus).abs().mean())}
        if labeller is not None:
            shift = (labeller(plus).mean(0) - labeller(minus).mean(0)).tolist()
            effect["class_shift"] = dict(zip(class_names, shift))
        results.append(effect)
    return results


@torch.no_grad()
def encoder(generator: nn.Module, spec: ModelSpec, count: int, seed: int = ENCODER_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The projection's starting guess (inference/latent_space.fit_encoder) fitted on `count` of G's images."""
    z = torch.randn(count, spec.latent_dim, generator=torch.Generator().manual_seed(seed))
    images = generate_unit(generator, z, spec).permute(0, 2, 3, 1).reshape(count, -1)
    return fit_encoder(images.double().numpy(), z.double().numpy())


def describe(effect: dict) -> str:
    """'Sneaker +41%, Sandal −23% · pixels 0.12': the effect of moving from − to + along a direction."""
    shift = effect.get("class_shift", {})
    top = sorted(shift.items(), key=lambda kv: -abs(kv[1]))[:2]
    parts = [f"{name} {'+' if value >= 0 else '−'}{abs(value) * 100:.0f}%" for name, value in top if abs(value) >= 0.01]
    return ", ".join(parts + [f"pixels {effect['pixel_change']:.2f}"])


@torch.no_grad()
def multiply_adds(generator: nn.Module, spec: ModelSpec) -> int:
    """G's multiply-adds per image, counted from its layers' shapes (the frog G does ~400x the DCGAN's)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.Conv2d):
            total += output[0].numel() * module.weight[0].numel()
        elif isinstance(module, nn.ConvTranspose2d):
            total += inputs[0][0].numel() * module.weight[0].numel()

    hooks = [m.register_forward_hook(count) for m in generator.modules()
             if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    try:
        generator(torch.zeros(1, spec.latent_dim))
    finally:
        for hook in hooks:
            hook.remove()
    return max(1, total)


def images_affordable(generator: nn.Module, spec: ModelSpec, budget: float = EXPLORE_MULTIPLY_ADDS) -> int:
    """How many images the explore data may generate: a fixed arithmetic budget, never the clock, so that
    two exports of one checkpoint write identical files on any machine."""
    return max(64, int(budget // multiply_adds(generator, spec)))


def compute(generator: nn.Module, spec: ModelSpec, labeller: Labeller | None = None,
            class_names: tuple[str, ...] = (), test_images: np.ndarray | None = None,
            images: int | None = None) -> ExploreData:
    """Everything the explorer needs for `<model>.explore.npz`, from `images` generated images (default:
    within EXPLORE_MULTIPLY_ADDS of G's arithmetic)."""
    generator = generator.eval()
    conditional = isinstance(generator, ConditionalGenerator)
    if conditional:  # measured over every class in turn; the class itself is an input, not a direction
        generator, labeller = MixedClasses(generator, spec.num_classes).eval(), None
    budget = images or images_affordable(generator, spec)
    vectors, kind = unsupervised(generator, spec)
    labels = [f"{kind} {i + 1}" for i in range(len(vectors))]
    kinds = [kind] * len(vectors)
    if labeller is not None:
        towards, classes = class_directions(generator, spec, labeller, class_names,
                                            samples=int(min(4096, max(256, budget // 2))))
        vectors = torch.cat([vectors, towards])
        labels += [f"towards {name}" for name in classes]
        kinds += ["class"] * len(classes)
    bases = int(min(256, max(8, budget // (4 * max(1, len(vectors))))))
    effects = measure(generator, spec, vectors, labeller, class_names, bases=bases)
    real = test_images if test_images is not None else np.zeros((0, spec.image_shape[1], spec.image_shape[2],
                                                                     spec.image_shape[0]), np.uint8)
    start = (None, None) if conditional else encoder(generator, spec, count=int(min(ENCODER_IMAGES, max(64, budget))))
    return ExploreData(vectors.numpy().astype(np.float32), labels, kinds, [describe(e) for e in effects],
                       real.astype(np.uint8), *start)


class MixedClasses(nn.Module):
    """A conditional G as a function of z alone: image i is of class i mod K."""

    def __init__(self, generator: ConditionalGenerator, num_classes: int):
        super().__init__()
        self.generator, self.num_classes = generator, num_classes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, mixed_classes(len(z), self.num_classes, z.device))


def unsupervised(generator: nn.Module, spec: ModelSpec) -> tuple[torch.Tensor, str]:
    """SeFa where G's first map of z is affine (exactly, for the folded DCGAN prefix), else GANSpace; for a
    conditional G, SeFa on the z columns of its first layer (the class code's columns left out)."""
    if isinstance(generator, MixedClasses):
        first = generator.generator.net
        folded, names = fold_affine_prefix(first, spec.latent_dim + spec.num_classes)
        weight = (folded if names else first)[0].weight.detach()[:, :spec.latent_dim]
        return sefa(weight, DIRECTIONS)[0], "sefa"
    folded, names = fold_affine_prefix(generator, spec.latent_dim)
    if names:
        return sefa(folded[0].weight.detach(), DIRECTIONS)[0], "sefa"
    return ganspace(generator, spec.latent_dim, DIRECTIONS)[0], "ganspace"
