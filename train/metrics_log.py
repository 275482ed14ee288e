"""The training side of metrics.jsonl (core/formats/metrics_jsonl.py): per-step values summed on the device."""
from __future__ import annotations

from pathlib import Path

import torch

from core.formats.metrics_jsonl import finite_losses, line, step_metrics

from .distributed import Dist


class MetricsLog:
    """Sums the per-step metrics on the device; `flush` reads them once and appends a JSON line.

    Under DDP the sums of all ranks are added first, so the record holds global-batch means;
    only rank 0 (the one given a path) writes. Images per second count training time only: the
    caller passes its training clock, which stops during evaluations, grids and checkpoints.
    """

    def __init__(self, path: Path | None, device: torch.device, dist: Dist = Dist(), elapsed: float = 0.0,
                 names: tuple[str, ...] = step_metrics(False)):
        self.path, self.dist, self.names = path, dist, names
        self.file = open(path, "a", encoding="utf-8") if path is not None else None
        self.sum = torch.zeros(len(names), device=device)
        self.count = 0
        self.window_start = elapsed

    def flush(self, step: int, epoch: int, elapsed: float, batch_size: int, extra: dict) -> dict | None:
        """The window's record (None if empty); written unless a value is NaN/inf, which the caller reports."""
        if self.count == 0:
            return None
        means = (self.dist.sum_(self.sum) / (self.count * self.dist.world)).tolist()  # the one host sync per window
        record = {"step": step, "epoch": epoch, **dict(zip(self.names, means)), **extra, "time": round(elapsed, 3),
                  "images_per_s": self.count * batch_size / max(elapsed - self.window_start, 1e-9)}
        if finite_losses(record):
            self.write(record)
        self.sum.zero_()
        self.count = 0
        self.window_start = elapsed
        return record

    def write(self, record: dict) -> None:
        """One whole line per write call: a crash can tear only the last line, which resume drops."""
        if self.file is None:
            return
        self.file.write(line(record))
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
