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


def fashion_like(folder: Path, n_train: int = 128, n_test: int = 128, seed: int = 0) -> Path:
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


def image_folder(folder: Path, classes=("frog", "toad"), per_class: int = 12, size=(40, 36), seed: int = 0,
                 test_per_class: int | None = None) -> Path:
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for cls in classes:
            d = folder / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class if split == "train" or test_per_class is None else test_per_class):
                pixels = rng.integers(0, 256, (size[1], size[0], 3)).astype(np.uint8)
                Image.fromarray(pixels).save(d / f"{i:04d}.{'png' if i % 2 else 'jpg'}")
    return folder


def onnx_generator(latent=4, shape=(1, 2, 2), meta=None, weight=None, external=None, tanh=False, classes=0):
    """A valid little generator graph: images = reshape(z @ W) (tanh'd if asked), with our metadata (or `meta`
    over it). Made with onnx.helper, so the torch-free tests have real models to run. With `classes`, a
    class-conditional one: a second input of one-hot rows, images = reshape(concat(z, class) @ W)."""
    from onnx import TensorProto, helper, numpy_helper

    values = int(np.prod(shape))
    rows = latent + classes
    w = numpy_helper.from_array(np.ones((rows, values), np.float32) * 0.1 if weight is None else weight, "W")
    if external:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        w.external_data.add(key="location", value=external)
    target = numpy_helper.from_array(np.array([-1, *shape], np.int64), "shape")
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])]
    nodes = [helper.make_node("MatMul", ["z", "W"], ["linear"])]
    if classes:
        inputs.append(helper.make_tensor_value_info("class", TensorProto.FLOAT, ["batch", classes]))
        nodes = [helper.make_node("Concat", ["z", "class"], ["zc"], axis=1),
                 helper.make_node("MatMul", ["zc", "W"], ["linear"])]
    nodes.append(helper.make_node("Tanh" if tanh else "Identity", ["linear"], ["flat"]))
    graph = helper.make_graph(
        nodes + [helper.make_node("Reshape", ["flat", "shape"], ["images"])],
        "g", inputs,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", *shape])], [w, target])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    info = {"preset": "dcgan", "latent_dim": str(latent), "image_shape": json.dumps(list(shape)),
            "pixel_range": "[-1.0, 1.0]", "output": "float",
            **({"conditional": "true", "class_names": ",".join(CLASS_NAMES[:classes])} if classes else {}), **(meta or {})}
    for key, value in info.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def run_folder(root: Path, name: str = "run", latent: int = 8, shape=(1, 28, 28), ema: bool = True,
               explore: bool = True, steps: int = 40, steps_per_epoch: int = 20, seed: int = 0,
               conditional: bool = False) -> Path:
    """A complete run folder as training, evaluation and export leave it, made without torch: config.json,
    metrics.jsonl (losses and quick evaluations), samples/ grids, eval.json, nearest.npz, and exported
    generators (a random linear map of z through tanh) with their explore data, named and hashed. With
    `conditional`, the generators take the ten classes too (a class's row adds a strong pattern of its own)."""
    from core.formats import config_json, eval_json, explore_npz, nearest_npz
    from core.images import grid, png_bytes

    rng = np.random.default_rng(seed)
    run = Path(root) / name
    (run / "samples").mkdir(parents=True)
    c, h, w = shape
    spec = {"preset": "dcgan", "latent_dim": latent, "image_shape": list(shape), "pixel_range": [-1.0, 1.0],
            "dataset": "fashion-mnist", "class_names": list(CLASS_NAMES), "conditional": conditional}
    config_json.write(run, {"model": "dcgan", "epochs": steps // steps_per_epoch, "max_steps": 0, "minutes": 0.0,
                            "recipe": "book", "loss": "bce", "dataset": "fashion-mnist", "batch_size": 8},
                      spec, steps_per_epoch, steps_per_epoch * 8, "synthetic", "none")
    records = []
    for step in range(10, steps + 1, 10):
        records.append({"step": step, "epoch": step // steps_per_epoch + 1, "d_loss_real": 0.6, "d_loss_fake": 0.5,
                        "d_acc_real": 0.7, "d_acc_fake": 0.6, "g_loss": 1.0 + rng.random(), "lr_d": 1e-3,
                        "lr_g": 1e-3, "time": step * 0.01, "images_per_s": 800.0})
        if step % 20 == 0:
            records.append({"step": step, "epoch": step // steps_per_epoch, "fid": 100.0 - step, "kid": 0.1,
                            "classes_covered": 9, "kl_uniform": 0.1})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pictures = rng.integers(0, 256, (4, h, w, c), dtype=np.uint8)
    for epoch in range(1, steps // steps_per_epoch + 1):
        (run / "samples" / f"epoch_{epoch:04d}.png").write_bytes(png_bytes(grid(pictures, ncols=2)))
    kinds = ["generator"] + (["generator_ema"] if ema else [])
    row = {"fid": 50.0, "kid": 0.05, "precision": 0.6, "recall": 0.4, "classes_covered": 10, "kl_uniform": 0.02,
           "near_copy_share": 0.0005}
    eval_json.write(run, {"run": name, "step": steps, "samples": 100, "features": "synthetic features",
                          "generators": {k: row for k in kinds},
                          "reference": {"real_train_vs_test": {**row, "fid": 1.0}}})
    found = nearest_npz.Nearest(pictures, pictures[::-1].copy(), np.linspace(1, 2, 4, dtype=np.float32), 1.2)
    (run / "nearest.npz").write_bytes(nearest_npz.to_bytes({k: found for k in kinds}))
    for kind in kinds:
        meta = {"weights": kind, "step": str(steps), "class_names": ",".join(CLASS_NAMES), "dataset": "fashion-mnist"}
        if explore:
            vectors = np.linalg.qr(rng.standard_normal((latent, latent)))[0][:3].astype(np.float32)
            data = explore_npz.ExploreData(vectors, ["sefa 1", "sefa 2", "towards Sneaker"], ["sefa", "sefa", "class"],
                                           ["pixels 0.20", "pixels 0.10", "Sneaker +40%, pixels 0.05"],
                                           rng.integers(0, 256, (5, h, w, c), dtype=np.uint8))
            raw, digest = explore_npz.to_bytes(data)
            (run / explore_npz.file_name(f"{kind}.onnx")).write_bytes(raw)
            meta.update({explore_npz.EXPLORE_KEY: explore_npz.file_name(f"{kind}.onnx"), explore_npz.DIGEST_KEY: digest})
        classes = len(CLASS_NAMES) if conditional else 0
        weight = (rng.standard_normal((latent + classes, c * h * w)) * 0.5).astype(np.float32)
        weight[latent:] *= 4
        (run / f"{kind}.onnx").write_bytes(onnx_generator(latent, shape, meta, weight, tanh=True, classes=classes))
    return run
