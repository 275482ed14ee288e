"""The CUDA fast path: the whole training step (D step, G step, EMA, metric sums) as one CUDA graph.

At batch 32 these models need a fraction of a millisecond of GPU arithmetic per step, but an
eager step launches a few hundred kernels from Python, so the GPU mostly waits (docs/book-models.md:
an eager port reaches ~200 steps/s on an H100). A CUDA graph replays all of them with one launch.

How the step is made graph-safe without changing what it computes:
- inputs live in static buffers: the batch's indices into the device-resident uint8 dataset,
  and the step's random numbers, drawn *outside* the graph from the run's own generator in the
  same order as the eager step (`train.step.draw`); dropout inside uses the device's default
  generator, whose state CUDA graphs advance correctly on every replay;
- optimizers are built with `capturable=True` (step counts on the device);
- the metric vector is added into a device-resident sum inside the graph: no host sync.
The first `WARMUP` steps run eagerly on a side stream (cuDNN/cuBLAS pick their algorithms and
workspaces there, as PyTorch's CUDA-graph guide requires), then the step is captured once.

`capture=False` runs the very same static-buffer code eagerly: that is the path the CPU tests
compare, bit for bit, with the plain eager step, and the fallback wherever graphs cannot be used
(CPU, DDP, experience replay, whose ring-buffer fill level is host-side state). If capture fails
on a user's GPU (a driver, an op or a memory pool that graphs do not support), the step says so
in one line and goes on eagerly: capture only records kernels, so nothing of the step has run yet.
The CUDA calls live in `CudaGraphs`, which the CPU tests replace to simulate both outcomes.
"""
from __future__ import annotations

import copy
import sys
from typing import Callable

import torch

from .step import Draws

WARMUP = 3


class CudaGraphs:
    """The CUDA-graph calls the fast path makes (a seam: the CPU tests pass a stand-in)."""

    def warmup(self, body: Callable[[], None]) -> None:
        """Run eagerly on a side stream, as PyTorch's CUDA-graph guide asks before capture."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            body()
        torch.cuda.current_stream().wait_stream(side)

    def capture(self, body: Callable[[], None]) -> Callable[[], None]:
        """Record `body` as one graph; returns its replay."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()
        return graph.replay


class StaticStep:
    """Runs `step(real, draws) -> metrics` from static buffers, captured as a CUDA graph if asked."""

    def __init__(self, step: Callable[..., torch.Tensor], make_draws: Callable[[], Draws],
                 images: torch.Tensor, pixel_range: tuple[float, float], batch: int, metric_sum: torch.Tensor,
                 capture: bool, graphs: CudaGraphs | None = None, labels: torch.Tensor | None = None):
        """`labels` (conditional runs): the dataset's classes, passed to `step` as its third argument."""
        self.step, self.make_draws, self.images, self.labels = step, make_draws, images, labels
        self.lo, self.scale = pixel_range[0], (pixel_range[1] - pixel_range[0]) / 255.0
        self.graphs = graphs or CudaGraphs()
        self.capture = capture and (images.is_cuda or graphs is not None)
        self.static_idx = torch.zeros(batch, dtype=torch.long, device=images.device)
        self.static_draws: Draws | None = None
        self.metric_sum = metric_sum  # device-side running sum (zeroed in place by its owner)
        self.replay: Callable[[], None] | None = None
        self.calls = 0

    def _body(self) -> None:
        real = self.images[self.static_idx].float() * self.scale + self.lo   # (B, C, H, W) in pixel_range
        if self.labels is None:
            self.metric_sum += self.step(real, self.static_draws)
        else:
            self.metric_sum += self.step(real, self.static_draws, self.labels[self.static_idx])

    def _load_inputs(self, idx: torch.Tensor) -> None:
        draws = self.make_draws()
        if self.static_draws is None:
            self.static_draws = copy.deepcopy(draws)  # the buffers every later step is copied into
        else:
            for static, fresh in zip(self.static_draws.tensors(), draws.tensors()):
                static.copy_(fresh)
        self.static_idx.copy_(idx)

    def __call__(self, idx: torch.Tensor) -> None:
        """One training step on the batch `images[idx]`; its metrics are added to `metric_sum`."""
        self._load_inputs(idx)
        self.calls += 1
        if not self.capture:
            self._body()
        elif self.replay is not None:
            self.replay()
        elif self.calls <= WARMUP:
            self.graphs.warmup(self._body)
        else:
            try:
                self.replay = self.graphs.capture(self._body)
            except Exception as exc:  # noqa: BLE001 - any capture failure: fall back, never die
                self.capture = False
                reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                print(f"warning: CUDA graph capture failed ({reason}); training on with eager steps "
                      "(--cuda-graphs off skips the attempt)", file=sys.stderr)
                self._body()
                return
            self.replay()  # capture records the step; replaying it performs this step
