import pytest
import torch

from core.spec import PRESETS, ModelSpec
from gan.models import build, build_from_spec, check_image_batch

# Trainable parameter counts of the Keras originals (docs/book-models.md).
KERAS_COUNTS = {"dcgan": (840_321, 212_865), "mlp": (136_634, 132_951), "frog": (6_264_579, 790_913)}


def count_trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_parameter_counts_equal_keras(name):
    generator, discriminator = build(name)
    assert (count_trainable(generator), count_trainable(discriminator)) == KERAS_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("minibatch_std", [False, True])
def test_shapes(name, minibatch_std):
    preset = PRESETS[name]
    generator, discriminator = build(name, minibatch_std=minibatch_std)
    images = generator(torch.randn(3, preset.latent_dim))
    assert images.shape == (3, *preset.image_shape)
    assert discriminator(images).shape == (3, 1)


def test_build_from_spec_follows_the_spec():
    spec = ModelSpec.of_preset("frog", latent_dim=16, leaky_slope=0.3)
    generator, _ = build_from_spec(spec)
    assert generator(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    assert {m.negative_slope for m in generator.modules() if isinstance(m, torch.nn.LeakyReLU)} == {0.3}


def test_check_image_batch_names_the_shapes():
    check_image_batch(torch.zeros(2, 1, 28, 28), (1, 28, 28), "x")
    with pytest.raises(ValueError, match=r"a batch has shape \(2, 3, 28, 28\), expected \(batch, 1, 28, 28\)"):
        check_image_batch(torch.zeros(2, 3, 28, 28), (1, 28, 28), "a batch")


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown model preset"):
        build("stylegan")


def test_frog_leaky_slope_is_configurable():
    generator, _ = build("frog", leaky_slope=0.3)
    slopes = {m.negative_slope for m in generator.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.3}


def test_keras_batchnorm_defaults():
    generator, _ = build("dcgan")
    bns = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 2 and all(bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3) for bn in bns)
