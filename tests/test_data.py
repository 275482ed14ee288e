"""train/data.py: where datasets are found (and how a user learns to get them), classes, shapes."""
import pytest
import torch

from core.errors import UserError
from tests import synthetic
from train import data


def test_fashion_idx_loads_with_labels(fashion_dir):
    loaded = data.load("fashion-mnist", "train", fashion_dir, image_shape=(1, 28, 28))
    assert loaded.images.shape == (128, 1, 28, 28) and loaded.images.dtype == torch.uint8
    assert loaded.labels.shape == (128,) and int(loaded.labels.max()) < 10
    test = data.load("fashion-mnist", "test", fashion_dir)
    assert len(test) == 64


def test_classes_filter(fashion_dir):
    loaded = data.load("fashion-mnist", "train", fashion_dir, classes=("Trouser", "bag"))
    assert set(loaded.labels.tolist()) <= {1, 8} and len(loaded) > 0


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


def test_folder_dataset_resizes_and_labels_by_subfolder(tmp_path):
    folder = synthetic.image_folder(tmp_path)
    loaded = data.load("folder", "train", folder, image_shape=(3, 32, 32))
    assert loaded.images.shape == (24, 3, 32, 32)
    assert loaded.class_names == ("frog", "toad")
    frogs = data.load("folder", "test", folder, classes=("frog",), image_shape=(3, 32, 32))
    assert len(frogs) == 12
    grey = data.load("folder", "train", folder, image_shape=(1, 28, 28))
    assert grey.images.shape == (24, 1, 28, 28)


def test_shape_mismatch_between_dataset_and_model(fashion_dir):
    with pytest.raises(UserError, match="pick the matching --model"):
        data.load("fashion-mnist", "train", fashion_dir, image_shape=(3, 32, 32))
