"""Rewrite stride-s transposed convolutions as one convolution plus a pixel shuffle, for export.

ONNX Runtime's CPU ConvTranspose (col2im) takes ~75% of the DCGAN generator's time at batch 1,
while its Conv is highly tuned. A stride-s transposed convolution is s² ordinary convolutions,
one per output phase, interleaved ("sub-pixel convolution", Shi et al. 2016): output pixel
o = s·m + r receives input pixel m + d through kernel tap k = r + p − s·d. We stack the s²
phase kernels as output channels of one Conv2d and interleave with PixelShuffle (ONNX
DepthToSpace). Same products, summed in another order: equal to float rounding, which the
exporter's parity check verifies on every export.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def _taps(kernel: int, stride: int, padding: int, phase: int) -> dict[int, int]:
    """Offset d of the input pixel -> kernel tap k, for output phase r (k = r + p − s·d)."""
    return {d: phase + padding - stride * d for d in range(-kernel, kernel + 1)
            if 0 <= phase + padding - stride * d < kernel}


class SubPixelConvTranspose2d(nn.Module):
    def __init__(self, deconv: nn.ConvTranspose2d):
        super().__init__()
        (s, _), (p, _), (k, _) = deconv.stride, deconv.padding, deconv.kernel_size
        c_in, c_out = deconv.in_channels, deconv.out_channels
        taps = [_taps(k, s, p, r) for r in range(s)]
        offsets = sorted({d for t in taps for d in t})
        lo, hi = offsets[0], offsets[-1]
        size = hi - lo + 1
        weight = torch.zeros(c_out * s * s, c_in, size, size)
        w = deconv.weight.detach()  # (c_in, c_out, k, k)
        for ry in range(s):
            for rx in range(s):
                for dy, ky in taps[ry].items():
                    for dx, kx in taps[rx].items():
                        # output channel c·s² + ry·s + rx is what PixelShuffle puts at (c, s·h + ry, s·w + rx)
                        weight[ry * s + rx::s * s, :, dy - lo, dx - lo] = w[:, :, ky, kx].T
        # zero-pad so every phase sees offsets lo..hi: left/top by -lo, right/bottom by hi
        self.pad = (-lo, hi, -lo, hi)
        self.conv = nn.Conv2d(c_in, c_out * s * s, size, bias=deconv.bias is not None)
        self.conv.weight.data.copy_(weight)
        if deconv.bias is not None:
            self.conv.bias.data.copy_(deconv.bias.detach().repeat_interleave(s * s))
        self.shuffle = nn.PixelShuffle(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(nn.functional.pad(x, self.pad)))


def convertible(deconv: nn.ConvTranspose2d) -> bool:
    """Square, equal strides > 1, no dilation or groups, and output exactly stride × input."""
    s, p, k, op = deconv.stride, deconv.padding, deconv.kernel_size, deconv.output_padding
    square = s[0] == s[1] and p[0] == p[1] and k[0] == k[1] and op[0] == op[1]
    plain = deconv.groups == 1 and deconv.dilation == (1, 1) and s[0] > 1
    # output = (N−1)·s − 2p + k + op must equal s·N for every N
    return square and plain and -s[0] - 2 * p[0] + k[0] + op[0] == 0


def with_subpixel_deconvs(module: nn.Module) -> nn.Module:
    """A copy of `module` with every convertible ConvTranspose2d replaced (the original is untouched)."""
    module = copy.deepcopy(module)
    for child in list(module.modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, nn.ConvTranspose2d) and convertible(sub):
                setattr(child, attr, SubPixelConvTranspose2d(sub))
    return module
