"""metrics.jsonl: one JSON object per line, appended while a run trains.

Training records (one per --log-every window, means over the window):
    {"step", "epoch", "d_loss_real", "d_loss_fake", "d_acc_real", "d_acc_fake", "g_loss", "lr_d", "lr_g",
     "time" (training seconds so far), "images_per_s" (training time only), ["augment_p"]}
Quality records (every --eval-every steps): {"step", "epoch", "fid", "kid", "classes_covered", "kl_uniform",
    ["in_classes"], and the same keys with "_ema" for the EMA of G}.
The run folder's version (config.json's `format_version`) covers this file; version 1 had the same keys.

Each record is written with one write call, so a crash can tear only the last line; resume cuts the
file back to whole records at the resumed step, and readers skip torn lines.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from ..files import atomic_write, inside
from .config_json import finite

METRICS = "metrics.jsonl"
# The per-step values of the training step, in the order of its metrics vector.
LOSS_METRICS = ("d_loss_real", "d_loss_fake", "d_acc_real", "d_acc_fake", "g_loss")
# After them when D has a class head (--class-loss): its cross-entropy and accuracy on the reals' classes, and on
# the classes G was asked for (the accuracy on fakes is the class agreement as D's head sees it, live).
CLASS_METRICS = ("class_loss_real", "class_loss_fake", "class_acc_real", "class_acc_fake")
TRAINING_FIELDS = ("step", "epoch", *LOSS_METRICS, *CLASS_METRICS, "lr_d", "lr_g", "time", "images_per_s")
AUGMENT_P = "augment_p"
MAX_LINE_BYTES = 64 << 10  # a longer line is not one we wrote
READ_CHUNK = 8 << 20
MAX_TRAINING_RECORDS = 20_000  # kept per reader: above this, every other record is dropped (plots stay dense)


def line(record: dict) -> str:
    return json.dumps(record) + "\n"


def step_metrics(class_head: bool) -> tuple[str, ...]:
    """The names of a training step's metrics vector, in order."""
    return LOSS_METRICS + (CLASS_METRICS if class_head else ())


def finite_losses(record: dict) -> bool:
    return all(math.isfinite(record[k]) for k in LOSS_METRICS) and all(
        math.isfinite(record[k]) for k in CLASS_METRICS if k in record)


def is_record(value) -> bool:
    return isinstance(value, dict) and finite(value.get("step"))


class MetricsReader:
    """Reads a metrics.jsonl incrementally: each `update()` parses only the bytes added since the last one.

    Memory stays bounded whatever the file's size: quality records are all kept (one per evaluation),
    training records are thinned to at most MAX_TRAINING_RECORDS by keeping every k-th one (k doubles
    as the file grows), which a plot cannot tell from the full series; a record thinning drops is not
    even parsed. A file that shrank (a resumed run cut it back) is read again from the start."""

    def __init__(self, path: Path, root: Path | None = None, max_training: int = MAX_TRAINING_RECORDS):
        self.path, self.root, self.max_training = Path(path), root, max_training
        self.offset, self.identity = 0, None
        self.training: list[dict] = []
        self.quality: list[dict] = []
        self.bad, self.seen_training, self.stride = 0, 0, 1
        self.problem: str | None = None
        self._partial = b""

    def update(self, budget: int = 256 << 20) -> "MetricsReader":
        """Read what was appended (at most `budget` bytes per call); returns self."""
        if not os.path.lexists(self.path):
            self.__init__(self.path, self.root, self.max_training)
            return self
        if self.root is not None and not inside(self.root, self.path):
            self.problem = f"{self.path.name}: leads outside {self.root}"
            return self
        try:
            fd = os.open(os.path.realpath(self.path), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            self.problem = f"{self.path.name}: cannot be opened ({exc.strerror})"
            return self
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self.problem = f"{self.path.name}: is not a regular file"
                return self
            identity = (info.st_dev, info.st_ino)
            if identity != self.identity or info.st_size < self.offset:
                self.__init__(self.path, self.root, self.max_training)
                self.identity = identity
            os.lseek(fd, self.offset, os.SEEK_SET)
            read = 0
            while read < budget and (chunk := os.read(fd, min(READ_CHUNK, budget - read))):
                read += len(chunk)
                self._consume(chunk)
            self.offset += read
        finally:
            os.close(fd)
        return self

    def _consume(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for the rest
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial, self.bad = b"", self.bad + 1
        for raw in lines:
            if not raw.strip():
                continue
            if b'"g_loss"' in raw and self.seen_training % self.stride:
                self.seen_training += 1  # a training record thinning would drop: not even parsed
                continue
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                self.bad += 1
                continue
            if not is_record(record):
                self.bad += 1
                continue
            training = "d_loss_real" in record or "g_loss" in record
            record = {k: v for k, v in record.items() if finite(v)}  # what a chart or a table can hold
            if training:
                self._keep_training(record)
            else:
                self.quality.append(record)

    def _keep_training(self, record: dict) -> None:
        self.seen_training += 1
        self.training.append(record)
        if len(self.training) > self.max_training:
            self.training, self.stride = self.training[::2], self.stride * 2

    @property
    def records(self) -> list[dict]:
        """Training and quality records in step order."""
        return sorted(self.training + self.quality, key=lambda r: r["step"])


def read_metrics(path: Path, root: Path | None = None) -> tuple[list[dict], int, str | None]:
    """Records of a metrics.jsonl (dicts with a finite numeric step), the count of bad lines, and a problem."""
    reader = MetricsReader(path, root, max_training=1 << 62).update(budget=1 << 62)
    return reader.records, reader.bad, reader.problem


def split_metrics(path: Path, last_step: int) -> tuple[list[str], list[str]]:
    """Whole records up to `last_step`, and the later ones; torn lines are dropped."""
    kept, later = [], []
    if not path.is_file():
        return kept, later
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue  # a line torn by a crash
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            (kept if record["step"] <= last_step else later).append(text)
    return kept, later


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only whole records up to `last_step`, so a resumed run continues with no gap or duplicate."""
    if path.is_file():
        kept, _ = split_metrics(path, last_step)
        atomic_write(path, "".join(text + "\n" for text in kept).encode())


__all__ = ["METRICS", "LOSS_METRICS", "CLASS_METRICS", "TRAINING_FIELDS", "MetricsReader", "read_metrics", "split_metrics",
           "truncate_metrics", "line"]
