"""inference/latent_space.py: explore data refused unless it is the model's own; projection beats random search."""
import numpy as np
import pytest

from inference.latent_space import best_random, load_explore, project, read_target
from inference.runtime import OnnxGenerator
from tests import synthetic


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return synthetic.run_folder(tmp_path_factory.mktemp("runs"))


def test_the_models_own_explore_data_loads_and_a_changed_one_is_refused(exported, tmp_path):
    gen = OnnxGenerator(exported / "generator.onnx")
    data, problem = load_explore(gen)
    assert problem is None and data.vectors.shape[1] == 8 and len(data.test_images) == 5
    import shutil

    shutil.copytree(exported, tmp_path / "copy")
    (tmp_path / "copy" / "generator.explore.npz").write_bytes((exported / "generator_ema.explore.npz").read_bytes())
    data, problem = load_explore(OnnxGenerator(tmp_path / "copy" / "generator.onnx"))
    assert data is None and "does not belong to generator.onnx" in problem


def test_a_model_exported_without_explore_data_says_how_to_get_it(tmp_path):
    run = synthetic.run_folder(tmp_path, explore=False)
    data, problem = load_explore(OnnxGenerator(run / "generator.onnx"))
    assert data is None and "without latent-space data" in problem


def test_a_bomb_or_a_wrong_array_in_the_explore_file_is_one_message(exported, tmp_path):
    import hashlib
    import shutil

    import onnx

    from tests.core.formats.test_npz import bomb

    for content in (bomb((3000, 1000, 1000, 1)), b"PK\x03\x04 truncated"):
        run = tmp_path / f"copy{len(content)}"
        shutil.copytree(exported, run)
        (run / "generator.explore.npz").write_bytes(content)
        model = onnx.load(run / "generator.onnx")  # the model vouches for the hostile file
        for prop in model.metadata_props:
            if prop.key == "explore_sha256":
                prop.value = hashlib.sha256(content).hexdigest()
        (run / "generator.onnx").write_bytes(model.SerializeToString())
        data, problem = load_explore(OnnxGenerator(run / "generator.onnx"))
        assert data is None and problem.startswith("generator.explore.npz ")


def test_projection_recovers_a_planted_image_better_than_10000_random_samples(exported):
    gen = OnnxGenerator(exported / "generator.onnx", device="cpu")
    z0 = gen.latents(123, 1)[0] * 0.8
    target = gen.images(z0[None])[0].astype(np.float32) / 255.0
    found = project(gen, target, evaluations=20_000)  # a budget in images, not seconds: the same on any machine
    assert found.distance < best_random(gen, target) and found.distance < 0.01
    assert found.image.shape == (28, 28, 1) and found.evaluations >= 20_000


def test_an_encoder_in_the_explore_data_gets_closer_for_the_same_work(exported):
    from inference.latent_space import fit_encoder

    gen = OnnxGenerator(exported / "generator.onnx", device="cpu")
    data, _ = load_explore(gen)
    z = gen.latents(7, 2048)
    data.encoder_weight, data.encoder_bias = fit_encoder(gen.images(z).reshape(2048, -1) / 255.0, z)
    targets = [gen.images(gen.latents(seed, 1))[0].astype(np.float32) / 255.0 for seed in (11, 12, 13)]
    plain = [project(gen, t, evaluations=1500, seed=1).distance for t in targets]
    started = [project(gen, t, evaluations=1500, seed=1, explore=data).distance for t in targets]
    assert np.median(started) < np.median(plain), (started, plain)


def test_a_generator_failing_during_projection_is_a_message(exported, monkeypatch):
    from inference.runtime import RuntimeErrorForUser

    gen = OnnxGenerator(exported / "generator.onnx", device="cpu")
    monkeypatch.setattr(gen, "run", lambda z, classes=None: np.full((len(z), 1, 28, 28), np.nan, np.float32))
    with pytest.raises(RuntimeErrorForUser, match="NaN"):
        project(gen, np.zeros((28, 28, 1), np.float32), seconds=0.2)


def test_uploaded_pictures_become_the_models_kind_of_image(exported):
    from core.images import BadImage, png_bytes

    gen = OnnxGenerator(exported / "generator.onnx")
    colour = np.zeros((40, 30, 3), np.uint8)
    colour[..., 0] = 255
    target = read_target(png_bytes(colour), gen)
    assert target.shape == (28, 28, 1) and 0.25 < target.mean() < 0.35  # red's luma, resized
    with pytest.raises(BadImage):
        read_target(b"not a picture", gen)


def test_a_conditional_model_projects_within_the_class_asked_for(tmp_path):
    run = synthetic.run_folder(tmp_path, conditional=True, explore=False)
    gen = OnnxGenerator(run / "generator.onnx")
    sneaker = gen.class_rows(1, 7)[0]
    target = gen.images(gen.latents(5, 1), 7)[0].astype(np.float32) / 255.0
    right = project(gen, target, evaluations=256, class_row=sneaker)
    wrong = project(gen, target, evaluations=256, class_row=gen.class_rows(1, 0)[0])
    assert right.distance < wrong.distance / 2
    assert np.array_equal(right.image, gen.images(right.z[None], 7)[0])  # the image shown is of that class
