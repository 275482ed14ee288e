"""Exploring an exported generator without torch: its stored directions, and projecting real images.

Used by the dashboard and by `python -m inference.generate`; numpy and ONNX Runtime only.

- `load_explore` reads `<model>.explore.npz` (written by the exporter beside the model) and
  refuses it unless its SHA-256 is the one the model's metadata records: a stale or foreign file
  never silently labels another model's latent space.
- `project` finds a latent whose image matches a target picture. ONNX Runtime gives no
  gradients, so it searches: the best of a random pool, then an evolution strategy (weighted
  recombination of the best of each antithetic population, step size adapted on success) until
  its time budget is spent. Distance is the mean squared pixel difference on a 0-1 scale.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import UnsafeFile, read_bounded
from core.formats.explore_npz import DIGEST_KEY, EXPLORE_KEY, MAX_BYTES, ExploreData, parse
from core.formats.npz import BadNpz
from core.images import BadImage, decode

from .runtime import OnnxGenerator


def load_explore(gen: OnnxGenerator, root: str | Path | None = None) -> tuple[ExploreData | None, str | None]:
    """The model's explore data, or (None, why not) as one sentence."""
    meta = gen.info.metadata
    name, digest = meta.get(EXPLORE_KEY), meta.get(DIGEST_KEY)
    if not name or not digest:
        return None, (f"{gen.path.name} was exported without latent-space data: re-export it with "
                      "python -m export.to_onnx (without --no-explore)")
    path = gen.path.parent / Path(name).name  # beside the model, never elsewhere
    try:
        raw = read_bounded(path, MAX_BYTES, root)
    except UnsafeFile as exc:
        return None, f"{path.name}: {exc}"
    if hashlib.sha256(raw).hexdigest() != digest:
        return None, f"{path.name} does not belong to {gen.path.name} (its checksum differs): re-export the model"
    try:
        return parse(raw, gen.info.latent_dim, gen.info.spec.image_shape), None
    except BadNpz as exc:
        return None, f"{path.name} {exc}"


def to_target(image: np.ndarray, gen: OnnxGenerator) -> np.ndarray:
    """An (H, W, C) uint8 picture as the model's kind of image: channels, size, then 0-1 floats."""
    from PIL import Image

    c, h, w = gen.info.spec.image_shape
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("L" if c == 1 else "RGB")
    if picture.size != (w, h):
        picture = picture.resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(picture, dtype=np.float32).reshape(h, w, c) / 255.0


def read_target(data: bytes, gen: OnnxGenerator) -> np.ndarray:
    """An uploaded PNG/JPEG as a target for `project`; a bad file is a BadImage."""
    return to_target(decode(data, "RGB"), gen)


@dataclass
class Projection:
    z: np.ndarray        # (latent,) the latent found
    image: np.ndarray    # (H, W, C) uint8, G(z)
    distance: float      # mean squared pixel difference, 0-1 scale
    evaluations: int
    seconds: float


def project(gen: OnnxGenerator, target: np.ndarray, seconds: float = 3.0, seed: int = 0, pool: int = 1024,
            population: int = 64, parents: int = 16) -> Projection:
    """The latent whose image is nearest `target` ((H, W, C) floats in 0-1) found within `seconds`."""
    rng = np.random.default_rng(seed)
    latent = gen.info.latent_dim
    start = time.perf_counter()

    def distances(z: np.ndarray) -> np.ndarray:
        images = gen.images(z).astype(np.float32) / 255.0
        return ((images - target[None]) ** 2).mean(axis=(1, 2, 3))

    z = rng.standard_normal((pool, latent)).astype(np.float32)
    scores = np.concatenate([distances(part) for part in np.array_split(z, max(1, pool // 256))])
    best_z, best = z[scores.argmin()].copy(), float(scores.min())
    mean, sigma, evaluations = best_z.copy(), 0.5, pool
    weights = np.log(parents + 0.5) - np.log(np.arange(1, parents + 1))
    weights /= weights.sum()
    while time.perf_counter() - start < seconds:
        half = rng.standard_normal((population // 2, latent)).astype(np.float32)
        candidates = mean + sigma * np.concatenate([half, -half])
        scores = distances(candidates)
        evaluations += len(candidates)
        order = scores.argsort()[:parents]
        mean = (weights[:, None] * candidates[order]).sum(axis=0).astype(np.float32)
        if scores[order[0]] < best:
            best, best_z = float(scores[order[0]]), candidates[order[0]].copy()
            sigma *= 1.05
        else:
            sigma *= 0.9
    image = gen.images(best_z[None])[0]
    return Projection(best_z, image, best, evaluations, time.perf_counter() - start)


def best_random(gen: OnnxGenerator, target: np.ndarray, count: int = 10_000, seed: int = 1) -> float:
    """The distance of the best of `count` random samples: what a projection has to beat."""
    rng = np.random.default_rng(seed)
    best = np.inf
    for start in range(0, count, 1000):
        z = rng.standard_normal((min(1000, count - start), gen.info.latent_dim)).astype(np.float32)
        images = gen.images(z).astype(np.float32) / 255.0
        best = min(best, float(((images - target[None]) ** 2).mean(axis=(1, 2, 3)).min()))
    return best


__all__ = ["ExploreData", "Projection", "load_explore", "project", "best_random", "read_target", "to_target",
           "BadImage"]
