"""gan/data_formats.py: IDX, CIFAR pickles and image folders; broken, hostile and huge files are one line."""
import gzip
import io
import pickle
import tarfile

import pytest
from PIL import Image

from core.errors import UserError
from tests import synthetic
from gan import data, data_formats as formats


def test_truncated_idx_is_a_clear_error(tmp_path, fashion_dir):
    raw = (fashion_dir / "train-images-idx3-ubyte.gz").read_bytes()
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


def test_cifar_pickle_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    raw = pickle.dumps({b"data": Evil(), b"labels": []})
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for member in [f"data_batch_{i}" for i in range(1, 6)]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(UserError, match="refusing to load builtins.print"):
        data.load("cifar10", "train", tmp_path)


def test_folder_with_corrupt_image_names_the_file(tmp_path):
    folder = synthetic.image_folder(tmp_path, per_class=2)
    (folder / "train" / "frog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="broken.png is not a readable image"):
        data.load("folder", "train", folder, image_shape=(3, 32, 32))




def test_a_decompression_bomb_in_a_folder_is_refused_by_name(tmp_path):
    folder = synthetic.image_folder(tmp_path, per_class=2)
    Image.new("L", (9000, 9000)).save(folder / "train" / "frog" / "bomb.png")  # 81 Mpx of zeros: a small file
    with pytest.raises(UserError, match="bomb.png is 9000x9000 pixels, over the"):
        data.load("folder", "train", folder, image_shape=(3, 32, 32))


def test_read_image_converts_and_resizes(tmp_path):
    Image.new("RGB", (40, 36), (255, 0, 0)).save(tmp_path / "red.png")
    pixels = formats.read_image(tmp_path / "red.png", "L", (28, 28))
    assert pixels.shape == (28, 28, 1) and int(pixels.mean()) == 76  # ITU-R 601 luma of pure red
