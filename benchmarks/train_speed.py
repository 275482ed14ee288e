"""Training speed: a faithful eager port of the book step vs our trainer's step, side by side.

    python -m benchmarks.train_speed [--presets dcgan,mlp,frog] [--batches 32,256] [--seconds 5]

(a) `EagerBookStep` below is what a straightforward port of the book loop looks like (the
    pytorch/examples DCGAN style): a DataLoader over pre-scaled float images, default RMSprop,
    G's graph built for D's phase too, D's gradients computed in G's phase, and `.item()` on both
    losses every step (the Keras loop logs them). It is kept here only as the reference. Its loss
    is BCE on logits, the function our D defines (sigmoid + BCELoss is the same function but
    clamps once D saturates, and RMSprop's first steps turn such tiny gradient differences into
    different updates, which would make the parity check meaningless).
(b) our path: the trainer's `train.fast.StaticStep` (uint8 data resident on the device, the
    step replayed as one CUDA graph on GPUs), metrics summed on the device and read every 50 steps.
Before timing, both run the same 5 steps from the same weights, batches, noise and dropout
masks, and their losses must agree within 1e-4: the speed never comes from other arithmetic.
"""
from __future__ import annotations

import argparse
import copy
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from train.dropout import Dropout
from train.models import PRESETS, build
from train.fast import StaticStep
from train.step import Nets, StepOptions, draw, keras_rmsprop, train_step

PARITY_TOLERANCE = 1e-4


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


def check_parity(name, device, steps: int = 5) -> float:
    """Max |loss difference| between the two paths over `steps` identical steps."""
    preset = PRESETS[name]
    opts = StepOptions(label_noise=preset.label_noise, clip_value=preset.clip_value)
    torch.manual_seed(0)
    g, d = build(name)
    g, d = g.to(device), d.to(device)
    ref = EagerBookStep(copy.deepcopy(g), copy.deepcopy(d), preset, opts)
    ours = OurStep(g, d, preset, opts)
    data = scale(fake_dataset(preset, 8 * steps, device), preset)
    worst = 0.0
    gen_ref, gen_ours = (torch.Generator(device=device).manual_seed(1) for _ in range(2))
    for i in range(steps):
        real = data[i * 8:(i + 1) * 8]
        torch.manual_seed(100 + i)  # same dropout masks on both paths
        d_ref, g_ref = ref(real, gen_ref)
        torch.manual_seed(100 + i)
        m = ours(real, gen_ours).tolist()
        worst = max(worst, abs(d_ref - (m[0] + m[1]) / 2), abs(g_ref - m[4]))
    return worst


def time_eager(name, batch, device, seconds) -> float:
    preset = PRESETS[name]
    g, d = (m.to(device) for m in build(name))
    step = EagerBookStep(g, d, preset, StepOptions(label_noise=preset.label_noise, clip_value=preset.clip_value))
    images = scale(fake_dataset(preset, max(4096, 4 * batch), device), preset)
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True, drop_last=True)
    noise_gen = torch.Generator(device=device).manual_seed(0)
    return _timed(lambda real: step(real, noise_gen), (b for _ in iter(int, 1) for (b,) in loader), batch, device, seconds)


def time_ours(name, batch, device, seconds) -> float:
    """The trainer's own step runner: static buffers, and one CUDA graph per step on GPUs."""
    preset = PRESETS[name]
    g, d = (m.to(device) for m in build(name))
    graphs = device.type == "cuda"
    opt_g, opt_d = keras_rmsprop(g.parameters(), preset.lr_g, graphs), keras_rmsprop(d.parameters(), preset.lr_d, graphs)
    opts = StepOptions(label_noise=preset.label_noise, clip_value=preset.clip_value)
    noise_gen = torch.Generator(device=device).manual_seed(0)
    images = fake_dataset(preset, max(4096, 4 * batch), device)
    total = torch.zeros(5, device=device)
    step = StaticStep(lambda real, draws: train_step(Nets(g, d), opt_g, opt_d, real, preset.latent_dim, noise_gen,
                                                     opts, draws=draws),
                      lambda: draw(batch, preset.latent_dim, opts, device, noise_gen),
                      images, preset.pixel_range, batch, total, capture=graphs)
    state = {"n": 0}

    def run(idx):
        step(idx)
        state["n"] += 1
        if state["n"] % 50 == 0:
            total.tolist()  # the trainer's one read per logging window

    def batches():
        while True:
            order = torch.randperm(len(images), device=device)
            for i in range(len(images) // batch):
                yield order[i * batch:(i + 1) * batch]

    return _timed(run, batches(), batch, device, seconds)


def _timed(run, batches, batch, device, seconds) -> float:
    """Images per second over at least `seconds`, after 5 warm-up steps."""
    for _ in range(5):
        run(next(batches))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            run(next(batches))
        steps += 10
        sync()
    return steps * batch / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="dcgan,mlp,frog")
    parser.add_argument("--batches", default=None, help="default: 32,1024 on CUDA, 32,256 on CPU")
    parser.add_argument("--seconds", type=float, default=5.0, help="timing window per measurement")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    batches = [int(b) for b in (args.batches or ("32,1024" if device.type == "cuda" else "32,256")).split(",")]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"device: {device} ({where}), torch {torch.__version__}")
    print(f"{'preset':>6} {'batch':>6} | {'eager img/s':>12} | {'ours img/s':>11} | {'speed-up':>8} | loss parity")
    for name in args.presets.split(","):
        worst = check_parity(name, device)
        if worst > PARITY_TOLERANCE:
            raise SystemExit(f"{name}: losses differ by {worst:.2e} (> {PARITY_TOLERANCE}); refusing to time")
        for batch in batches:
            eager = time_eager(name, batch, device, args.seconds)
            ours = time_ours(name, batch, device, args.seconds)
            print(f"{name:>6} {batch:>6} | {eager:>12,.0f} | {ours:>11,.0f} | {ours / eager:>7.2f}x | {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
