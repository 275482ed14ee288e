"""gan/dropout.py: the fast CPU dropout is nn.Dropout bit for bit, or nn.Dropout itself."""
import pytest
import torch


@pytest.mark.parametrize("shape", [(64, 64, 14, 14), (3, 5)])
def test_fast_dropout_is_torch_dropout_bit_for_bit(shape):
    """Same outputs, same gradients, and the default generator left in the same state."""
    from gan.dropout import Dropout, same_masks
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
    from gan import dropout
    monkeypatch.setattr(dropout, "same_masks", lambda: False)
    monkeypatch.setattr(torch, "rand", lambda *a, **k: pytest.fail("the fast mask was drawn"))
    y = dropout.Dropout(0.4)(torch.ones(64, 64))
    assert (y == 0).any() and torch.allclose(y[y != 0], torch.tensor(1 / 0.6))


def test_dropout_is_identity_in_eval_mode():
    from gan.dropout import Dropout
    x = torch.randn(8, 8)
    assert torch.equal(Dropout(0.4).eval()(x), x)
