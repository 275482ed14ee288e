"""<model>.explore.npz: what the explorer knows of one exported generator's latent space.

Written by the exporter beside its model (export/explore.py computes the arrays) and named, with its
SHA-256, in the model's metadata (keys EXPLORE_KEY and DIGEST_KEY), so a stale or foreign file is
refused (inference/latent_space.py). Arrays:
    vectors      float32 (K, latent)   unit latent directions
    names        text (K,)             "sefa 1", "towards Sneaker", …
    kinds        text (K,)             "sefa", "ganspace" or "class"
    effects      text (K,)             what moving along each does, measured at export
    test_images  uint8 (M, H, W, C)    real test images, targets for projection (M may be 0)
    encoder_weight, encoder_bias  float32 (H*W*C, latent), (latent,)   optional: a ridge regression from an
                                       image (HWC, 0-1) to its latent, where projection starts (version 3)
    format_version  () = 3
Version 1 (no format_version) also held `scores` and `pixel_change`, which nothing read; they are ignored.
Versions 1 and 2 have no encoder: projection then starts from random latents alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import npz

VERSION = 3
SUFFIX = ".explore.npz"
EXPLORE_KEY, DIGEST_KEY = "explore", "explore_sha256"  # the model's metadata_props that name this file
VECTORS, NAMES, KINDS, EFFECTS, TEST_IMAGES = "vectors", "names", "kinds", "effects", "test_images"
ENCODER_W, ENCODER_B = "encoder_weight", "encoder_bias"
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
    encoder_weight: np.ndarray | None = None  # (H*W*C, latent): image (HWC, 0-1, flattened) -> latent
    encoder_bias: np.ndarray | None = None    # (latent,)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def has_encoder(self) -> bool:
        return self.encoder_weight is not None and self.encoder_bias is not None

    def encode(self, image: np.ndarray) -> np.ndarray:
        """The encoder's latent for an (H, W, C) picture on a 0-1 scale."""
        return (image.reshape(-1).astype(np.float32) @ self.encoder_weight + self.encoder_bias).astype(np.float32)


def to_bytes(data: ExploreData) -> tuple[bytes, str]:
    """The file's bytes (identical for identical data) and their SHA-256."""
    arrays = {VECTORS: np.asarray(data.vectors, np.float32), NAMES: np.array(data.names, dtype=str),
              KINDS: np.array(data.kinds, dtype=str), EFFECTS: np.array(data.effects, dtype=str),
              TEST_IMAGES: np.asarray(data.test_images, np.uint8), "format_version": np.array(VERSION)}
    if data.has_encoder:
        arrays.update({ENCODER_W: np.asarray(data.encoder_weight, np.float32),
                       ENCODER_B: np.asarray(data.encoder_bias, np.float32)})
    raw = npz.to_bytes(arrays)
    return raw, hashlib.sha256(raw).hexdigest()


def parse(raw: bytes, latent_dim: int, image_shape: tuple[int, int, int]) -> ExploreData:
    """The arrays, each checked against what the model it belongs to needs; a bad file raises npz.BadNpz."""
    c, h, w = image_shape
    arrays = npz.read(raw, {VECTORS: npz.Expect("f", 2, (None, latent_dim)), NAMES: npz.Expect("U", 1),
                            KINDS: npz.Expect("U", 1), EFFECTS: npz.Expect("U", 1),
                            TEST_IMAGES: npz.Expect("u", 4, (None, h, w, c)),
                            ENCODER_W: npz.Expect("f", 2, (c * h * w, latent_dim)),
                            ENCODER_B: npz.Expect("f", 1, (latent_dim,))},
                      optional=(ENCODER_W, ENCODER_B), max_total=MAX_INFLATED)
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
    encoder = [arrays.get(ENCODER_W), arrays.get(ENCODER_B)]
    if (encoder[0] is None) != (encoder[1] is None) or not all(np.isfinite(a).all() for a in encoder if a is not None):
        raise npz.BadNpz("holds half an encoder, or a non-finite one")
    return ExploreData(arrays[VECTORS].astype(np.float32), names, kinds, [str(e)[:200] for e in arrays[EFFECTS]],
                       arrays[TEST_IMAGES], *(a.astype(np.float32) if a is not None else None for a in encoder))
