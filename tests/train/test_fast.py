"""The step runner of train/fast.py: its static-buffer path must compute exactly the eager step."""

import pytest
import torch

from core.formats.metrics_jsonl import LOSS_METRICS
from train.fast import WARMUP, StaticStep
from gan.models import build
from train.step import Nets, StepOptions, draw, keras_rmsprop, train_step


def setup(device, capturable=False):
    torch.manual_seed(0)
    generator, discriminator = (m.to(device) for m in build("dcgan"))
    return (generator, discriminator, keras_rmsprop(generator.parameters(), 1e-3, capturable),
            keras_rmsprop(discriminator.parameters(), 1e-3, capturable))


def run_static(device, capture, steps, images, orders, opts, graphs=None):
    g, d, opt_g, opt_d = setup(device, capturable=capture and device.type == "cuda")  # CPU optimizers cannot
    noise_gen = torch.Generator(device=device).manual_seed(1)
    total = torch.zeros(len(LOSS_METRICS), device=device)
    step = StaticStep(lambda real, draws: train_step(Nets(g, d), opt_g, opt_d, real, 100, noise_gen, opts, draws=draws),
                      lambda: draw(8, 100, opts, device, noise_gen), images, (-1.0, 1.0), 8, total, capture=capture,
                      graphs=graphs)
    torch.manual_seed(5)  # dropout masks
    for i in range(steps):
        step(orders[i])
    return g, d, total


def test_static_path_equals_the_plain_eager_step():
    device = torch.device("cpu")
    opts = StepOptions(label_smoothing=0.1, label_noise=0.05, clip_value=1.0)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    orders = [torch.randperm(64)[:8] for _ in range(6)]
    g_static, d_static, total = run_static(device, False, 6, images, orders, opts)

    g, d, opt_g, opt_d = setup(device)
    noise_gen = torch.Generator().manual_seed(1)
    expected = torch.zeros(len(LOSS_METRICS))
    torch.manual_seed(5)
    for idx in orders:
        real = images[idx].float() * (2 / 255.0) - 1.0
        expected += train_step(Nets(g, d), opt_g, opt_d, real, 100, noise_gen, opts)
    assert torch.equal(total, expected)
    for a, b in ((g, g_static), (d, d_static)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU; none on this machine")
def test_cuda_graph_replays_match_eager_steps():
    device = torch.device("cuda")
    opts = StepOptions()
    images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, device=device)
    steps = WARMUP + 12
    orders = [torch.randperm(256, device=device)[:8] for _ in range(steps)]
    g_graph, _, total_graph = run_static(device, True, steps, images, orders, opts)
    g_eager, _, total_eager = run_static(device, False, steps, images, orders, opts)
    assert torch.isfinite(total_graph).all()
    # dropout masks come from the same default generator, but cuDNN may pick other algorithms
    # inside the graph, so agreement is to float tolerance, not bit for bit
    assert torch.allclose(total_graph, total_eager, rtol=1e-3, atol=1e-3)
    for x, y in zip(g_graph.state_dict().values(), g_eager.state_dict().values()):
        assert torch.allclose(x, y, rtol=1e-3, atol=1e-3)


def one_step(opts):
    g, d, opt_g, opt_d = setup(torch.device("cpu"))
    g, d = g.to(memory_format=opts.memory_format), d.to(memory_format=opts.memory_format)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    torch.manual_seed(5)
    metrics = train_step(Nets(g, d), opt_g, opt_d, real, 100, torch.Generator().manual_seed(1), opts)
    return metrics, g


def test_bf16_autocast_is_active_and_close_to_fp32():
    fp32, g32 = one_step(StepOptions())
    bf16, g16 = one_step(StepOptions(precision="bf16"))
    assert not torch.equal(fp32, bf16), "bf16 autocast should change the arithmetic"
    assert torch.allclose(fp32, bf16, atol=0.05), (fp32, bf16)
    assert all(p.dtype == torch.float32 for p in g16.parameters()), "weights must stay fp32 under autocast"


def test_channels_last_computes_the_same_step():
    reference, _ = one_step(StepOptions())
    metrics, g = one_step(StepOptions(channels_last=True))
    assert g[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(reference, metrics, atol=1e-5), (reference, metrics)


class SimulatedGraphs:
    """Stands in for CUDA on the CPU: warm-up and replay run the body; capture records it, or fails."""

    def __init__(self, fail: bool):
        self.fail, self.captures, self.warmups = fail, 0, 0

    def warmup(self, body):
        self.warmups += 1
        body()

    def capture(self, body):
        self.captures += 1
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing\nsecond line")
        return body


@pytest.mark.parametrize("fail", [False, True])
def test_graph_path_computes_the_eager_step_and_falls_back_when_capture_fails(fail, capsys):
    """Capture succeeding or failing on a user's GPU, simulated: the same numbers as eager steps either way."""
    device = torch.device("cpu")
    opts = StepOptions(label_noise=0.05)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    steps = WARMUP + 4
    orders = [torch.randperm(64)[:8] for _ in range(steps)]
    graphs = SimulatedGraphs(fail)
    g_graph, _, total_graph = run_static(device, True, steps, images, orders, opts, graphs)
    g_eager, _, total_eager = run_static(device, False, steps, images, orders, opts)
    assert torch.equal(total_graph, total_eager)
    for x, y in zip(g_graph.state_dict().values(), g_eager.state_dict().values()):
        assert torch.equal(x, y)
    assert graphs.warmups == WARMUP and graphs.captures == 1, "one capture attempt, never a retry"
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    if fail:
        assert len(warnings) == 1 and "CUDA graph capture failed (operation not permitted" in warnings[0]
    else:
        assert warnings == []
