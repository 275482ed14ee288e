"""Image grids and PNG files with numpy and Pillow only.

Kept free of torch so that the dashboard (which must not import torch) can use the same
grid code as training. torchvision's `make_grid` would do, but the registry has no
torchvision build that runs with the CPU build of torch we install.
"""
from __future__ import annotations

import io
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


# Seconds to pause inside every atomic write, between writing the temp file and renaming it.
_WRITE_DELAY = float(os.environ.get("GAN_WORKBENCH_TEST_WRITE_DELAY", "0") or 0)


def to_uint8(images: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """(N, C, H, W) floats in `pixel_range` -> (N, H, W, C) uint8, clipped."""
    lo, hi = pixel_range
    scaled = (np.asarray(images, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one (H', W', C) image, row by row."""
    if images.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) images, got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y:y + h, x:x + w] = images[i]
    return out


def to_pil(image: np.ndarray) -> Image.Image:
    """(H, W, 1|3) uint8 -> a Pillow image (greyscale or RGB)."""
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(frames: list[np.ndarray], duration_ms: int = 100, loop: int = 0) -> bytes:
    pil_frames = [to_pil(f).convert("RGB") for f in frames]
    buffer = io.BytesIO()
    pil_frames[0].save(buffer, format="GIF", save_all=True, append_images=pil_frames[1:],
                       duration=duration_ms, loop=loop)
    return buffer.getvalue()


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if _WRITE_DELAY:  # fault injection for the crash tests: widen the window a kill can hit
                time.sleep(_WRITE_DELAY)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
