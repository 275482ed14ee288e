"""Training speed: a faithful eager port of the book step vs our trainer's step, side by side.

    python -m benchmarks.train_speed [--presets dcgan,mlp,frog] [--batches 32,256] [--options fp32,bf16]

(a) `EagerBookStep` below is what a straightforward port of the book loop looks like (the
    pytorch/examples DCGAN style): a DataLoader over pre-scaled float images, default RMSprop,
    G's graph built for D's phase too, D's gradients computed in G's phase, and `.item()` on both
    losses every step (the Keras loop logs them). It is kept here only as the reference. Its loss
    is BCE on logits, the function our D defines (sigmoid + BCELoss is the same function but
    clamps once D saturates, and RMSprop's first steps turn such tiny gradient differences into
    different updates, which would make the parity check meaningless).
    Its D uses PyTorch's own `nn.Dropout`.
(b) our path: the trainer's `train.fast.StaticStep` (uint8 data resident on the device, the
    step replayed as one CUDA graph on GPUs), metrics summed on the device and read every 50 steps;
    `--options` adds our opt-in variants (bf16 autocast, channels-last layout).
Before timing, both run the same 5 steps from the same weights, batches, noise and dropout
masks, and their losses must agree within 1e-4 (the opt-in variants: 2e-2, first step only): the
speed never comes from other arithmetic. The paths are then timed in alternating blocks, so all
see the same machine.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from core.errors import summary
from core.machine import cpu
from core.formats.metrics_jsonl import LOSS_METRICS
from core.spec import PRESETS
from gan.dropout import Dropout
from train.fast import StaticStep
from gan.models import build
from train.step import Nets, StepOptions, draw, keras_rmsprop, train_step

PARITY_TOLERANCE = 1e-4
# bf16 keeps ~3 significant digits, and channels-last convolutions sum in another order. RMSprop's
# first updates (~ lr·sign(grad)) and the early GAN game amplify any such difference within a few
# steps, so these variants are compared over their first step only.
VARIANT_PARITY_TOLERANCE = 2e-2


def with_torch_dropout(model: nn.Sequential) -> nn.Sequential:
    """The model with PyTorch's own `nn.Dropout` layers, as a straightforward port would have."""
    for i, layer in enumerate(model):
        if isinstance(layer, Dropout):
            model[i] = nn.Dropout(layer.p)
    return model


class EagerBookStep:
    """The reference: the book's two-phase step, ported line by line without any care for speed."""

    def __init__(self, generator, discriminator, preset, opts: StepOptions):
        discriminator = with_torch_dropout(discriminator)
        self.g, self.d, self.latent, self.opts = generator, discriminator, preset.latent_dim, opts
        self.opt_g = torch.optim.RMSprop(generator.parameters(), lr=preset.lr_g, alpha=0.9, eps=1e-7)
        self.opt_d = torch.optim.RMSprop(discriminator.parameters(), lr=preset.lr_d, alpha=0.9, eps=1e-7)
        self.bce = nn.BCEWithLogitsLoss()

    def labels(self, batch, value, noise_gen, device):
        y = torch.full((batch, 1), value, device=device)
        return y - self.opts.label_noise * torch.rand((batch, 1), device=device, generator=noise_gen) \
            if self.opts.label_noise else y

    def __call__(self, real, noise_gen):
        batch, device = real.shape[0], real.device
        noise = torch.randn((batch, self.latent), device=device, generator=noise_gen)
        fake = self.g(noise)
        y = torch.cat([self.labels(batch, 0.0, noise_gen, device), self.labels(batch, 1.0, noise_gen, device)])
        self.d.zero_grad()
        loss_d = self.bce(self.d(torch.cat([fake.detach(), real])), y)
        loss_d.backward()
        if self.opts.clip_value:
            nn.utils.clip_grad_value_(self.d.parameters(), self.opts.clip_value)
        self.opt_d.step()
        noise = torch.randn((batch, self.latent), device=device, generator=noise_gen)
        self.g.zero_grad()
        loss_g = self.bce(self.d(self.g(noise)), torch.ones((batch, 1), device=device))
        loss_g.backward()
        if self.opts.clip_value:
            nn.utils.clip_grad_value_(self.g.parameters(), self.opts.clip_value)
        self.opt_g.step()
        return loss_d.item(), loss_g.item()


