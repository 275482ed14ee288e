"""Differentiable augmentation with an adaptive probability, for the modern recipe.

D overfits a small training set (the 5,000 CIFAR-10 frogs) within a few thousand steps: it
learns the real images by heart and its gradients stop telling G anything useful. Augmenting
what D sees helps only if *every* image D judges is augmented the same way, real and fake, in
D's step and in G's step alike, and only if the augmentation is differentiable, so that G's
gradient flows back through it (Zhao et al. 2020, "DiffAugment"). Augmenting each image with
probability p < 1 and steering p by how sure D is of the real images keeps the augmentations
from leaking into G's images (Karras et al. 2020, "ADA"): the heuristic r = E[sign D(real)]
rises above the target when D starts to overfit, and p rises with it.

The three DiffAugment operations (colour, translation, cutout) read all their randomness from a
tensor of uniforms drawn with the step's other random numbers (train.step.Draws), so a step is
a pure function of its inputs: the CUDA-graph path can replay it and a resumed run repeats it.
p lives on the device and is adapted in place, with no host sync.
"""
from __future__ import annotations

from typing import Callable

import torch

OPERATIONS = ("color", "translation", "cutout")
UNIFORMS = 10  # per image: an apply-draw for each of the 3 operations, 3 colour, 2 translation, 2 cutout
TRANSLATION_RATIO = 1 / 8  # largest shift, as a fraction of the image side (DiffAugment's default)
CUTOUT_RATIO = 1 / 2  # side of the erased square, as a fraction of the image side
ADA_INTERVAL = 4  # steps between two adjustments of p (StyleGAN2-ADA's default)


def parse_policy(text: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); '' or 'none' -> (); unknown names raise ValueError."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(OPERATIONS)} or none")
    return names


def _color(x: torch.Tensor, u: torch.Tensor, half_range: float) -> torch.Tensor:
    """Brightness ±half the pixel range's half-width, saturation ×[0, 2), contrast ×[0.5, 1.5)."""
    x = x + ((u[:, 0] - 0.5) * half_range).view(-1, 1, 1, 1)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (u[:, 1] * 2).view(-1, 1, 1, 1) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (u[:, 2] + 0.5).view(-1, 1, 1, 1) + mean


def _translation(x: torch.Tensor, u: torch.Tensor, fill: float) -> torch.Tensor:
    """Shift each image by up to 1/8 of its side in x and y, filling the uncovered border with `fill`."""
    batch, _, height, width = x.shape
    reach_y, reach_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    shift_y = (u[:, 0] * (2 * reach_y + 1)).long().clamp(max=2 * reach_y) - reach_y
    shift_x = (u[:, 1] * (2 * reach_x + 1)).long().clamp(max=2 * reach_x) - reach_x
    rows = torch.arange(height, device=x.device).view(1, -1) - shift_y.view(-1, 1)   # (B, H) source rows
    cols = torch.arange(width, device=x.device).view(1, -1) - shift_x.view(-1, 1)    # (B, W) source columns
    inside = ((rows >= 0) & (rows < height)).view(batch, 1, height, 1) & ((cols >= 0) & (cols < width)).view(batch, 1, 1, width)
    rows = rows.clamp(0, height - 1).view(batch, 1, height, 1).expand(-1, x.shape[1], -1, width)
    shifted = x.gather(2, rows)
    cols = cols.clamp(0, width - 1).view(batch, 1, 1, width).expand(-1, x.shape[1], height, -1)
    shifted = shifted.gather(3, cols)
    return torch.where(inside, shifted, torch.full_like(shifted, fill))


def _cutout(x: torch.Tensor, u: torch.Tensor, fill: float) -> torch.Tensor:
    """Erase one square of half the image's side, centred anywhere in the image, to `fill`."""
    _, _, height, width = x.shape
    size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    centre_y = (u[:, 0] * height).long().view(-1, 1, 1, 1)
    centre_x = (u[:, 1] * width).long().view(-1, 1, 1, 1)
    rows = torch.arange(height, device=x.device).view(1, 1, -1, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, 1, -1)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    erased = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return torch.where(erased, torch.full_like(x, fill), x)


class Augment:
    """The augmentation D's inputs go through, with its probability p and, if asked, p's adaptation."""

    def __init__(self, policy: tuple[str, ...], pixel_range: tuple[float, float], device: torch.device,
                 p: float = 1.0, ada_target: float = 0.0, ada_images: float = 20_000, batch: int = 32):
        self.policy = policy
        self.fill = (pixel_range[0] + pixel_range[1]) / 2  # the middle grey of the pixel range, as DiffAugment pads
        self.half_range = (pixel_range[1] - pixel_range[0]) / 2
        self.p = torch.tensor(float(p), device=device)
        self.ada_target = ada_target
        # How far p moves per adjustment: it can cross [0, 1] in `ada_images` real images.
        self.ada_step = batch * ADA_INTERVAL / ada_images
        # D's accuracy on the (augmented) reals, summed over the steps since the last adjustment. The
        # count of those steps is the step number modulo ADA_INTERVAL, so no host-side counter is kept
        # (a CUDA graph would not replay one) and a resumed run adjusts at the same steps.
        self.acc_real_sum = torch.zeros((), device=device)

    @property
    def adaptive(self) -> bool:
        return self.ada_target > 0

    def __call__(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) augmented image by image: each operation applied with probability p."""
        ops = {"color": lambda y, v: _color(y, v, self.half_range),
               "translation": lambda y, v: _translation(y, v, self.fill),
               "cutout": lambda y, v: _cutout(y, v, self.fill)}
        params = {"color": u[:, 3:6], "translation": u[:, 6:8], "cutout": u[:, 8:10]}
        for i, name in enumerate(OPERATIONS):
            if name in self.policy:
                apply = (u[:, i] < self.p).view(-1, 1, 1, 1)
                x = torch.where(apply, ops[name](x, params[name]), x)
        return x

    def observe(self, acc_real: torch.Tensor) -> None:
        """Add one step's D accuracy on the real batch (the share of positive logits) on the device."""
        if self.adaptive:
            self.acc_real_sum += acc_real

    def adapt(self, step: int, world: int = 1, all_reduce: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> None:
        """After every ADA_INTERVAL-th step: r = E[sign D(real)] = 2·accuracy − 1 over the interval,
        and p moves one notch up if r is above the target (D too sure of the reals), else down.
        Under DDP `all_reduce` sums the `world` processes' accuracies, so every process moves p alike."""
        if not self.adaptive or step % ADA_INTERVAL:
            return
        r = 2 * all_reduce(self.acc_real_sum) / (ADA_INTERVAL * world) - 1
        self.p.add_(torch.sign(r - self.ada_target) * self.ada_step).clamp_(0.0, 1.0)
        self.acc_real_sum.zero_()

    def state_dict(self) -> dict:
        return {"p": self.p.cpu(), "acc_real_sum": self.acc_real_sum.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.p.copy_(state["p"])
        self.acc_real_sum.copy_(state["acc_real_sum"])
