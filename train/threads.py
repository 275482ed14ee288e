"""How many torch threads a CPU run uses when the machine is shared: measured, every few minutes.

Alone, a run is fastest with one thread per core. Beside another busy program it is not: every
parallel region waits for its slowest thread, and the thread whose core is taken runs at a fraction of
its speed. Measured on the 2-core AMD EPYC (bf16 DCGAN, batch 32): alone, 2 threads ~600 images/s and
1 thread ~400; beside a single-threaded training run, 2 threads fell to ~170 while 1 thread kept ~370
(docs/performance.md). So under `--threads 0` (the default) the loop asks a ThreadTuner, between steps,
which count to use: after PROBE_AFTER_S of training and then every few minutes, it times a few steps
with each candidate (all the cores, or half of them) and keeps the faster, changing only for a clear
gain. Its probes cost under ~1 % of a run's time.
"""
from __future__ import annotations

import math
import statistics
from typing import Callable

PROBE_AFTER_S = 60.0  # training seconds before the first probe (a short run, or a test, never changes)
PROBE_EVERY_S = 180.0  # at least this many training seconds between probes
PROBE_SECONDS = 1.0  # each candidate is timed for about this long (at least MIN_PROBE_STEPS steps)
MIN_PROBE_STEPS = 3
MARGIN = 1.1  # another count must be this much faster to be taken


class ThreadTuner:
    """Between steps: `observe(seconds)` with the last step's time. It calls `set_threads(n)` for every switch
    (probes included) and `decided(before, after)` when a probe ends on another count than it started with.
    `history` lists (training seconds, threads kept, per-step seconds of each candidate) per probe."""

    def __init__(self, most: int, set_threads: Callable[[int], None],
                 decided: Callable[[int, int], None] = lambda before, after: None):
        self.candidates = [most, max(1, most // 2)] if most > 1 else [most]
        self.current, self.before, self.steps = most, most, MIN_PROBE_STEPS
        self.set_threads, self.decided = set_threads, decided
        self.elapsed, self.next_probe = 0.0, PROBE_AFTER_S
        self.probing: list[int] = []  # candidates still to time in this probe
        self.timed: dict[int, list[float]] = {}
        self.recent: list[float] = []  # the last steps' seconds at the current count, for the probe's length
        self.history: list[tuple[float, int, dict[int, float]]] = []

    @property
    def enabled(self) -> bool:
        return len(self.candidates) > 1

    def observe(self, seconds: float) -> None:
        self.elapsed += seconds
        if not self.enabled:
            return
        if self.probing:
            self._probe_step(seconds)
            return
        self.recent = (self.recent + [seconds])[-MIN_PROBE_STEPS:]
        if self.elapsed >= self.next_probe:
            self._start_probe()

    def _probe_steps(self) -> int:
        typical = statistics.median(self.recent) if self.recent else PROBE_SECONDS
        return max(MIN_PROBE_STEPS, math.ceil(PROBE_SECONDS / max(typical, 1e-6)))

    def _start_probe(self) -> None:
        self.steps, self.before = self._probe_steps(), self.current
        # the current count first (its steps are already warm), then the others
        self.probing = [self.current] + [n for n in self.candidates if n != self.current]
        self.timed = {n: [] for n in self.probing}
        self._switch(self.probing[0])

    def _probe_step(self, seconds: float) -> None:
        now = self.probing[0]
        self.timed[now].append(seconds)
        if len(self.timed[now]) < self.steps + 1:  # +1: the first step after a switch is not counted
            return
        self.probing.pop(0)
        if self.probing:
            self._switch(self.probing[0])
            return
        step_seconds = {n: statistics.median(times[1:]) for n, times in self.timed.items()}
        best = min(step_seconds, key=step_seconds.get)
        keep = self.before if step_seconds[self.before] <= step_seconds[best] * MARGIN else best
        self._switch(keep)
        if keep != self.before:
            self.decided(self.before, keep)
        self.history.append((round(self.elapsed, 1), keep, step_seconds))
        # a probe lasts ~2 x PROBE_SECONDS: spacing them 90 probe-lengths apart keeps their cost near 1 %
        self.next_probe = self.elapsed + max(PROBE_EVERY_S, 90 * self.steps * max(step_seconds.values()))
        self.recent = []

    def _switch(self, threads: int) -> None:
        if threads != self.current:
            self.set_threads(threads)
            self.current = threads
