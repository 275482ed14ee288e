"""config.json: what a run is (its resolved training config and model spec) and where its data came from.

    {"format_version": 2, "train": {<train.config.TrainConfig fields>}, "model": {<core.spec.ModelSpec>},
     "steps_per_epoch": int, "dataset_size": int, "data_source": str, "created": ISO time, "torch": str,
     "machine": str (the CPU or GPU it trained on)}

Version 1 (before `format_version` existed) had the same keys but "machine". Training writes it once, when the
run starts; the dashboard, `--resume` and the evaluation read it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..files import atomic_write
from .json_file import read_json

CONFIG = "config.json"
VERSION = 2
FORMAT_VERSION, TRAIN, MODEL = "format_version", "train", "model"
STEPS_PER_EPOCH, DATASET_SIZE, DATA_SOURCE, CREATED, TORCH, MACHINE = (
    "steps_per_epoch", "dataset_size", "data_source", "created", "torch", "machine")


def write(run_dir: Path, train: dict, model: dict, steps_per_epoch: int, dataset_size: int, data_source: str,
          torch_version: str, machine: str = "") -> None:
    payload = {FORMAT_VERSION: VERSION, TRAIN: train, MODEL: model, STEPS_PER_EPOCH: steps_per_epoch,
               DATASET_SIZE: dataset_size, DATA_SOURCE: data_source,
               CREATED: datetime.now().isoformat(timespec="seconds"), TORCH: torch_version, MACHINE: machine}
    atomic_write(Path(run_dir) / CONFIG, (json.dumps(payload, indent=2) + "\n").encode())


def read(path: Path, root: Path | None = None) -> tuple[dict | None, str | None]:
    """The whole file as a dict; (None, None) when absent, (None, problem) when unreadable."""
    return read_json(path, root)


@dataclass(frozen=True)
class DataSource:
    """Which real images a run trained on: the dataset, where its files were, and the classes kept."""

    dataset: str
    data_dir: str | None
    classes: tuple[str, ...]


def data_source(train: dict) -> DataSource:
    """The data of a run from its `train` section (a checkpoint's "config" entry holds the same)."""
    classes = train.get("classes") or ""
    return DataSource(str(train.get("dataset") or ""), train.get("data_dir") or None,
                      tuple(c.strip() for c in str(classes).split(",") if c.strip()))


@dataclass
class Facts:
    """What the dashboard shows of a run, typed; a field of the wrong type is a problem, never an error."""

    preset: str = "?"
    dataset: str = "?"
    epochs: str = "?"
    created: str = ""
    steps_per_epoch: int | None = None
    recipe: str = "book"  # --recipe; runs from before it existed are book runs
    loss: str = "bce"
    max_steps: int = 0
    minutes: float = 0.0
    class_names: tuple[str, ...] = ()
    conditional: bool = False  # --conditional: G draws the class it is asked for
    problems: list[str] = field(default_factory=list)


def facts(config: dict) -> Facts:
    model = config.get(MODEL) if isinstance(config.get(MODEL), dict) else {}
    train = config.get(TRAIN) if isinstance(config.get(TRAIN), dict) else {}
    spe, names, epochs = config.get(STEPS_PER_EPOCH), model.get("class_names", []), train.get("epochs")
    checks = {
        "model": isinstance(config.get(MODEL), dict), "train": isinstance(config.get(TRAIN), dict),
        "model.preset": isinstance(model.get("preset", ""), str), "model.dataset": isinstance(model.get("dataset", ""), str),
        "model.class_names": isinstance(names, list) and all(isinstance(c, str) for c in names),
        "train.epochs": epochs is None or finite(epochs), "created": isinstance(config.get(CREATED, ""), str),
        "steps_per_epoch": spe is None or (isinstance(spe, int) and not isinstance(spe, bool) and spe > 0),
    }
    found = Facts(_text(model.get("preset")), _text(model.get("dataset")), str(epochs) if finite(epochs) else "?",
                  _text(config.get(CREATED), ""), spe if checks["steps_per_epoch"] else None,
                  _text(train.get("recipe"), "book"), _text(train.get("loss"), "bce"))
    found.max_steps = int(train["max_steps"]) if finite(train.get("max_steps")) else 0
    found.minutes = float(train["minutes"]) if finite(train.get("minutes")) else 0.0
    found.conditional = model.get("conditional") is True
    if checks["model.class_names"]:
        found.class_names = tuple(c[:100] for c in names[:1000])
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        found.problems.append(f"{CONFIG}: wrong type for {', '.join(wrong)}")
    return found


MAX_EXACT_INT = 2**53  # beyond it an integer is no longer a float64, nor safe in Arrow's int64 or in JavaScript


def finite(value) -> bool:
    """A number a file may hold and every reader can show: a hostile file's 10**30 would crash Arrow's tables
    (an int64 overflow) and 10**400 even math.isfinite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_EXACT_INT
    return isinstance(value, float) and math.isfinite(value)


def _text(value, default: str = "?") -> str:
    return value[:200] if isinstance(value, str) else default
