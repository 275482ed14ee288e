"""core/spec.py: the one description of a trained model, through checkpoints and ONNX metadata."""
import pytest

from core.spec import PRESETS, ModelSpec, SpecError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trips_through_a_checkpoint_dict_and_onnx_metadata(name):
    spec = ModelSpec.of_preset(name, class_names=("T-shirt/top", "Ankle boot"))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    from_meta = ModelSpec.from_metadata(spec.to_metadata())
    assert from_meta == ModelSpec.of_preset(name, class_names=("T-shirt/top", "Ankle boot"), minibatch_std=False)
    assert all(isinstance(v, str) for v in spec.to_metadata().values())


def test_reads_the_model_dict_of_the_first_checkpoint_format():
    old = {"preset": "dcgan", "latent_dim": 100, "image_shape": [1, 28, 28], "pixel_range": [-1.0, 1.0],
           "minibatch_std": False, "leaky_slope": 0.2, "dataset": "fashion-mnist", "class_names": ["a", "b"]}
    spec = ModelSpec.from_dict(old)
    assert spec.image_shape == (1, 28, 28) and spec.class_names == ("a", "b") and spec.values_per_image == 784


def test_reads_onnx_metadata_written_before_leaky_slope_was_stored():
    meta = {"preset": "frog", "latent_dim": "32", "image_shape": "[3, 32, 32]", "pixel_range": "[-1.0, 1.0]",
            "dataset": "folder", "class_names": "frog"}
    spec = ModelSpec.from_metadata(meta)
    assert spec.leaky_slope is None and spec.class_names == ("frog",)


@pytest.mark.parametrize("change, field", [
    ({"latent_dim": 0}, "latent_dim"), ({"latent_dim": 10**9}, "latent_dim"), ({"latent_dim": True}, "latent_dim"),
    ({"image_shape": (2, 28, 28)}, "image_shape"), ({"image_shape": (1, -3, 28)}, "image_shape"),
    ({"image_shape": (1, 100000, 28)}, "image_shape"), ({"pixel_range": (1.0, -1.0)}, "pixel_range"),
    ({"pixel_range": (float("nan"), 1.0)}, "pixel_range"), ({"class_names": ("a", 3)}, "class_names"),
])
def test_impossible_values_are_refused_by_name(change, field):
    with pytest.raises(SpecError, match=field):
        ModelSpec.of_preset("dcgan", **change)


@pytest.mark.parametrize("meta, message", [
    ({}, "missing"),
    ({"preset": "x", "latent_dim": "ten", "image_shape": "[1,28,28]", "pixel_range": "[0,1]"}, "malformed"),
    ({"preset": "x", "latent_dim": "10", "image_shape": "{}", "pixel_range": "[0,1]"}, "image_shape"),
    ({"preset": "x", "latent_dim": "10", "image_shape": "[1,28,28]", "pixel_range": "[0,1,2]"}, "pixel_range"),
])
def test_bad_metadata_is_one_sentence(meta, message):
    with pytest.raises(SpecError, match=message):
        ModelSpec.from_metadata(meta)
