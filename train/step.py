"""The books' two-phase GAN step, as small functions over tensors.

Phase 1 trains D on [fake; real] with targets [0; 1] (Géron's order); phase 2 trains G
through D with fresh noise and targets 1. D is not "frozen" by flipping requires_grad
(that breaks compiled graphs, see docs/decisions.md): G's step simply asks autograd for G's
gradients only and steps only G's optimizer. Dropout in D stays active in both phases,
as in Keras' `train_on_batch`.

The modern recipe (docs/modern-recipe.md) runs the same two phases with the hinge loss, and
passes every batch D sees through the differentiable augmentation of train/augment.py.

Every function returns tensors and never calls `.item()`, so nothing waits for the GPU;
the trainer reads the accumulated metrics every `--log-every` steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.formats.metrics_jsonl import step_metrics  # the order of the values in the metrics vector a step returns
from gan.models import call, one_hot, split_class_logits

from .augment import UNIFORMS, Augment

ADAM_BETAS = (0.0, 0.99)
REPLAY_SHARE = 0.5  # with --replay, each fake D sees comes from the buffer with this probability


@dataclass
class StepOptions:
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    clip_value: float = 0.0
    loss: str = "bce"  # "bce": the books' non-saturating loss; "hinge": the modern recipe's
    augment: bool = False  # draw the uniforms of D's differentiable augmentation (train/augment.py)
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (weights, grads, optimizer stay fp32)
    channels_last: bool = False  # real batches in channels-last layout (the models are converted by their owner)
    num_classes: int = 0  # a conditional run's classes: G and D also take one-hot class rows
    class_loss: float = 0.0  # weight of the AC-GAN class loss (D has a class head: gan.models.add_class_head)

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout of the models' 4-D weights and of real batches."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device: torch.device):
        """The forward passes' autocast context; backward runs outside it, as PyTorch's AMP guide says.
        No cast cache: a CUDA graph must recast the weights that each replay's optimizer step changed."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16", cache_enabled=False)