class OurStep:
    def __init__(self, generator, discriminator, preset, opts: StepOptions):
        self.g, self.d, self.latent, self.opts = generator, discriminator, preset.latent_dim, opts
        self.opt_g = keras_rmsprop(generator.parameters(), preset.lr_g)
        self.opt_d = keras_rmsprop(discriminator.parameters(), preset.lr_d)

    def __call__(self, real, noise_gen):
        return train_step(Nets(self.g, self.d), self.opt_g, self.opt_d, real, self.latent, noise_gen, self.opts)


def fake_dataset(preset, n: int, device) -> torch.Tensor:
    """Random uint8 images: the arithmetic per step does not depend on pixel values."""
    return torch.randint(0, 256, (n, *preset.image_shape), dtype=torch.uint8, device=device)


def scale(images_u8, preset):
    lo, hi = preset.pixel_range
    return images_u8.float() * ((hi - lo) / 255.0) + lo


def our_options(preset, precision: str = "fp32", channels_last: bool = False) -> StepOptions:
    return StepOptions(label_noise=preset.label_noise, clip_value=preset.clip_value, precision=precision,
                       channels_last=channels_last)


def our_models(name, device, opts: StepOptions):
    return (m.to(device, memory_format=opts.memory_format) for m in build(name))


def check_parity(name, device, opts: StepOptions, steps: int = 5) -> float:
    """Max |loss difference| between the two paths over `steps` identical steps."""
    preset = PRESETS[name]
    torch.manual_seed(0)
    g, d = our_models(name, device, opts)
    ref = EagerBookStep(copy.deepcopy(g).to(memory_format=torch.contiguous_format),
                        copy.deepcopy(d).to(memory_format=torch.contiguous_format), preset, our_options(preset))
    ours = OurStep(g, d, preset, opts)
    data = scale(fake_dataset(preset, 8 * steps, device), preset)
    worst = 0.0
    gen_ref, gen_ours = (torch.Generator(device=device).manual_seed(1) for _ in range(2))
    for i in range(steps):
        real = data[i * 8:(i + 1) * 8]
        torch.manual_seed(100 + i)  # same dropout masks on both paths
        d_ref, g_ref = ref(real, gen_ref)
        torch.manual_seed(100 + i)
        m = dict(zip(LOSS_METRICS, ours(real, gen_ours).tolist()))
        worst = max(worst, abs(d_ref - (m["d_loss_real"] + m["d_loss_fake"]) / 2), abs(g_ref - m["g_loss"]))
    return worst


def eager_runner(name, batch, device, images_u8: torch.Tensor | None = None):
    """`run(steps)` for the eager port, fed by a DataLoader as such ports are; `run.generator` is its G.
    Trains on `images_u8` (uint8, N×C×H×W) when given, else on random pixels."""
    preset = PRESETS[name]
    g, d = (m.to(device) for m in build(name))
    step = EagerBookStep(g, d, preset, our_options(preset))
    images = scale(fake_dataset(preset, max(4096, 4 * batch), device) if images_u8 is None else images_u8.to(device),
                   preset)
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True, drop_last=True)
    noise_gen = torch.Generator(device=device).manual_seed(0)
    batches = (b for _ in iter(int, 1) for (b,) in loader)

    def run(steps: int) -> None:
        for _ in range(steps):
            step(next(batches), noise_gen)
    run.generator = g
    return run


