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

PROJECT_SECONDS = 1.0  # the dashboard's and inference.generate's default search time
ENCODER_IMAGES, ENCODER_SEED = 4096, 3  # at most this many of G's images fit the encoder (exporter and add_encoder)


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


def fit_encoder(images: np.ndarray, z: np.ndarray, ridge: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """A ridge regression from images (N, H*W*C: HWC order, 0-1) back to their latents z (N, latent): where a
    projection starts. Solved in float64 in the primal or the dual form, whichever system is smaller; the
    penalty is `ridge` times the images' mean squared norm, so it scales with the data."""
    x, z = images.astype(np.float64), z.astype(np.float64)
    x_mean, z_mean = x.mean(0), z.mean(0)
    xc, zc = x - x_mean, z - z_mean
    penalty = ridge * float((xc ** 2).sum()) / len(x)
    if len(x) >= x.shape[1]:
        weight = np.linalg.solve(xc.T @ xc + penalty * np.eye(x.shape[1]), xc.T @ zc)
    else:
        weight = xc.T @ np.linalg.solve(xc @ xc.T + penalty * np.eye(len(x)), zc)
    return weight.astype(np.float32), (z_mean - x_mean @ weight).astype(np.float32)


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


def project(gen: OnnxGenerator, target: np.ndarray, seconds: float = PROJECT_SECONDS, seed: int = 0,
            pool: int = 1024, population: int = 32, parents: int = 8, explore: ExploreData | None = None,
            evaluations: int | None = None, class_row: np.ndarray | None = None) -> Projection:
    """The latent whose image is nearest `target` ((H, W, C) floats in 0-1) found within `seconds` (or after
    exactly `evaluations` generated images, which gives the same answer on any machine).

    Where the explore data holds an encoder (a ridge regression from images to latents fitted at export),
    its guess joins a smaller random pool and the search starts narrower around the best. The random pool
    is cut short when the time is up (a frog costs ~0.1 s here, so its pool is a handful). Small
    populations get closest in a second (docs/explorer.md has the measurements). A conditional model searches
    within one class: `class_row`, its one-hot row (the first class when not given)."""
    rng = np.random.default_rng(seed)
    latent = gen.info.latent_dim
    start = time.perf_counter()
    if gen.class_names and class_row is None:
        class_row = gen.class_rows(1, 0)[0]
    rows = (lambda n: None) if class_row is None else (lambda n: np.repeat(class_row[None], n, axis=0))
    measure = _distances(gen, target, rows)
    guess = explore.encode(target) if explore is not None and explore.has_encoder else None
    pool = max(parents, pool // 4) if guess is not None else pool
    z = rng.standard_normal((pool, latent)).astype(np.float32)
    if guess is not None:
        z[0] = guess

    def more(done: int) -> bool:
        return done < evaluations if evaluations is not None else time.perf_counter() - start < seconds

    scores, used = [], 0
    while used < pool and (not scores or more(used)):
        scores.append(measure(z[used:used + population]))
        used += len(scores[-1])
    scores = np.concatenate(scores)
    best_z, best = z[scores.argmin()].copy(), float(scores.min())
    mean, sigma = best_z.copy(), (0.3 if guess is not None else 0.5)
    weights = np.log(parents + 0.5) - np.log(np.arange(1, parents + 1))
    weights /= weights.sum()
    while more(used):
        half = rng.standard_normal((population // 2, latent)).astype(np.float32)
        candidates = mean + sigma * np.concatenate([half, -half])
        scores = measure(candidates)
        used += len(candidates)
        order = scores.argsort()[:parents]
        mean = (weights[:, None] * candidates[order]).sum(axis=0).astype(np.float32)
        if scores[order[0]] < best:
            best, best_z = float(scores[order[0]]), candidates[order[0]].copy()
            sigma *= 1.05
        else:
            sigma *= 0.9
    image = gen.images(best_z[None], rows(1))[0]
    return Projection(best_z, image, best, used, time.perf_counter() - start)


def _distances(gen: OnnxGenerator, target: np.ndarray, rows):
    """Mean squared difference to `target` of each image G makes from a batch of latents, on a 0-1 scale; from
    the float output where there is one (finer than the 8-bit pictures)."""
    goal = np.ascontiguousarray(target.transpose(2, 0, 1)[None], dtype=np.float32)
    return lambda z: ((gen.unit(z, rows(len(z))) - goal) ** 2).mean(axis=(1, 2, 3))


def best_random(gen: OnnxGenerator, target: np.ndarray, count: int = 10_000, seed: int = 1) -> float:
    """The distance of the best of `count` random samples: what a projection has to beat."""
    rng = np.random.default_rng(seed)
    best, chunk = np.inf, min(1000, gen.max_batch)
    for start in range(0, count, chunk):
        z = rng.standard_normal((min(chunk, count - start), gen.info.latent_dim)).astype(np.float32)
        images = gen.images(z).astype(np.float32) / 255.0
        best = min(best, float(((images - target[None]) ** 2).mean(axis=(1, 2, 3)).min()))
    return best


__all__ = ["ExploreData", "Projection", "load_explore", "project", "best_random", "read_target", "to_target",
           "BadImage"]
