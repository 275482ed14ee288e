"""Small synthetic datasets in the real on-disk formats (IDX .gz, CIFAR pickle tarball, image folders)."""
from __future__ import annotations

import gzip
import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fashion_like(folder: Path, n_train: int = 128, n_test: int = 64, seed: int = 0) -> Path:
    """IDX files whose images are bright blobs whose position depends on the label (learnable, tiny)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = 4 + 2 * (label % 5), 4 + 8 * (label // 5)
            images[i, r:r + 10, c:c + 10] = 220
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def cifar_like(folder: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """A cifar-10-python.tar.gz with the real member names and pickle layout."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for member in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
                     b"labels": [int(x) for x in rng.integers(0, 10, per_batch)]}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return folder


def image_folder(folder: Path, classes=("frog", "toad"), per_class: int = 12, size=(40, 36), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for cls in classes:
            d = folder / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size[1], size[0], 3)).astype(np.uint8)
                Image.fromarray(pixels).save(d / f"{i:04d}.{'png' if i % 2 else 'jpg'}")
    return folder


def onnx_generator(latent=4, shape=(1, 2, 2), meta=None, weight=None, external=None):
    """A valid little generator graph: images = reshape(z @ W), with our metadata (or `meta` over it)."""
    from onnx import TensorProto, helper, numpy_helper

    values = int(np.prod(shape))
    w = numpy_helper.from_array(np.ones((latent, values), np.float32) * 0.1 if weight is None else weight, "W")
    if external:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        w.external_data.add(key="location", value=external)
    target = numpy_helper.from_array(np.array([-1, *shape], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["z", "W"], ["flat"]), helper.make_node("Reshape", ["flat", "shape"], ["images"])],
        "g", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", *shape])], [w, target])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    info = {"preset": "dcgan", "latent_dim": str(latent), "image_shape": json.dumps(list(shape)),
            "pixel_range": "[-1.0, 1.0]", "output": "float", **(meta or {})}
    for key, value in info.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()
