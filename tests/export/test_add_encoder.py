"""export/add_encoder.py: explore data from before the encoder gets one from the exported model alone."""

import numpy as np
import onnx

from export.add_encoder import main
from inference.latent_space import load_explore
from inference.runtime import OnnxGenerator
from tests import synthetic


def snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def metadata(path):
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def test_an_old_explore_file_gets_an_encoder_that_finds_the_models_own_latents(tmp_path, capsys):
    run = synthetic.run_folder(tmp_path)  # explore data without an encoder, as exports before version 3 wrote
    model = run / "generator.onnx"
    old, _ = load_explore(OnnxGenerator(model))
    old_meta = metadata(model)
    assert not old.has_encoder
    assert main([str(model), "--images", "512"]) == 0
    gen = OnnxGenerator(model)
    new, problem = load_explore(gen)
    assert problem is None and new.has_encoder
    assert np.array_equal(new.vectors, old.vectors) and new.names == old.names
    assert np.array_equal(new.test_images, old.test_images)
    changed = {k for k, v in metadata(model).items() if old_meta.get(k) != v}
    assert changed == {"explore_sha256"}
    z = gen.latents(99, 32)  # latents the encoder never saw
    guesses = np.stack([new.encode(image.astype(np.float32) / 255.0) for image in gen.images(z)])
    assert np.mean((guesses - z) ** 2) < 0.5 * np.mean(z ** 2)  # far nearer than the mean latent's guess
    assert "encoder fitted on 512" in capsys.readouterr().out


def test_a_model_that_has_one_is_left_byte_for_byte(tmp_path, capsys):
    run = synthetic.run_folder(tmp_path)
    model = run / "generator.onnx"
    assert main([str(model), "--images", "128"]) == 0
    before = snapshot(run)
    assert main([str(model)]) == 0
    assert "already has an encoder" in capsys.readouterr().out
    assert snapshot(run) == before


def test_models_it_cannot_help_are_one_line_and_change_nothing(tmp_path, capsys):
    cases = {"conditional": synthetic.run_folder(tmp_path / "a", conditional=True),
             "without latent-space data": synthetic.run_folder(tmp_path / "b", explore=False)}
    for expected, run in cases.items():
        before = snapshot(run)
        assert main([str(run / "generator.onnx")]) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1
        assert snapshot(run) == before
    assert main([str(tmp_path / "missing.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_model_making_nan_pixels_writes_nothing(tmp_path, capsys, monkeypatch):
    run = synthetic.run_folder(tmp_path)
    before = snapshot(run)
    monkeypatch.setattr(OnnxGenerator, "run", lambda self, z, classes=None: np.full(
        (len(z), *self.info.spec.image_shape), np.nan, np.float32))
    assert main([str(run / "generator.onnx"), "--images", "64"]) == 2
    assert "NaN" in capsys.readouterr().err
    assert snapshot(run) == before
