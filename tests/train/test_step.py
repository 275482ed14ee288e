"""train/step.py: the two-phase step's parts (targets, draws, replay buffer, EMA) and what a step returns."""
import pytest
import torch

from core.formats.metrics_jsonl import LOSS_METRICS
from gan.models import build
from train.step import Nets, ReplayBuffer, Shard, StepOptions, d_targets, draw, keras_rmsprop, train_step, update_ema


def test_targets_smoothing_and_chollet_noise():
    opts = StepOptions(label_smoothing=0.1, label_noise=0.05)
    noise = torch.full((4, 1), 0.5)
    assert torch.allclose(d_targets(4, True, opts, torch.device("cpu"), noise), torch.full((4, 1), 0.9 - 0.025))
    assert torch.allclose(d_targets(4, False, opts, torch.device("cpu"), noise), torch.full((4, 1), -0.025))


def test_shards_of_the_draws_add_up_to_one_process_draws():
    opts = StepOptions(label_noise=0.05)
    whole = draw(8, 5, opts, torch.device("cpu"), torch.Generator().manual_seed(3))
    halves = [draw(4, 5, opts, torch.device("cpu"), torch.Generator().manual_seed(3), Shard(r, 2)) for r in (0, 1)]
    for name in ("noise_d", "noise_g", "label_noise_fake", "label_noise_real"):
        assert torch.equal(torch.cat([getattr(h, name) for h in halves]), getattr(whole, name)), name


def test_replay_buffer_collects_first_then_mixes_old_fakes_in():
    buffer = ReplayBuffer(8, (1, 2, 2), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    first = torch.zeros(4, 1, 2, 2)
    assert torch.equal(buffer.mix(first, 0.5, gen), first), "nothing to replay before a batch is stored"
    fresh = torch.ones(4, 1, 2, 2)
    mixed = buffer.mix(fresh, 1.0, gen)
    assert torch.equal(mixed, first), "with probability 1 every sample comes from the buffer (all zeros so far)"
    state = buffer.state_dict()
    other = ReplayBuffer(8, (1, 2, 2), torch.device("cpu"))
    other.load_state_dict(state)
    assert other.count == buffer.count == 8 and torch.equal(other.images, buffer.images)


def test_ema_moves_parameters_by_one_minus_decay_and_copies_buffers():
    model, _ = build("dcgan")
    ema, _ = build("dcgan")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
        for p in ema.parameters():
            p.fill_(0.0)
        for b in model.buffers():
            b.fill_(3)
    update_ema(ema, model, decay=0.9)
    assert all(torch.allclose(p, torch.full_like(p, 0.1)) for p in ema.parameters())
    assert all(torch.equal(b, torch.full_like(b, 3)) for b in ema.buffers())


def test_a_step_returns_the_named_metrics_and_moves_both_nets():
    torch.manual_seed(0)
    g, d = build("mlp")
    # lr 1e-4: at the book's 1e-3, RMSprop's first D step on this noise saturates D and G's gradient underflows to 0
    opt_g, opt_d = keras_rmsprop(g.parameters(), 1e-4), keras_rmsprop(d.parameters(), 1e-4)
    d_before, g_before = [p.clone() for p in d.parameters()], [p.clone() for p in g.parameters()]
    values = train_step(Nets(g, d), opt_g, opt_d, torch.rand(8, 1, 28, 28), 30, torch.Generator().manual_seed(1),
                        StepOptions())
    assert values.shape == (len(LOSS_METRICS),)
    metrics = dict(zip(LOSS_METRICS, values.tolist()))
    assert 0 <= metrics["d_acc_real"] <= 1 and 0 <= metrics["d_acc_fake"] <= 1 and metrics["g_loss"] > 0
    assert all(not torch.equal(a, b) for a, b in zip(d_before, d.parameters())), "D's step moved every D tensor"
    assert all(not torch.equal(a, b) for a, b in zip(g_before, g.parameters())), "G's step moved every G tensor"


@pytest.mark.parametrize("clip", [0.0, 1e-6])
def test_gradient_value_clipping(clip):
    torch.manual_seed(0)
    g, d = build("mlp")
    opt_g, opt_d = keras_rmsprop(g.parameters(), 1e-3), keras_rmsprop(d.parameters(), 1e-3)
    train_step(Nets(g, d), opt_g, opt_d, torch.rand(8, 1, 28, 28), 30, torch.Generator().manual_seed(1),
               StepOptions(clip_value=clip))
    largest = max(p.grad.abs().max().item() for p in d.parameters())
    assert (largest <= clip) if clip else (largest > 1e-6)