def our_runner(name, batch, device, opts: StepOptions, images_u8: torch.Tensor | None = None):
    """`run(steps)` for the trainer's own step runner: static buffers, one CUDA graph per step on GPUs,
    metrics summed on the device and read every 50 steps; `run.generator` is its G. Trains on
    `images_u8` when given, else on random pixels."""
    preset = PRESETS[name]
    g, d = our_models(name, device, opts)
    graphs = device.type == "cuda"
    opt_g, opt_d = keras_rmsprop(g.parameters(), preset.lr_g, graphs), keras_rmsprop(d.parameters(), preset.lr_d, graphs)
    noise_gen = torch.Generator(device=device).manual_seed(0)
    images = fake_dataset(preset, max(4096, 4 * batch), device) if images_u8 is None else images_u8.to(device)
    total = torch.zeros(len(LOSS_METRICS), device=device)
    step = StaticStep(lambda real, draws: train_step(Nets(g, d), opt_g, opt_d, real, preset.latent_dim, noise_gen,
                                                     opts, draws=draws),
                      lambda: draw(batch, preset.latent_dim, opts, device, noise_gen),
                      images, preset.pixel_range, batch, total, capture=graphs)
    state = {"n": 0}

    def indices():
        while True:
            order = torch.randperm(len(images), device=device)
            for i in range(len(images) // batch):
                yield order[i * batch:(i + 1) * batch]
    batches = indices()

    def run(steps: int) -> None:
        for _ in range(steps):
            step(next(batches))
            state["n"] += 1
            if state["n"] % 50 == 0:
                total.tolist()  # the trainer's one read per logging window
    run.generator = g
    return run


def describe_device(device: torch.device) -> str:
    """The line every speed figure is printed under: the GPU, or the CPU with its instruction set."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{cpu().describe()}; {torch.get_num_threads()} torch threads"
    return f"device: {device} ({where}), torch {torch.__version__}"


def time_side_by_side(runners, batch, device, seconds: float, blocks: int = 8) -> list[float]:
    """Images/s of each runner, timed in alternating blocks so that all see the same machine
    (a shared machine drifts by tens of percent within a minute)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    steps_per_block = []
    for run in runners:  # warm up, and size each block to about seconds / blocks / len(runners)
        run(5)
        sync()
        start = time.perf_counter()
        run(3)
        sync()
        per_step = (time.perf_counter() - start) / 3
        steps_per_block.append(max(1, round(seconds / blocks / len(runners) / per_step)))
    done, spent = [0] * len(runners), [0.0] * len(runners)
    for _ in range(blocks):
        for i, run in enumerate(runners):
            start = time.perf_counter()
            run(steps_per_block[i])
            sync()
            spent[i] += time.perf_counter() - start
            done[i] += steps_per_block[i]
    return [n * batch / t for n, t in zip(done, spent)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_speed", description=summary(__doc__))
    parser.add_argument("--presets", default="dcgan,mlp,frog")
    parser.add_argument("--batches", default=None, help="default: 32,1024 on CUDA, 32,256 on CPU")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per preset and batch, all paths together")
    parser.add_argument("--options", default="fp32",
                        help="our paths to time, comma-separated: fp32, bf16, fp32+cl, bf16+cl (cl: channels last)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    batches = [int(b) for b in (args.batches or ("32,1024" if device.type == "cuda" else "32,256")).split(",")]
    labels = args.options.split(",")  # e.g. "bf16+cl": precision, then "+cl" for channels last
    print(describe_device(device))
    print(f"{'preset':>6} {'batch':>6} {'ours':>8} | {'eager img/s':>12} | {'ours img/s':>11} | {'speed-up':>8} | "
          f"loss parity")
    for name in args.presets.split(","):
        preset = PRESETS[name]
        variants = {label: our_options(preset, label.split("+")[0], label.endswith("+cl")) for label in labels}
        parity = {}
        for label, opts in variants.items():
            parity[label] = check_parity(name, device, opts, steps=5 if label == "fp32" else 1)
            bound = PARITY_TOLERANCE if label == "fp32" else VARIANT_PARITY_TOLERANCE
            if parity[label] > bound:
                raise SystemExit(f"{name} {label}: losses differ by {parity[label]:.2e} (> {bound}); refusing to time")
        for batch in batches:
            runners = [eager_runner(name, batch, device)] + [our_runner(name, batch, device, opts)
                                                             for opts in variants.values()]
            eager, *ours = time_side_by_side(runners, batch, device, args.seconds)
            for label, speed in zip(variants, ours):
                print(f"{name:>6} {batch:>6} {label:>8} | {eager:>12,.0f} | {speed:>11,.0f} | {speed / eager:>7.2f}x | "
                      f"{parity[label]:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
