"""gan/data.py: where datasets are found (and how a user learns to get them), classes, shapes."""
import pytest
import torch

from core.errors import UserError
from tests import synthetic
from gan import data


def test_fashion_idx_loads_with_labels(fashion_dir):
    loaded = data.load("fashion-mnist", "train", fashion_dir, image_shape=(1, 28, 28))
    assert loaded.images.shape == (128, 1, 28, 28) and loaded.images.dtype == torch.uint8
    assert loaded.labels.shape == (128,) and int(loaded.labels.max()) < 10
    test = data.load("fashion-mnist", "test", fashion_dir)
    assert len(test) == 128


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


def test_data_cli_takes_the_training_commands_flags(fashion_dir, tmp_path, capsys):
    """./quickstart.sh passes its flags to the data step too: --data-dir and --model mean what they mean there."""
    assert data.main(["--offline", "--data-dir", str(fashion_dir), "--max-steps", "300", "--ema", "0.9"]) == 0
    assert f"fashion-mnist: 128 training images in {fashion_dir}" in capsys.readouterr().out
    folder = synthetic.image_folder(tmp_path / "img")
    assert data.main(["--model", "frog", "--dataset", "folder", "--data-dir", str(folder), "--offline"]) == 0
    assert "folder: 24 training images" in capsys.readouterr().out
    assert data.main(["--offline", "--data-dir", str(tmp_path / "none")]) == 2
    assert "not found in" in capsys.readouterr().err


def test_a_python_without_the_packages_gets_one_line_not_a_traceback(tmp_path):
    import subprocess
    import venv

    from tests.conftest import ROOT

    venv.create(tmp_path / "bare", with_pip=False)  # what a shell without the project's environment has
    for module in ("train.dcgan", "export.to_onnx"):
        done = subprocess.run([str(tmp_path / "bare" / "bin" / "python"), "-m", module, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "not installed in this Python" in lines[0] and ". .venv/bin/activate" in lines[0]
