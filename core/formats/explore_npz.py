"""<model>.explore.npz: what the explorer knows of one exported generator's latent space.

Written by the exporter beside its model (export/explore.py computes the arrays) and named, with its
SHA-256, in the model's metadata (keys EXPLORE_KEY and DIGEST_KEY), so a stale or foreign file is
refused (inference/latent_space.py). Arrays:
    vectors      float32 (K, latent)   unit latent directions
    names        text (K,)             "sefa 1", "towards Sneaker", …
    kinds        text (K,)             "sefa", "ganspace" or "class"
    effects      text (K,)             what moving along each does, measured at export
    test_images  uint8 (M, H, W, C)    real test images, targets for projection (M may be 0)
    format_version  () = 2
Version 1 (no format_version) also held `scores` and `pixel_change`, which nothing read; they are ignored.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import npz

VERSION = 2
SUFFIX = ".explore.npz"
EXPLORE_KEY, DIGEST_KEY = "explore", "explore_sha256"  # the model's metadata_props that name this file
VECTORS, NAMES, KINDS, EFFECTS, TEST_IMAGES = "vectors", "names", "kinds", "effects", "test_images"
KIND_NAMES = ("sefa", "ganspace", "class")
MAX_BYTES = 64 << 20
MAX_INFLATED = 128 << 20
MAX_DIRECTIONS = 1024


def file_name(model_path: Path | str) -> str:
    """The explore file beside a model: generator.onnx -> generator.explore.npz."""
    return f"{Path(model_path).stem}{SUFFIX}"


@dataclass
class ExploreData:
    vectors: np.ndarray      # (k, latent) unit directions
    names: list[str]
    kinds: list[str]
    effects: list[str]
    test_images: np.ndarray  # (n, H, W, C) uint8

    def index(self, name: str) -> int:
        return self.names.index(name)


def to_bytes(data: ExploreData) -> tuple[bytes, str]:
    """The file's bytes (identical for identical data) and their SHA-256."""
    raw = npz.to_bytes({VECTORS: np.asarray(data.vectors, np.float32), NAMES: np.array(data.names, dtype=str),
                        KINDS: np.array(data.kinds, dtype=str), EFFECTS: np.array(data.effects, dtype=str),
                        TEST_IMAGES: np.asarray(data.test_images, np.uint8), "format_version": np.array(VERSION)})
    return raw, hashlib.sha256(raw).hexdigest()


def parse(raw: bytes, latent_dim: int, image_shape: tuple[int, int, int]) -> ExploreData:
    """The arrays, each checked against what the model it belongs to needs; a bad file raises npz.BadNpz."""
    c, h, w = image_shape
    arrays = npz.read(raw, {VECTORS: npz.Expect("f", 2, (None, latent_dim)), NAMES: npz.Expect("U", 1),
                            KINDS: npz.Expect("U", 1), EFFECTS: npz.Expect("U", 1),
                            TEST_IMAGES: npz.Expect("u", 4, (None, h, w, c))}, max_total=MAX_INFLATED)
    k = len(arrays[VECTORS])
    if not len(arrays[NAMES]) == len(arrays[KINDS]) == len(arrays[EFFECTS]) == k or k > MAX_DIRECTIONS:
        raise npz.BadNpz(f"holds {k} directions but {len(arrays[NAMES])} names")
    if not np.isfinite(arrays[VECTORS]).all():
        raise npz.BadNpz("holds non-finite directions")
    if arrays[TEST_IMAGES].dtype != np.uint8:
        raise npz.BadNpz("holds test images that are not 8-bit")
    names = [str(n)[:100] for n in arrays[NAMES]]
    if len(set(names)) != len(names):
        raise npz.BadNpz("names a direction twice")
    kinds = [str(kind) for kind in arrays[KINDS]]
    if not set(kinds) <= set(KIND_NAMES):
        raise npz.BadNpz(f"holds an unknown kind of direction ({sorted(set(kinds) - set(KIND_NAMES))[0][:40]!r})")
    return ExploreData(arrays[VECTORS].astype(np.float32), names, kinds, [str(e)[:200] for e in arrays[EFFECTS]],
                       arrays[TEST_IMAGES])