class ReplayBuffer:
    """Experience replay (Géron ch. 17): D also sees fakes from earlier generators.

    A fixed-size ring buffer on the training device; until it holds a full batch it only
    collects. Each replayed sample replaces a fresh fake with probability `prob`.
    """

    def __init__(self, capacity: int, image_shape: tuple[int, ...], device: torch.device):
        self.images = torch.zeros((capacity, *image_shape), device=device)
        self.capacity = capacity
        self.count = 0  # images written so far (host-side int: no sync needed)

    def mix(self, fake: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
        batch = fake.shape[0]
        mixed = fake
        if self.count >= batch:
            filled = min(self.count, self.capacity)
            idx = torch.randint(0, filled, (batch,), device=fake.device, generator=generator)
            use_old = torch.rand(batch, device=fake.device, generator=generator) < prob
            mixed = torch.where(use_old.view(-1, 1, 1, 1), self.images[idx], fake)
        slots = (torch.arange(batch, device=fake.device) + self.count) % self.capacity
        self.images[slots] = fake
        self.count += batch
        return mixed

    def state_dict(self) -> dict:
        return {"images": self.images.cpu(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.images.copy_(state["images"])
        self.count = int(state["count"])


@dataclass
class Shard:
    """This process's slice of each global batch under DistributedDataParallel (rank 0 of 1 alone).

    Every rank draws the *global* batch of noise from the same generator and keeps its slice,
    so N processes see exactly the noise one process would see with the same global batch.
    """

    rank: int = 0
    world: int = 1

    def draw(self, fn, batch: int, *shape: int, device, generator) -> torch.Tensor:
        full = fn((batch * self.world, *shape), device=device, generator=generator)
        return full[self.rank * batch:(self.rank + 1) * batch]


@dataclass
class Nets:
    """G and D, plus the wrappers that run their training forward passes (DDP, or the modules themselves)."""

    generator: nn.Module
    discriminator: nn.Module
    g_train: nn.Module | None = None
    d_train: nn.Module | None = None

    def __post_init__(self):
        self.g_train = self.g_train or self.generator
        self.d_train = self.d_train or self.discriminator


@dataclass
class Draws:
    """The random numbers of one step from the run's generator (dropout uses torch's default one).

    Drawn before any arithmetic, so a CUDA-graphed step can receive them in static buffers and
    consume exactly the numbers the eager step would.
    """

    noise_d: torch.Tensor  # (B, latent): G's input for D's phase
    noise_g: torch.Tensor  # (B, latent): G's input for G's phase
    label_noise_fake: torch.Tensor | None  # (B, 1) U(0,1) draws for Chollet's label noise, or None
    label_noise_real: torch.Tensor | None
    augment_d: torch.Tensor | None = None  # (2B, UNIFORMS): augmentation draws for D's [fake; real] batch
    augment_g: torch.Tensor | None = None  # (B, UNIFORMS): for the fakes of G's step
    classes_d: torch.Tensor | None = None  # (B,) int64: the classes G is asked for in D's phase (conditional runs)
    classes_g: torch.Tensor | None = None  # (B,) int64: in G's phase

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (self.noise_d, self.noise_g, self.label_noise_fake, self.label_noise_real,
                            self.augment_d, self.augment_g, self.classes_d, self.classes_g) if t is not None]


def draw(batch: int, latent_dim: int, opts: StepOptions, device: torch.device, generator: torch.Generator,
         shard: Shard = Shard()) -> Draws:
    noise_d = shard.draw(torch.randn, batch, latent_dim, device=device, generator=generator)
    label_fake = label_real = None
    if opts.label_noise:
        label_fake = shard.draw(torch.rand, batch, 1, device=device, generator=generator)
        label_real = shard.draw(torch.rand, batch, 1, device=device, generator=generator)
    noise_g = shard.draw(torch.randn, batch, latent_dim, device=device, generator=generator)
    augment_d = augment_g = None
    if opts.augment:  # drawn last: a run without augmentation draws exactly the numbers it always did
        augment_d = torch.cat([shard.draw(torch.rand, batch, UNIFORMS, device=device, generator=generator)
                               for _ in range(2)])
        augment_g = shard.draw(torch.rand, batch, UNIFORMS, device=device, generator=generator)
    classes_d = classes_g = None
    if opts.num_classes:  # drawn after everything else, for the same reason
        classes_d, classes_g = (shard.draw(lambda size, **kw: torch.randint(opts.num_classes, size, **kw), batch,
                                           device=device, generator=generator) for _ in range(2))
    return Draws(noise_d, noise_g, label_fake, label_real, augment_d, augment_g, classes_d, classes_g)


def d_targets(batch: int, real: bool, opts: StepOptions, device: torch.device,
              label_noise: torch.Tensor | None) -> torch.Tensor:
    """Targets for D: 1 for real (minus smoothing), 0 for fake, minus Chollet's noise if on."""
    value = (1.0 - opts.label_smoothing) if real else 0.0
    targets = torch.full((batch, 1), value, device=device)
    if opts.label_noise:
        targets = targets - opts.label_noise * label_noise
    return targets


def d_losses(logits_fake: torch.Tensor, logits_real: torch.Tensor, opts: StepOptions,
             draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
    """D's loss on the fakes and on the reals: the books' cross-entropy, or the hinge max(0, 1 ∓ logit)."""
    if opts.loss == "hinge":
        return F.relu(1 + logits_fake).mean(), F.relu(1 - logits_real).mean()
    batch, device = logits_fake.shape[0], logits_fake.device
    return (F.binary_cross_entropy_with_logits(logits_fake, d_targets(batch, False, opts, device, draws.label_noise_fake)),
            F.binary_cross_entropy_with_logits(logits_real, d_targets(batch, True, opts, device, draws.label_noise_real)))


def g_loss(logits: torch.Tensor, opts: StepOptions) -> torch.Tensor:
    """G's loss on D's logits for its fakes: non-saturating cross-entropy, or −logit for the hinge recipe."""
    if opts.loss == "hinge":
        return -logits.mean()
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def _clip(params, clip_value: float) -> None:
    if clip_value:
        nn.utils.clip_grad_value_(params, clip_value, foreach=True)


def train_step(nets: Nets, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               real: torch.Tensor, latent_dim: int, noise_gen: torch.Generator,
               opts: StepOptions, replay: ReplayBuffer | None = None, shard: Shard = Shard(),
               draws: Draws | None = None, augment: Augment | None = None,
               real_classes: torch.Tensor | None = None) -> torch.Tensor:
    """One D step then one G step; returns the metrics vector (in the order of step_metrics) on the device.

    `draws` are the step's random numbers; when None they are drawn here from `noise_gen`.
    `augment`, when given, transforms every batch D sees (fakes and reals, in both phases).
    A conditional run passes the real images' classes; the fakes' classes are drawn.
    """
    batch, device = real.shape[0], real.device
    if draws is None:
        draws = draw(batch, latent_dim, opts, device, noise_gen, shard)
    if opts.channels_last:
        real = real.contiguous(memory_format=opts.memory_format)
    k = opts.num_classes
    fake_d, fake_g, seen_classes = (None, None, None) if not k else (
        one_hot(draws.classes_d, k), one_hot(draws.classes_g, k), one_hot(torch.cat([draws.classes_d, real_classes]), k))

    # Phase 1: D on [fake; real] in one forward pass, as Keras' train_on_batch does. The fakes are
    # made without an autograd graph: D's step never backpropagates into G.
    with opts.autocast(device):
        with torch.no_grad():
            fake = call(nets.generator, draws.noise_d, fake_d).float()
        if replay is not None:
            fake = replay.mix(fake, REPLAY_SHARE, noise_gen)
        seen = torch.cat([fake, real])
        if augment is not None:
            seen = augment(seen, draws.augment_d)
        logits, class_logits = split_class_logits(call(nets.d_train, seen, seen_classes))  # (2B, 1), (2B, K)
        logits_fake, logits_real = logits[:batch], logits[batch:]
        loss_fake, loss_real = d_losses(logits_fake, logits_real, opts, draws)
        loss_d = (loss_fake + loss_real) / 2
        class_real = None if class_logits is None else class_logits[batch:].float()
        if class_real is not None:  # D learns the reals' classes only: fakes of a bad G would teach it wrong ones
            class_loss_real = F.cross_entropy(class_real, real_classes)
            loss_d = loss_d + opts.class_loss * class_loss_real
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    _clip(nets.discriminator.parameters(), opts.clip_value)
    opt_d.step()

    # Phase 2: G through D (the bare module: its gradients are not wanted, so DDP must not wait
    # for them), fresh noise, targets "real"; only G's gradients are computed.
    with opts.autocast(device):
        fake = call(nets.g_train, draws.noise_g, fake_g)
        if augment is not None:
            fake = augment(fake, draws.augment_g)
        logits, class_fake = split_class_logits(call(nets.discriminator, fake, fake_g))
        loss_g = g_loss(logits, opts)
        if class_fake is not None:
            class_fake = class_fake.float()
            class_loss_fake = F.cross_entropy(class_fake, draws.classes_g)
        loss_g_total = loss_g if class_fake is None else loss_g + opts.class_loss * class_loss_fake
    opt_g.zero_grad(set_to_none=True)
    g_params = [p for p in nets.generator.parameters() if p.requires_grad]
    loss_g_total.backward(inputs=g_params)
    _clip(g_params, opts.clip_value)
    opt_g.step()

    with torch.no_grad():
        acc_real = (logits_real > 0).float().mean()
        acc_fake = (logits_fake < 0).float().mean()
        values = {"d_loss_real": loss_real.detach(), "d_loss_fake": loss_fake.detach(), "d_acc_real": acc_real,
                  "d_acc_fake": acc_fake, "g_loss": loss_g.detach()}
        if class_real is not None:
            values.update(class_loss_real=class_loss_real.detach(), class_loss_fake=class_loss_fake.detach(),
                          class_acc_real=(class_real.argmax(1) == real_classes).float().mean(),
                          class_acc_fake=(class_fake.argmax(1) == draws.classes_g).float().mean())
        return torch.stack([values[name] for name in step_metrics(class_real is not None)])


def keras_rmsprop(params, lr: float, capturable: bool = False) -> torch.optim.RMSprop:
    """Keras' RMSprop defaults (rho 0.9, epsilon 1e-7), with PyTorch's multi-tensor kernels;
    `capturable` keeps the step count on the device so the update can live in a CUDA graph."""
    return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, foreach=True, capturable=capturable)


def adam(params, lr: float, capturable: bool = False) -> torch.optim.Adam:
    """The modern recipe's optimizer: Adam without momentum (β1 = 0), i.e. RMSprop with bias correction;
    β1 = 0.5 lost badly in the pilots of docs/modern-recipe.md."""
    return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, foreach=True, capturable=capturable)


OPTIMIZERS = {"rmsprop": keras_rmsprop, "adam": adam}  # --optimizer's choices


def ema_warmup_decay(decay: float, step: int) -> float:
    """The EMA decay at `step` with a warm-up: min(decay, (1 + step) / (10 + step)).

    A fixed 0.999 remembers the random initial weights for thousands of steps (the EMA of the
    50-epoch DCGAN scored FID 307 after one epoch against G's 165, docs/results.md); the warm-up
    averages over a window that grows with the run, so the EMA is useful from the first epoch."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float | torch.Tensor) -> None:
    """ema = decay·ema + (1 − decay)·model for parameters; buffers (BN statistics) are copied.
    `decay` may be a device tensor, which a CUDA graph reads afresh on every replay."""
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, list(model.parameters()), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)
