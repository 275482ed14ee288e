"""Real datasets, loaded into one uint8 tensor of shape (N, C, H, W).

Where the files come from, in order: `--data-dir` if given (and only there), else the
cache folder (`$GAN_WORKBENCH_DATA`, default `~/.cache/gan-workbench`), then the folders
that system packages install (Debian's `dataset-fashion-mnist`), and last a download
from the canonical source, verified against its published MD5 and then cached.
Set `GAN_WORKBENCH_OFFLINE=1` to forbid downloads (the tests do).

The whole dataset stays in memory as uint8 (Fashion-MNIST is 47 MB): the trainer keeps
it on the training device and scales batches there, so no DataLoader sits in the loop.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.errors import ArgumentParser, UserError, cli_entry, run_main

from . import data_formats as formats

FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# MD5 of each published .gz file: what a download must match. (Files found on disk are not
# hashed: a packager may recompress them; their IDX headers are checked against their sizes.)
FASHION_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SYSTEM_FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_TARBALL = "cifar-10-python.tar.gz"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

DATASETS = ("fashion-mnist", "cifar10", "folder")


@dataclass
class ImageData:
    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor | None  # int64, (N,), or None when unlabelled
    class_names: tuple[str, ...]
    source: str  # where the files were found, for logs and config.json

    def __len__(self) -> int:
        return self.images.shape[0]


def cache_dir() -> Path:
    return Path(os.environ.get("GAN_WORKBENCH_DATA", Path.home() / ".cache" / "gan-workbench"))


def load(name: str, split: str = "train", data_dir: str | Path | None = None,
         classes: tuple[str, ...] = (), image_shape: tuple[int, int, int] | None = None) -> ImageData:
    """Load a dataset split; `image_shape` (C, H, W) is required for folders (images are resized)."""
    if name == "fashion-mnist":
        data = _load_fashion(split, data_dir)
    elif name == "cifar10":
        data = _load_cifar(split, data_dir)
    elif name == "folder":
        if data_dir is None:
            raise UserError("--dataset folder needs --data-dir PATH (a folder of images)")
        if image_shape is None:
            raise UserError("a folder dataset needs the model's image shape to resize to")
        data = _load_folder(Path(data_dir), split, image_shape)
    else:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    data = _select_classes(data, classes)
    if image_shape is not None and tuple(data.images.shape[1:]) != tuple(image_shape):
        raise UserError(
            f"{name} images are {tuple(data.images.shape[1:])} (C, H, W) but the model makes {tuple(image_shape)}; "
            "pick the matching --model (dcgan/mlp: 1x28x28, frog: 3x32x32) or use --dataset folder, which resizes")
    return data


def _select_classes(data: ImageData, classes: tuple[str, ...]) -> ImageData:
    if not classes:
        return data
    if data.labels is None:
        raise UserError("--classes needs a labelled dataset (or a folder with one subfolder per class)")
    lookup = {c.lower(): i for i, c in enumerate(data.class_names)}
    unknown = [c for c in classes if c.lower() not in lookup]
    if unknown:
        raise UserError(f"unknown class {unknown[0]!r}; this dataset has: {', '.join(data.class_names)}")
    wanted = torch.tensor([lookup[c.lower()] for c in classes])
    keep = torch.isin(data.labels, wanted)
    if not keep.any():
        raise UserError(f"no images of class {', '.join(classes)} in {data.source}")
    return ImageData(data.images[keep], data.labels[keep], data.class_names, data.source)


def present_classes(data: ImageData) -> ImageData:
    """The data with labels renumbered 0..K-1 over the classes it holds (a conditional model is asked for
    exactly those), and their names; refused for unlabelled data or a single class."""
    if data.labels is None:
        raise UserError("--conditional needs a labelled dataset (or a folder with one subfolder per class)")
    present = torch.unique(data.labels)
    if len(present) < 2:
        raise UserError("--conditional needs at least two classes; this data holds one")
    remap = torch.full((int(present.max()) + 1,), -1, dtype=torch.int64)
    remap[present] = torch.arange(len(present))
    return ImageData(data.images, remap[data.labels], tuple(data.class_names[i] for i in present.tolist()), data.source)


# --- Fashion-MNIST -----------------------------------------------------------------------

def _load_fashion(split: str, data_dir: str | Path | None) -> ImageData:
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}")
    names = [FASHION_FILES[(split, part)][0] for part in ("images", "labels")]
    candidates = [Path(data_dir)] if data_dir else [cache_dir() / "fashion-mnist", *SYSTEM_FASHION_DIRS]
    folder = next((d for d in candidates if all((d / n).is_file() for n in names)), None)
    if folder is None:
        if data_dir:
            raise UserError(f"Fashion-MNIST files ({', '.join(names)}) not found in {data_dir}")
        folder = _download_fashion(candidates)
    images = formats.read_idx(folder / names[0])
    labels = formats.read_idx(folder / names[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise UserError(f"Fashion-MNIST files in {folder} do not fit together: images {images.shape}, labels {labels.shape}")
    return ImageData(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                     FASHION_CLASSES, str(folder))


def _download_fashion(searched: list[Path]) -> Path:
    target = cache_dir() / "fashion-mnist"
    how = ("install Debian's package (sudo apt-get install dataset-fashion-mnist) "
           f"or put the four .gz files from {FASHION_URL} in {target} (or pass --data-dir)")
    if os.environ.get("GAN_WORKBENCH_OFFLINE"):
        raise UserError(f"Fashion-MNIST not found in {', '.join(map(str, searched))} and downloads are off "
                        f"(GAN_WORKBENCH_OFFLINE); {how}")
    try:
        for (filename, md5) in FASHION_FILES.values():
            if not (target / filename).is_file():
                download(FASHION_URL + filename, target / filename, md5)
    except OSError as exc:
        raise UserError(f"Fashion-MNIST not found in {', '.join(map(str, searched))} and the download failed "
                        f"({exc}); {how}") from None
    return target


def download(url: str, dest: Path, md5: str) -> None:
    """Download to a temp file beside `dest`, check the MD5, then rename into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != md5:
            raise OSError(f"checksum mismatch for {url}: got {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- CIFAR-10 ------------------------------------------------------------------------------

def _load_cifar(split: str, data_dir: str | Path | None) -> ImageData:
    members = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    candidates = [Path(data_dir)] if data_dir else [cache_dir() / "cifar10"]
    tarball = next((d / CIFAR_TARBALL for d in candidates if (d / CIFAR_TARBALL).is_file()), None)
    extracted = next((d / "cifar-10-batches-py" for d in candidates if (d / "cifar-10-batches-py").is_dir()), None)
    as_images = next((d for d in candidates if _is_cifar_image_folder(d / split)), None)
    if tarball is None and extracted is None and as_images is not None:
        return _load_cifar_images(as_images / split)
    if tarball is None and extracted is None:
        if data_dir or os.environ.get("GAN_WORKBENCH_OFFLINE"):
            raise UserError(f"CIFAR-10 ({CIFAR_TARBALL}, or train/ and test/ folders of the ten classes' images) not "
                            f"found in {', '.join(map(str, candidates))}; download it from {CIFAR_URL} into that "
                            "folder, or train on a folder of images with --dataset folder --data-dir PATH")
        tarball = candidates[0] / CIFAR_TARBALL
        try:
            download(CIFAR_URL, tarball, CIFAR_MD5)
        except OSError as exc:
            raise UserError(f"CIFAR-10 not found and the download failed ({exc}); put {CIFAR_TARBALL} "
                            f"from {CIFAR_URL} in {candidates[0]}") from None
    raws = formats.read_cifar_members(tarball, extracted, members)
    data, labels = [], []
    for member, raw in zip(members, raws):
        batch = formats.unpickle_batch(raw, member)
        array = np.asarray(batch[b"data"], dtype=np.uint8)
        if array.ndim != 2 or array.shape[1] != 3 * 32 * 32 or len(batch[b"labels"]) != array.shape[0]:
            raise UserError(f"{member} has data of shape {array.shape}, expected (N, 3072) with N labels")
        data.append(array.reshape(-1, 3, 32, 32))
        labels.extend(batch[b"labels"])
    return ImageData(torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.int64),
                     CIFAR_CLASSES, str(tarball or extracted))


