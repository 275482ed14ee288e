"""Fold a generator's leading run of affine layers into one matrix, for export.

In inference, Géron's DCGAN generator starts with Dense → Reshape → BatchNorm → ConvTranspose
and only then meets a nonlinearity (SELU). Those four layers are one affine map of z: 100 inputs
to 64·14·14 = 12,544 outputs, i.e. a single 12,544 × 100 matrix plus a bias. Applying that
matrix costs 1.25 M multiply-adds per image instead of the layers' 10.6 M, so the exported graph
is several times cheaper at every batch size. The matrix is computed in float64 from the trained
weights (the map applied to z = 0 and to each unit vector), so it equals the layers up to float
rounding, which the exporter's parity check verifies on every export. Folding is skipped where it
would not save arithmetic (the MLP and frog generators meet a nonlinearity right after Dense).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from gan.models import Reshape

AFFINE = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Flatten, nn.Identity,
          nn.Dropout, Reshape)  # affine maps in eval mode
MAX_FOLDED_ENTRIES = 16_000_000  # 64 MB of fp32: never trade a small model for a huge matrix


def _macs(layers: list[nn.Module], latent_dim: int) -> tuple[int, tuple[int, ...]]:
    """Multiply-adds per image of `layers` in sequence, and their output shape."""
    x = torch.zeros(1, latent_dim)
    total = 0
    with torch.no_grad():
        for layer in layers:
            y = layer(x)
            if isinstance(layer, nn.Linear):
                total += layer.weight.numel()
            elif isinstance(layer, nn.Conv2d):
                total += layer.weight.numel() * y.shape[2] * y.shape[3]
            elif isinstance(layer, nn.ConvTranspose2d):
                total += layer.weight.numel() * x.shape[2] * x.shape[3]
            x = y
    return total, tuple(x.shape[1:])


def _fold(layers: list[nn.Module], latent_dim: int) -> nn.Linear:
    affine = copy.deepcopy(nn.Sequential(*layers)).double().eval()
    with torch.no_grad():
        bias = affine(torch.zeros(1, latent_dim, dtype=torch.float64)).reshape(1, -1)
        columns = affine(torch.eye(latent_dim, dtype=torch.float64)).reshape(latent_dim, -1) - bias
    linear = nn.Linear(latent_dim, columns.shape[1])
    linear.weight.data.copy_(columns.T)
    linear.bias.data.copy_(bias[0])
    return linear


def fold_affine_prefix(generator: nn.Module, latent_dim: int) -> tuple[nn.Module, list[str]]:
    """`(module, folded layer names)`: an eval-mode copy of G whose leading affine layers are one
    Linear (+ Reshape), or G itself and [] where folding would not save arithmetic."""
    if not isinstance(generator, nn.Sequential):
        return generator, []
    layers = list(generator.eval())
    end = 0
    while end < len(layers) and isinstance(layers[end], AFFINE):
        end += 1
    for stop in range(end, 1, -1):  # the longest prefix that pays
        prefix = layers[:stop]
        if not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d)) for m in prefix):
            continue
        original, out_shape = _macs(prefix, latent_dim)
        folded = latent_dim * int(torch.Size(out_shape).numel())
        if folded <= original and folded <= MAX_FOLDED_ENTRIES:
            rest = [Reshape(*out_shape)] if len(out_shape) > 1 else []
            module = nn.Sequential(_fold(prefix, latent_dim), *rest, *copy.deepcopy(layers[stop:]))
            return module.eval(), [type(m).__name__ for m in prefix]
    return generator, []
