"""metrics.jsonl: per-step values summed on the device, written as one JSON line per window."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from core.files import atomic_write
from core.runs import LOSS_METRICS

from .distributed import Dist


class MetricsLog:
    """Sums the per-step metrics on the device; `flush` reads them once and appends a JSON line.

    Under DDP the sums of all ranks are added first, so the record holds global-batch means;
    only rank 0 (the one given a path) writes.
    """

    def __init__(self, path: Path | None, device: torch.device, dist: Dist = Dist()):
        self.path, self.dist = path, dist
        self.file = open(path, "a", encoding="utf-8") if path is not None else None
        self.sum = torch.zeros(len(LOSS_METRICS), device=device)
        self.count = 0
        self.window_start = time.perf_counter()

    def flush(self, step: int, epoch: int, elapsed: float, batch_size: int, extra: dict) -> dict | None:
        """The window's record (None if empty); written unless a value is NaN/inf, which the caller reports."""
        if self.count == 0:
            return None
        means = (self.dist.sum_(self.sum) / (self.count * self.dist.world)).tolist()  # the one host sync per window
        now = time.perf_counter()
        record = {"step": step, "epoch": epoch, **dict(zip(LOSS_METRICS, means)), **extra,
                  "time": round(elapsed, 3), "images_per_s": self.count * batch_size / max(now - self.window_start, 1e-9)}
        if finite(record):
            self.write(record)
        self.sum.zero_()
        self.count = 0
        self.window_start = now
        return record

    def write(self, record: dict) -> None:
        """One whole line per write call: a crash can tear only the last line, which resume drops."""
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def finite(record: dict) -> bool:
    return all(math.isfinite(record[k]) for k in LOSS_METRICS)


def split_metrics(path: Path, last_step: int) -> tuple[list[str], list[str]]:
    """Whole records up to `last_step`, and the later ones; torn lines are dropped."""
    kept, later = [], []
    if not path.is_file():
        return kept, later
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            (kept if record["step"] <= last_step else later).append(line)
    return kept, later


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only whole records up to `last_step`, so a resumed run continues with no gap or duplicate."""
    if path.is_file():
        kept, _ = split_metrics(path, last_step)
        atomic_write(path, "".join(line + "\n" for line in kept).encode())
