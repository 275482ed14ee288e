"""export/latent_space.py: explore data refused unless it is the model's own; projection beats random search."""
import numpy as np
import pytest

from export.latent_space import best_random, load_explore, project, read_target
from export.runtime import OnnxGenerator
from export.to_onnx import main as export_main


@pytest.fixture
def exported(exported_run):
    return exported_run


def test_the_models_own_explore_data_loads_and_a_changed_one_is_refused(exported, tmp_path):
    gen = OnnxGenerator(exported / "generator.onnx")
    data, problem = load_explore(gen)
    assert problem is None and data.vectors.shape[1] == 100 and len(data.test_images) == 64
    import shutil

    shutil.copytree(exported, tmp_path / "copy")
    (tmp_path / "copy" / "generator.explore.npz").write_bytes((exported / "generator_ema.explore.npz").read_bytes())
    data, problem = load_explore(OnnxGenerator(tmp_path / "copy" / "generator.onnx"))
    assert data is None and "does not belong to generator.onnx" in problem


def test_a_model_exported_without_explore_data_says_how_to_get_it(exported, tmp_path):
    assert export_main([str(exported), "--no-explore", "--output", str(tmp_path / "bare.onnx")]) == 0
    data, problem = load_explore(OnnxGenerator(tmp_path / "bare.onnx"))
    assert data is None and "without latent-space data" in problem and not list(tmp_path.glob("*.npz"))


def test_projection_recovers_a_planted_image_better_than_10000_random_samples(exported):
    gen = OnnxGenerator(exported / "generator.onnx", device="cpu")
    z0 = gen.latents(123, 1)[0] * 0.8
    target = gen.images(z0[None])[0].astype(np.float32) / 255.0
    found = project(gen, target, seconds=2.0)
    assert found.distance < best_random(gen, target) and found.distance < 0.01
    assert found.image.shape == (28, 28, 1) and found.evaluations > 1024


def test_uploaded_pictures_become_the_models_kind_of_image(exported):
    from core.images import BadImage, png_bytes

    gen = OnnxGenerator(exported / "generator.onnx")
    colour = np.zeros((40, 30, 3), np.uint8)
    colour[..., 0] = 255
    target = read_target(png_bytes(colour), gen)
    assert target.shape == (28, 28, 1) and 0.25 < target.mean() < 0.35  # red's luma, resized
    with pytest.raises(BadImage):
        read_target(b"not a picture", gen)
