"""nearest.npz: generated samples beside their nearest training images (the dashboard's Memorisation tab).

For each generator name G ("generator", "generator_ema"), four arrays:
    G/samples     uint8 (N, H, W, C)   generated images
    G/neighbours  uint8 (N, H, W, C)   the training image nearest each, in the classifier's feature space
    G/distances   float (N,)           the feature distance to it
    G/threshold   float ()             nearer than this counts as a near-copy
plus `format_version` (1; files from before it existed hold the same arrays).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import npz

NEAREST = "nearest.npz"
VERSION = 1
SAMPLES, NEIGHBOURS, DISTANCES, THRESHOLD = "samples", "neighbours", "distances", "threshold"
MAX_BYTES = 64 << 20  # the file on disk
MAX_INFLATED = 256 << 20


@dataclass
class Nearest:
    samples: np.ndarray
    neighbours: np.ndarray
    distances: np.ndarray
    threshold: float


def to_bytes(per_generator: dict[str, Nearest]) -> bytes:
    arrays = {"format_version": np.array(VERSION)}
    for name, found in per_generator.items():
        arrays.update({f"{name}/{SAMPLES}": found.samples.astype(np.uint8),
                       f"{name}/{NEIGHBOURS}": found.neighbours.astype(np.uint8),
                       f"{name}/{DISTANCES}": np.asarray(found.distances, np.float32),
                       f"{name}/{THRESHOLD}": np.array(found.threshold, np.float32)})
    return npz.to_bytes(arrays)


def generators(raw: bytes) -> list[str]:
    """The generator names a file holds (from its member names; nothing is inflated)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [info.filename for info in archive.infolist()[:npz.MAX_MEMBERS]]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise npz.BadNpz(f"is not an npz archive ({str(exc)[:80]})") from None
    return sorted({n.rsplit("/", 1)[0] for n in names if n.endswith(f"/{SAMPLES}.npy")})


def read(raw: bytes, name: str) -> Nearest:
    """One generator's arrays, every dtype and shape checked; a bad file raises npz.BadNpz."""
    image = npz.Expect("u", 4, (None, None, None, None))
    arrays = npz.read(raw, {f"{name}/{SAMPLES}": image, f"{name}/{NEIGHBOURS}": image,
                            f"{name}/{DISTANCES}": npz.Expect("f", 1), f"{name}/{THRESHOLD}": npz.Expect("f", 0)},
                      max_total=MAX_INFLATED)
    samples, neighbours, distances, threshold = (arrays[f"{name}/{k}"] for k in (SAMPLES, NEIGHBOURS, DISTANCES,
                                                                                 THRESHOLD))
    if samples.dtype != np.uint8 or neighbours.dtype != np.uint8:
        raise npz.BadNpz("holds images that are not 8-bit")
    if samples.shape != neighbours.shape or samples.shape[-1] not in (1, 3) or len(distances) != len(samples):
        raise npz.BadNpz(f"holds arrays of mismatched shapes ({samples.shape}, {neighbours.shape}, {distances.shape})")
    if not (np.isfinite(distances).all() and np.isfinite(threshold)):
        raise npz.BadNpz("holds non-finite distances")
    return Nearest(samples, neighbours, distances, float(threshold))