def _is_cifar_image_folder(folder: Path) -> bool:
    """CIFAR-10 as image files, one subfolder per class (e.g. <dir>/train/frog/0001.jpg)."""
    return folder.is_dir() and {p.name for p in folder.iterdir() if p.is_dir()} == set(CIFAR_CLASSES)


def _load_cifar_images(folder: Path) -> ImageData:
    """CIFAR-10 from class folders of images, with the labels of the canonical release (frog = 6)."""
    images, labels, names = formats.read_folder(folder, (3, 32, 32))
    canonical = torch.tensor([CIFAR_CLASSES.index(n) for n in names])[torch.tensor(labels)]
    return ImageData(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), canonical, CIFAR_CLASSES, str(folder))


# --- a folder of images --------------------------------------------------------------------

def _load_folder(root: Path, split: str, image_shape: tuple[int, int, int]) -> ImageData:
    """Every image under `root/<split>` if that exists (else under `root`), resized to the model.

    Subfolders name classes (`train/frog/0001.jpg` is class "frog"), so `--classes` works.
    """
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist")
    base = root / split if (root / split).is_dir() else root
    if split == "test" and base == root:
        raise UserError(f"{root} has no test/ subfolder")
    images, labels, class_names = formats.read_folder(base, image_shape)
    return ImageData(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
                     torch.tensor(labels, dtype=torch.int64), class_names, str(base))


@cli_entry
def main(argv: list[str] | None = None) -> int:
    """Find (or fetch) the dataset a training command would use; extra training flags are ignored."""
    from core.spec import PRESETS

    parser = ArgumentParser(prog="python -m gan.data [fashion-mnist|cifar10|folder]", description="Find a dataset "
                            "in the known folders, else download and cache it. Takes the dataset's name, or the flags "
                            "of a training command "
                            "(--model, --dataset, --data-dir), so ./quickstart.sh can check what it will train on.")
    parser.add_argument("--model", choices=tuple(PRESETS), default="dcgan")
    parser.add_argument("--dataset", choices=DATASETS)
    parser.add_argument("--data-dir", help="look only in this folder")
    parser.add_argument("--offline", action="store_true", help="do not download, only look")
    argv = list(sys.argv[1:] if argv is None else argv)
    named = argv.pop(0) if argv and argv[0] in DATASETS else None  # `python -m gan.data cifar10`
    args, _training_flags = parser.parse_known_args(argv)
    if args.offline:
        os.environ["GAN_WORKBENCH_OFFLINE"] = "1"
    preset = PRESETS[args.model]
    name = named or args.dataset or preset.dataset
    found = load(name, "train", args.data_dir, image_shape=preset.image_shape if name == "folder" else None)
    print(f"{name}: {len(found)} training images in {found.source}")
    return 0


if __name__ == "__main__":
    run_main(main)
