import pytest
import torch

from core.spec import PRESETS
from train.models import build, count_trainable

# Trainable parameter counts of the Keras originals (REFERENCE.md).
KERAS_COUNTS = {"dcgan": (840_321, 212_865), "mlp": (136_634, 132_951), "frog": (6_264_579, 790_913)}


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_parameter_counts_equal_keras(name):
    generator, discriminator = build(name)
    assert (count_trainable(generator), count_trainable(discriminator)) == KERAS_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("minibatch_std", [False, True])
def test_shapes_and_ranges(name, minibatch_std):
    preset = PRESETS[name]
    generator, discriminator = build(name, minibatch_std=minibatch_std)
    z = torch.randn(3, preset.latent_dim)
    images = generator(z)
    assert images.shape == (3, *preset.image_shape)
    lo, hi = preset.pixel_range
    assert images.min() >= lo and images.max() <= hi
    assert discriminator(images).shape == (3, 1)


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


@pytest.mark.parametrize("shape", [(64, 64, 14, 14), (3, 5)])
def test_fast_dropout_is_torch_dropout_bit_for_bit(shape):
    """Same outputs, same gradients, and the default generator left in the same state."""
    from train.dropout import Dropout, same_masks
    if not same_masks():
        pytest.skip("this CPU's bernoulli_ uses MKL's generator, so the layer is plain nn.Dropout here")
    x = torch.randn(shape, requires_grad=True)
    outputs = []
    for layer in (torch.nn.Dropout(0.4), Dropout(0.4)):
        torch.manual_seed(7)
        y = layer(x)
        (grad,) = torch.autograd.grad((y * y).sum(), x)
        outputs.append((y, grad, torch.get_rng_state()))
    (y_ref, g_ref, rng_ref), (y, g, rng) = outputs
    assert torch.equal(y, y_ref) and torch.equal(g, g_ref) and torch.equal(rng, rng_ref)
    assert (y == 0).any() and (y != 0).any()


def test_fast_dropout_falls_back_when_masks_differ(monkeypatch):
    from train import dropout
    monkeypatch.setattr(dropout, "same_masks", lambda: False)
    monkeypatch.setattr(torch, "rand", lambda *a, **k: pytest.fail("the fast mask was drawn"))
    y = dropout.Dropout(0.4)(torch.ones(64, 64))
    assert (y == 0).any() and torch.allclose(y[y != 0], torch.tensor(1 / 0.6))


def test_dropout_is_identity_in_eval_mode():
    from train.dropout import Dropout
    x = torch.randn(8, 8)
    assert torch.equal(Dropout(0.4).eval()(x), x)
