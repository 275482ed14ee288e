import pickle
import tarfile

import pytest
import torch

from tests import synthetic
from train import data
from core.errors import UserError


def test_fashion_idx_loads_with_labels(fashion_dir):
    loaded = data.load("fashion-mnist", "train", fashion_dir, image_shape=(1, 28, 28))
    assert loaded.images.shape == (128, 1, 28, 28) and loaded.images.dtype == torch.uint8
    assert loaded.labels.shape == (128,) and int(loaded.labels.max()) < 10
    test = data.load("fashion-mnist", "test", fashion_dir)
    assert len(test) == 64


def test_classes_filter(fashion_dir):
    loaded = data.load("fashion-mnist", "train", fashion_dir, classes=("Trouser", "bag"))
    assert set(loaded.labels.tolist()) <= {1, 8} and len(loaded) > 0


def test_truncated_idx_is_a_clear_error(tmp_path, fashion_dir):
    raw = (fashion_dir / "train-images-idx3-ubyte.gz").read_bytes()
    import gzip
    content = gzip.decompress(raw)
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(content[:-100]))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes((fashion_dir / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(UserError, match="truncated or corrupt"):
        data.load("fashion-mnist", "train", tmp_path)


def test_not_gzip_is_a_clear_error(tmp_path, fashion_dir):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"garbage, not gzip")
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes((fashion_dir / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(UserError, match="not a readable IDX"):
        data.load("fashion-mnist", "train", tmp_path)


def test_missing_fashion_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(UserError) as err:
        data.load("fashion-mnist")
    message = str(err.value)
    assert "cache" in message and "apt-get install dataset-fashion-mnist" in message and "\n" not in message


def test_download_verifies_checksum(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"hello")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(OSError, match="checksum mismatch"):
        data.download(source.as_uri(), dest, md5="0" * 32)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))
    data.download(source.as_uri(), dest, md5="5d41402abc4b2a76b9719d911017c592")
    assert dest.read_bytes() == b"hello"


def test_cifar_tarball_and_class_selection(tmp_path):
    folder = synthetic.cifar_like(tmp_path)
    loaded = data.load("cifar10", "train", folder, classes=("frog",), image_shape=(3, 32, 32))
    assert loaded.images.shape[1:] == (3, 32, 32) and set(loaded.labels.tolist()) == {6}
    assert len(data.load("cifar10", "test", folder)) == 20


def test_cifar_pickle_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    raw = pickle.dumps({b"data": Evil(), b"labels": []})
    import io
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for member in [f"data_batch_{i}" for i in range(1, 6)]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(UserError, match="refusing to load builtins.print"):
        data.load("cifar10", "train", tmp_path)


def test_folder_dataset_resizes_and_labels_by_subfolder(tmp_path):
    folder = synthetic.image_folder(tmp_path)
    loaded = data.load("folder", "train", folder, image_shape=(3, 32, 32))
    assert loaded.images.shape == (24, 3, 32, 32)
    assert loaded.class_names == ("frog", "toad")
    frogs = data.load("folder", "test", folder, classes=("frog",), image_shape=(3, 32, 32))
    assert len(frogs) == 12
    grey = data.load("folder", "train", folder, image_shape=(1, 28, 28))
    assert grey.images.shape == (24, 1, 28, 28)


def test_folder_with_corrupt_image_names_the_file(tmp_path):
    folder = synthetic.image_folder(tmp_path, per_class=2)
    (folder / "train" / "frog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="broken.png is not a readable image"):
        data.load("folder", "train", folder, image_shape=(3, 32, 32))


def test_shape_mismatch_between_dataset_and_model(fashion_dir):
    with pytest.raises(UserError, match="pick the matching --model"):
        data.load("fashion-mnist", "train", fashion_dir, image_shape=(3, 32, 32))
