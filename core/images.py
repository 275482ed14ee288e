"""Image grids, PNG/GIF bytes and safe decoding, with numpy and Pillow only.

Training writes its sample grids with the same code the dashboard shows them with.
torchvision's `make_grid` would do, but the registry has no torchvision build that runs with
the CPU build of torch we install (docs/decisions.md).
"""
from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

# Decoding cap for images read from run folders and uploads: 64 Mpx is far beyond any grid we
# write (a 256-image 32x32 grid is 0.3 Mpx) and well below a decompression bomb's gigabytes.
MAX_DECODED_PIXELS = 64_000_000
READ_FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"


class BadImage(Exception):
    """Bytes that are not an image we may decode (unreadable, or too many pixels)."""


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


def upscale(image: np.ndarray, target: int = 640, max_factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement so 28-pixel images are visible, with crisp pixels."""
    factor = max(1, min(max_factor, round(target / max(image.shape[:2]))))
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def numbered_grid(images: np.ndarray, ncols: int, target: int = 720, padding: int = 2) -> np.ndarray:
    """The grid, enlarged to about `target` pixels wide, with each image's index in its top-left corner
    (what a picker of "image 12" needs to be usable). RGB (H', W', 3) uint8."""
    picture = grid(images, ncols=ncols, padding=padding)
    h, w = images.shape[1:3]
    factor = max(1, min(12, round(target / picture.shape[1])))
    big = to_pil(picture.repeat(factor, axis=0).repeat(factor, axis=1)).convert("RGB")
    draw = ImageDraw.Draw(big)
    for i in range(len(images)):
        r, c = divmod(i, ncols)
        x, y = (padding + c * (w + padding)) * factor, (padding + r * (h + padding)) * factor
        text = str(i)
        box = draw.textbbox((x + 2, y + 1), text)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(20, 20, 20))
        draw.text((x + 2, y + 1), text, fill=(255, 230, 80))
    return np.asarray(big)


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


def decode(data: bytes, mode: str = "RGB", max_pixels: int = MAX_DECODED_PIXELS) -> np.ndarray:
    """(H, W, C) uint8 pixels of an image file's bytes; a bomb or garbage is a `BadImage`.

    The pixel count is checked from the header before anything is decoded, so a small file
    that claims gigapixels costs nothing.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise BadImage(f"{width}x{height} pixels is over the {max_pixels:,}-pixel limit")
                array = np.asarray(img.convert(mode))
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage(f"is not an image file of a format that is read here ({READ_FORMATS})") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            MemoryError) as exc:
        raise BadImage(f"is not a readable image ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") \
            from None
    return array.reshape(array.shape[0], array.shape[1], -1)
