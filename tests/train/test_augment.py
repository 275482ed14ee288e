"""Differentiable augmentation and its adaptive probability (train/augment.py)."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from train.augment import ADA_INTERVAL, OPERATIONS, UNIFORMS, Augment, parse_policy

SHAPES = [(1, 28, 28), (3, 32, 32)]
RANGES = [(-1.0, 1.0), (0.0, 1.0)]


def always(policy, pixel_range=(-1.0, 1.0)):
    return Augment(policy, pixel_range, torch.device("cpu"), p=1.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pixel_range", RANGES)
@pytest.mark.parametrize("op", OPERATIONS)
def test_each_operation_keeps_the_shape_and_passes_gradients(shape, pixel_range, op):
    x = torch.rand(6, *shape, requires_grad=True)
    u = torch.rand(6, UNIFORMS, generator=torch.Generator().manual_seed(0))
    y = always((op,), pixel_range)(x, u)
    assert y.shape == x.shape and torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 5), size=st.integers(4, 33))
def test_all_operations_together_on_any_batch_and_size(seed, batch, size):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, size, size, generator=g, requires_grad=True)
    y = always(OPERATIONS)(x, torch.rand(batch, UNIFORMS, generator=g))
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_probability_zero_is_the_identity_and_one_always_changes_the_image():
    x = torch.rand(8, 1, 28, 28)
    u = torch.rand(8, UNIFORMS, generator=torch.Generator().manual_seed(1))
    assert torch.equal(Augment(OPERATIONS, (-1, 1), torch.device("cpu"), p=0.0)(x, u), x)
    changed = (always(("cutout",))(x, u) != x).flatten(1).any(1)
    assert changed.all()


def test_the_probability_decides_per_image():
    x = torch.rand(4, 1, 8, 8)
    u = torch.full((4, UNIFORMS), 0.5)
    u[:2, 2] = 0.1  # the cutout apply-draws of images 0 and 1 fall below p = 0.3
    y = Augment(("cutout",), (-1, 1), torch.device("cpu"), p=0.3)(x, u)
    assert not torch.equal(y[0], x[0]) and not torch.equal(y[1], x[1])
    assert torch.equal(y[2:], x[2:])


def test_translation_moves_the_content_and_fills_the_border_with_mid_grey():
    x = torch.arange(64.0).view(1, 1, 8, 8)
    u = torch.zeros(1, UNIFORMS)
    u[0, 6], u[0, 7] = 0.99, 0.5  # the largest downward shift (+1 row at 1/8 of 8), no sideways shift
    y = always(("translation",))(x, u)
    assert torch.equal(y[0, 0, 1:], x[0, 0, :-1])
    assert (y[0, 0, 0] == 0.0).all()  # the middle of (-1, 1)


def test_cutout_erases_one_square_of_half_the_side():
    x = torch.ones(1, 3, 8, 8)
    u = torch.zeros(1, UNIFORMS)
    u[0, 8], u[0, 9] = 0.5, 0.5  # centred
    y = always(("cutout",), (0.0, 1.0))(x, u)
    erased = y[0, 0] == 0.5
    assert erased.sum() == 16 and erased[2:6, 2:6].all()


def test_color_on_grey_images_changes_brightness_and_contrast_only():
    x = torch.rand(2, 1, 6, 6)
    u = torch.full((2, UNIFORMS), 0.5)
    u[:, 3] = 0.9  # brighter by 0.4 of the half range
    y = always(("color",))(x, u)
    assert torch.allclose(y, x + 0.4, atol=1e-6)


def test_policy_parsing():
    assert parse_policy("color, cutout") == ("color", "cutout")
    assert parse_policy("none") == () == parse_policy("")
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        parse_policy("color,rotate")


def adaptive(target=0.6):
    return Augment(OPERATIONS, (-1, 1), torch.device("cpu"), p=0.5, ada_target=target, ada_images=1000, batch=25)


def test_ada_raises_p_when_d_is_too_sure_of_the_reals_and_lowers_it_otherwise():
    step = 25 * ADA_INTERVAL / 1000
    aug = adaptive()
    for s in range(1, ADA_INTERVAL + 1):
        aug.observe(torch.tensor(0.95))  # r = 0.9 > 0.6
        aug.adapt(s)
    assert float(aug.p) == pytest.approx(0.5 + step)
    for s in range(ADA_INTERVAL + 1, 2 * ADA_INTERVAL + 1):
        aug.observe(torch.tensor(0.6))  # r = 0.2 < 0.6
        aug.adapt(s)
    assert float(aug.p) == pytest.approx(0.5)


def test_ada_adjusts_only_every_interval_and_stays_in_zero_one():
    aug = adaptive()
    for s in range(1, ADA_INTERVAL):
        aug.observe(torch.tensor(1.0))
        aug.adapt(s)
    assert float(aug.p) == 0.5  # not yet an interval
    for s in range(ADA_INTERVAL, 400 * ADA_INTERVAL):
        aug.observe(torch.tensor(1.0))
        aug.adapt(s)
    assert float(aug.p) == 1.0
    fixed = Augment(OPERATIONS, (-1, 1), torch.device("cpu"), p=0.3)
    fixed.observe(torch.tensor(1.0))
    fixed.adapt(ADA_INTERVAL)
    assert float(fixed.p) == pytest.approx(0.3)  # no target: the probability is fixed


def test_state_round_trip():
    aug = adaptive()
    aug.observe(torch.tensor(0.9))
    aug.adapt(ADA_INTERVAL)
    aug.observe(torch.tensor(0.7))
    copy = adaptive()
    copy.load_state_dict(aug.state_dict())
    assert torch.equal(copy.p, aug.p) and torch.equal(copy.acc_real_sum, aug.acc_real_sum)


def test_ada_under_ddp_moves_p_on_the_accuracy_of_all_processes():
    """Two processes: this one's D is sure of its reals, the other's is not; their mean decides, for both."""
    aug = adaptive()
    aug.observe(torch.tensor(0.95 * ADA_INTERVAL))  # this process: accuracy 0.95 over the interval
    other = torch.tensor(0.55 * ADA_INTERVAL)

    def all_reduce(t):
        return t.add_(other)

    aug.adapt(ADA_INTERVAL, world=2, all_reduce=all_reduce)  # mean accuracy 0.75: r = 0.5 < 0.6
    assert float(aug.p) == pytest.approx(0.5 - 25 * ADA_INTERVAL / 1000)
