"""How many torch threads a CPU run uses when the machine is shared: measured, every few minutes.

Alone, a run is fastest with one thread per core. Beside another busy program it is not: every
parallel region waits for its slowest thread, and the thread whose core is taken runs at a fraction of
its speed. Measured on the 2-core AMD EPYC (bf16 DCGAN, batch 32): alone, 2 threads ~600 images/s and
1 thread ~400; beside a single-threaded training run, 2 threads fell to ~170 while 1 thread kept ~370
(docs/performance.md). So under `--threads 0` (the default) the loop asks a ThreadTuner, between steps,
which count to use: after PROBE_AFTER_S of training and then every few minutes, it times a throwaway
workload (the trainer passes G's forward pass on a spare batch, no state touched) with each candidate
(all the cores, or half of them) and keeps the faster, changing only for a clear gain.

The probe never runs a training step with another count, so a run the tuner leaves alone computes
exactly what a run with the count fixed computes (thread counts change the rounding of a step, so a
change would show): bit-exact resume holds wherever nothing else competes for the cores. Probes are
spaced so that they cost about 1 % of the training time or less.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch

from gan.models import call, evaluating

PROBE_AFTER_S = 60.0  # training seconds before the first probe
PROBE_EVERY_S = 180.0  # training seconds between probes, at least (and at least 100 probes' length: ~1 % of the run)
PROBE_SECONDS = 0.25  # each candidate's workload is timed for about this long (at least MIN_PROBE_CALLS calls)
MIN_PROBE_CALLS = 3
MARGIN = 1.1  # another count must be this much faster to be taken


class ThreadTuner:
    """`observe(seconds)` after each step with its time; every so often it calls `workload()` under each
    candidate count (`set_threads(n)`) and keeps the fastest, calling `decided(before, after)` on a change.
    `history` lists (training seconds, threads kept, seconds per workload call of each candidate) per probe."""

    def __init__(self, most: int, set_threads: Callable[[int], None], workload: Callable[[], None],
                 decided: Callable[[int, int], None] = lambda before, after: None,
                 clock: Callable[[], float] = time.perf_counter):
        self.candidates = [most, max(1, most // 2)] if most > 1 else [most]
        self.current, self.set_threads, self.workload, self.decided, self.clock = most, set_threads, workload, \
            decided, clock
        self.elapsed, self.next_probe = 0.0, PROBE_AFTER_S
        self.history: list[tuple[float, int, dict[int, float]]] = []

    @property
    def enabled(self) -> bool:
        return len(self.candidates) > 1

    def observe(self, seconds: float) -> None:
        self.elapsed += seconds
        if self.enabled and self.elapsed >= self.next_probe:
            self.probe()

    def probe(self) -> None:
        before, started = self.current, self.clock()
        timed = {n: self._time(n) for n in [before] + [n for n in self.candidates if n != before]}
        took = self.clock() - started
        best = min(timed, key=timed.get)
        keep = before if timed[before] <= timed[best] * MARGIN else best
        self._switch(keep)
        if keep != before:
            self.decided(before, keep)
        self.history.append((round(self.elapsed, 1), keep, timed))
        self.next_probe = self.elapsed + max(PROBE_EVERY_S, 100 * took)

    def _time(self, threads: int) -> float:
        """Median seconds of one workload call with `threads` (the first call, which wakes threads, not counted)."""
        self._switch(threads)
        start = self.clock()
        self.workload()
        calls = max(MIN_PROBE_CALLS, math.ceil(PROBE_SECONDS / max(self.clock() - start, 1e-6)))
        times = []
        for _ in range(calls):
            start = self.clock()
            self.workload()
            times.append(self.clock() - start)
        return statistics.median(times)

    def _switch(self, threads: int) -> None:
        if threads != self.current:
            self.set_threads(threads)
            self.current = threads


def forward_pass(generator: torch.nn.Module, z: torch.Tensor, classes: torch.Tensor | None = None,
                 bf16: bool = False) -> Callable[[], None]:
    """The probes' workload: G's forward pass on a spare batch, in eval mode, so that no BatchNorm statistics
    move and no random numbers are drawn."""
    @torch.no_grad()
    def run() -> None:
        with evaluating(generator), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            call(generator, z, classes)
    return run
