"""The on-disk formats of our datasets, read into numpy with every failure a one-line UserError.

IDX (Fashion-MNIST), the CIFAR-10 python pickle batches (with an unpickler that builds arrays
and nothing else), and folders of image files (decoded with a pixel cap, so a decompression
bomb is refused by name instead of eating the machine's memory).
"""
from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import UserError
from core.images import MAX_DECODED_PIXELS
from core.progress import progress

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


# --- IDX -------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed), validating the header against the size."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path} is not a readable IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise UserError(f"{path} has a truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise UserError(f"{path} is truncated or corrupt: header says {shape} but the file holds "
                        f"{len(raw) - header} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)



# --- CIFAR-10 python batches -------------------------------------------------------------------

class _SafeUnpickler(pickle.Unpickler):
    """Loads the CIFAR batches (dicts of bytes, lists and numpy arrays) and nothing that runs code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def unpickle_batch(raw: bytes, where: str) -> dict:
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any failure here means a bad file
        raise UserError(f"{where} is not a valid CIFAR-10 batch ({exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise UserError(f"{where} is not a valid CIFAR-10 batch (no data/labels)")
    return batch


def read_cifar_members(tarball: Path | None, extracted: Path | None, members: list[str]) -> list[bytes]:
    if tarball is None:
        missing = [m for m in members if not (extracted / m).is_file()]
        if missing:
            raise UserError(f"{extracted} lacks {', '.join(missing)}")
        return [(extracted / m).read_bytes() for m in members]
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            out = []
            for m in members:
                f = tar.extractfile(f"cifar-10-batches-py/{m}")
                if f is None:
                    raise KeyError(m)
                out.append(f.read())
            return out
    except KeyError as exc:
        raise UserError(f"{tarball} lacks cifar-10-batches-py/{exc.args[0]}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{tarball} is not a readable CIFAR-10 tarball ({exc})") from None



# --- a folder of images --------------------------------------------------------------------------

def image_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_image(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) uint8 pixels of one file, resized (bicubic) to `size` (W, H) if needed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.size[0] * img.size[1] > MAX_DECODED_PIXELS:
                    raise UserError(f"{path} is {img.size[0]}x{img.size[1]} pixels, over the "
                                    f"{MAX_DECODED_PIXELS:,}-pixel limit (a decompression bomb?)")
                img = img.convert(mode)
                if img.size != size:
                    img = img.resize(size, Image.Resampling.BICUBIC)
                return np.asarray(img).reshape(size[1], size[0], -1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise UserError(f"{path} is not a readable image ({str(exc).splitlines()[0][:150] if str(exc) else type(exc).__name__})") from None


def read_folder(base: Path, image_shape: tuple[int, int, int]) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """Every image under `base` as (N, H, W, C) uint8, its class index (its subfolder) and the class names."""
    files = image_files(base)
    if not files:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {base}")
    channels, height, width = image_shape
    mode = {1: "L", 3: "RGB"}[channels]
    class_names = tuple(sorted({p.parent.relative_to(base).as_posix() for p in files}))
    class_index = {c: i for i, c in enumerate(class_names)}
    images = np.empty((len(files), height, width, channels), dtype=np.uint8)
    labels = []
    bar = progress(len(files), desc=f"load {base}", unit="img", disable=len(files) < 500, interval=10)
    for i, path in enumerate(files):
        images[i] = read_image(path, mode, (width, height))
        labels.append(class_index[path.parent.relative_to(base).as_posix()])
        bar.update(1)
    bar.close()
    return images, labels, class_names
