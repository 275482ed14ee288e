"""`--precision auto`: bf16 autocast where it is measured to be faster here, fp32 everywhere else.

A CPU flag does not say it: bf16 runs about twice as fast as fp32 on CPUs with AMX and on AMD's
AVX-512 BF16 cores, but slower on an Intel Xeon that exposes AVX-512 BF16 without AMX (0.77x the
DCGAN's fp32 step on our 2-core one) and eleven times slower on AVX2-only CPUs
(docs/performance.md). So `auto` times a few passes of the run's own generator in both and keeps
bf16 only where it wins clearly; CPUs without any native bf16 skip the measurement.
"""
from __future__ import annotations

import functools
import time

import torch

from core.machine import cpu
from core.spec import ModelSpec
from gan.models import build_from_spec

MIN_SPEEDUP = 1.15  # bf16 changes the numerics: it must pay for that


def _seconds(generator: torch.nn.Module, z: torch.Tensor, bf16: bool, least: float = 0.3, most: int = 8) -> float:
    """Best pass of G's forward + backward at the training batch (most of what a step computes), after one
    warm-up pass, timed until `least` seconds or `most` passes: a tiny model is timed often, the frog twice."""
    times: list[float] = []
    for _ in range(most + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = generator(z)
        out.float().mean().backward()
        times.append(time.perf_counter() - start)
        if len(times) > 2 and sum(times[1:]) >= least:
            break
    return min(times[1:])


@functools.cache
def bf16_speedup(spec: ModelSpec, batch: int) -> float:
    """fp32 time / bf16 time for the generator of `spec` at `batch` on this CPU (>1: bf16 is faster); measured
    once per process."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generator = build_from_spec(spec)[0].train()
        z = torch.randn(batch, spec.latent_dim)
    return _seconds(generator, z, bf16=False) / _seconds(generator, z, bf16=True)


def auto(device: torch.device, spec: ModelSpec, batch: int) -> tuple[str, str]:
    """The precision `auto` picks for this device and model, and why (one phrase for the start-up line)."""
    if device.type != "cpu":
        return "fp32", "fp32 on the GPU (bf16 there is untested)"
    if not cpu().native_bf16:
        return "fp32", "fp32: this CPU has no native bf16"
    speedup = bf16_speedup(spec, batch)
    if speedup >= MIN_SPEEDUP:
        return "bf16", f"bf16: measured {speedup:.2f}x fp32's speed on this CPU"
    return "fp32", f"fp32: bf16 measured {speedup:.2f}x fp32's speed on this CPU, not worth its rounding"
