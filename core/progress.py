"""Progress for long work: tqdm's bar on a terminal, plain periodic lines everywhere else.

A bar needs a terminal: in a log file, a CI console or a pipe, tqdm's carriage returns pile
up into one endless line, and a terminal without columns shows nothing useful. There, every
`interval` seconds one ordinary line says where the work is, how fast it goes and how long
is left, and the end is said once.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    """'45 s', '12 min', '2 h 05 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class PlainProgress:
    """The part of tqdm's interface the tools use, printed as a line every `interval` seconds."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it", interval: float = 30.0,
                 stream=None):
        self.total, self.n, self.desc, self.unit, self.interval = total, initial, desc, unit, interval
        self.stream = stream or sys.stderr
        self.start_n, self.start = initial, time.perf_counter()
        self.last_print = self.start
        self.postfix: dict = {}
        self.closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n < self.total and time.perf_counter() - self.last_print >= self.interval:
            self._print()  # the end is said once, by close(), with the final postfix

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def set_postfix(self, values: dict | None = None, refresh: bool = True, **kwargs) -> None:
        self.postfix = {**(values or {}), **kwargs}

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _print(self) -> None:
        now = time.perf_counter()
        self.last_print = now
        done, elapsed = self.n - self.start_n, now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f", about {duration((self.total - self.n) / rate)} left" if rate > 0 and self.n < self.total else ""
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        share = f" ({100 * self.n / self.total:.1f} %)" if self.total else ""
        print(f"{self.desc + ': ' if self.desc else ''}{self.n}/{self.total} {self.unit}{share}, "
              f"{rate:.2f} {self.unit}/s{left}{extra}", file=self.stream, flush=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.n != self.start_n:
                self._print()


def progress(total: int, initial: int = 0, desc: str = "", unit: str = "it", disable: bool = False,
             interval: float = 30.0):
    """A tqdm bar where stderr is a terminal, else a PlainProgress (or a silent one when disabled)."""
    if disable:
        return tqdm(total=total, initial=initial, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, mininterval=0.5)
    return PlainProgress(total, initial, desc, unit, interval)


class Pace:
    """How fast a run trains, measured on training time after a warm-up, and where a time budget stops it.

    The first seconds are not typical (allocations, kernel choices, a loaded machine settling), so the
    rate is measured from the end of `warmup` seconds onward, as one average over everything since:
    it converges instead of jumping. With a budget, the run's end is the budget's, not the step count's.
    """

    def __init__(self, step: int, elapsed: float, budget: float | None = None, warmup: float = 3.0):
        self.budget, self.warmup = budget, warmup
        self.start_elapsed = elapsed
        self.mark: tuple[int, float] | None = None
        self.rate: float | None = None  # steps per second of training
        self.measured_for = 0.0  # seconds of training the rate averages over

    def update(self, step: int, elapsed: float) -> None:
        if self.mark is None:
            if elapsed - self.start_elapsed >= self.warmup:
                self.mark = (step, elapsed)
            return
        self.measured_for = elapsed - self.mark[1]
        if self.measured_for > 0.5:
            self.rate = (step - self.mark[0]) / self.measured_for

    def end_step(self, step: int, elapsed: float, total: int) -> int:
        """The step the run will stop at: `total`, or earlier where the budget runs out first."""
        if not self.budget or not self.rate:
            return total
        return max(step, min(total, step + int((self.budget - elapsed) * self.rate)))

    def seconds_left(self, step: int, elapsed: float, total: int) -> float | None:
        if not self.rate:
            return None
        return (self.end_step(step, elapsed, total) - step) / self.rate
