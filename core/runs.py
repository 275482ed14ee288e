"""The run folder: its layout, the names in it, and readers that treat it as untrusted input.

    <root>/<run>/
        config.json      the resolved training config, the model spec, dataset facts
        metrics.jsonl    one JSON record per --log-every window (and quality records)
        samples/         epoch_0001.png … (and ema_…, step_…) from fixed latents
        last.pt          newest checkpoint; step_0001000.pt … periodic ones
        eval.json        python -m train.evaluate's report
        generator*.onnx  exported generators
        .lock            held (flock) by the one process that trains the run

Training writes these files; the exporter, the evaluator and the dashboard read them. A run
folder may come from anywhere (a download, a colleague, a broken disk), so every reader here
reads only regular files inside the root, at most a capped number of bytes, checks the JSON
types it uses, and turns every problem into a message about that run alone.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .files import UnsafeFile, inside, read_bounded

CONFIG, METRICS, EVAL, SAMPLES, LAST, LOCK = "config.json", "metrics.jsonl", "eval.json", "samples", "last.pt", ".lock"
PERIODIC_GLOB = "step_*.pt"

# The per-step values of the training step, in the order of its metrics vector.
LOSS_METRICS = ("d_loss_real", "d_loss_fake", "d_acc_real", "d_acc_fake", "g_loss")
# Every field of a training record in metrics.jsonl (quality records add QUALITY_METRICS).
TRAINING_FIELDS = ("step", "epoch", *LOSS_METRICS, "lr_d", "lr_g", "time", "images_per_s")
# What train.evaluate reports per generator, and which way is better.
QUALITY_METRICS = ("fid", "kid", "precision", "recall", "classes_covered", "kl_uniform")
LOWER_IS_BETTER = {"fid": True, "kid": True, "precision": False, "recall": False, "classes_covered": False,
                   "kl_uniform": True, "in_classes": False, "near_copy_share": True}

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
RUN_NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"

# Read caps: generous for what training writes, small against a file swapped for something huge.
MAX_JSON_BYTES = 4 << 20
MAX_METRICS_BYTES = 256 << 20
MAX_GRID_BYTES = 32 << 20
MAX_ONNX_BYTES = 512 << 20


def periodic_checkpoint(step: int) -> str:
    return f"step_{step:07d}.pt"


def grid_name(step: int | None = None, epoch: int | None = None, prefix: str = "") -> str:
    """samples/ file name of the fixed-latent grid at an epoch's end, or at a step."""
    return f"{prefix}epoch_{epoch:04d}.png" if epoch is not None else f"{prefix}step_{step:07d}.png"


def valid_run_name(name) -> bool:
    """Names that every tool can show, link to (?run=NAME) and type without quoting."""
    return isinstance(name, str) and bool(RUN_NAME.match(name)) and name not in (".", "..")


# --- readers for untrusted run folders ---------------------------------------------------------

def read_json(path: Path, root: Path, limit: int = MAX_JSON_BYTES) -> tuple[dict | None, str | None]:
    """A JSON object from a file inside root; (None, None) when absent, (None, problem) when bad."""
    if not os.path.lexists(path):
        return None, None
    try:
        value = json.loads(read_bounded(path, limit, root).decode("utf-8"))
    except UnsafeFile as exc:
        return None, f"{path.name}: {exc}"
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"{path.name} is unreadable ({str(exc)[:120]})"
    if not isinstance(value, dict):
        return None, f"{path.name} is not a JSON object"
    return value, None


def read_metrics(path: Path, root: Path) -> tuple[list[dict], int, str | None]:
    """Records of metrics.jsonl (dicts with a finite numeric step), the count of bad lines, and a problem."""
    if not os.path.lexists(path):
        return [], 0, None
    try:
        text = read_bounded(path, MAX_METRICS_BYTES, root).decode("utf-8", errors="replace")
    except UnsafeFile as exc:
        return [], 0, f"{path.name}: {exc}"
    records, bad = [], 0
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if isinstance(record, dict) and _finite(record.get("step")):
            records.append(record)
        else:
            bad += 1
    return records, bad, None


def read_eval(path: Path, root: Path) -> tuple[dict | None, str | None]:
    """train.evaluate's report, keeping only well-typed rows: {"generators": {name: {metric: number}}, …}."""
    report, problem = read_json(path, root)
    if report is None:
        return None, problem
    sections = {}
    for section in ("generators", "reference"):
        rows = report.get(section, {})
        if not isinstance(rows, dict):
            return None, f"{path.name}: {section} is not a table"
        sections[section] = {str(name): {k: v for k, v in row.items() if k in QUALITY_METRICS and _finite(v)}
                             for name, row in rows.items() if isinstance(row, dict)}
    if not sections["generators"]:
        return None, f"{path.name} has no generators section"
    text = {k: str(report[k])[:300] for k in ("features", "note", "run", "checkpoint") if k in report}
    numbers = {k: report[k] for k in ("step", "epoch", "samples") if _finite(report.get(k))}
    return {**text, **numbers, **sections}, None


def regular_files(folder: Path, pattern: str, root: Path) -> list[Path]:
    """Files matching pattern in folder that are regular files inside root, sorted by name."""
    if not folder.is_dir() or not inside(root, folder):
        return []
    return sorted(p for p in folder.glob(pattern) if inside(root, p) and p.is_file())


def _number(stem: str) -> int:
    """The number a grid's name ends with (epoch_0003 -> 3); 0 for a name that has none."""
    match = re.search(r"(\d+)$", stem)
    return int(match.group(1)) if match else 0


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value, default: str = "?") -> str:
    return value[:200] if isinstance(value, str) else default


@dataclass
class Run:
    """A run folder as the dashboard lists it: typed facts from its config, and its problems."""

    name: str
    path: Path
    root: Path
    preset: str = "?"
    dataset: str = "?"
    epochs: str = "?"
    created: str = ""
    steps_per_epoch: int | None = None
    recipe: str = "book"  # train.config's --recipe; runs from before it existed are book runs
    loss: str = "bce"
    class_names: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    models: dict[str, Path] = field(default_factory=dict)  # "generator", "generator_ema", … -> .onnx

    def label(self) -> str:
        recipe = "" if self.recipe == "book" else f", {self.recipe} recipe"
        return (f"{self.name} — {self.preset} on {self.dataset}, {self.epochs} ep{recipe}, "
                f"{self.created[:16].replace('T', ' ')}")

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def eval_path(self) -> Path:
        return self.path / EVAL

    def grids(self) -> list[Path]:
        """Raw G's fixed-latent grids in training order: per epoch (and where the run stopped, if mid-epoch),
        or per step for runs shorter than one."""
        samples = self.path / SAMPLES
        epochs, steps = regular_files(samples, "epoch_*.png", self.root), regular_files(samples, "step_*.png", self.root)
        if not epochs or not self.steps_per_epoch:
            return epochs or steps
        # a run stopped mid-epoch (a time budget, Ctrl-C) ends with a step grid after its last epoch
        last_epoch_step = _number(epochs[-1].stem) * self.steps_per_epoch
        return epochs + [g for g in steps if _number(g.stem) > last_epoch_step]


def safe_child(root: Path, name) -> Path | None:
    """The folder `root/name` if `name` is a valid run name that stays inside root, else None."""
    if not valid_run_name(name):
        return None
    path = Path(root) / name
    return path if inside(root, path) and os.path.realpath(path) != os.path.realpath(root) and path.is_dir() else None


def open_run(root: Path, name: str) -> Run | None:
    """The run folder root/name as a Run, or None if it is not a run folder we may show."""
    path = safe_child(root, name)
    if path is None:
        return None
    models = {p.stem: p for p in regular_files(path, "generator*.onnx", root)}
    if not os.path.lexists(path / CONFIG) and not models:
        return None
    run = Run(name, path, Path(root), models=models)
    config, problem = read_json(path / CONFIG, root)
    if problem:
        run.problems.append(problem)
    elif config is None:
        run.problems.append("config.json is missing")
    else:
        _fill_from_config(run, config)
    if not models:
        run.problems.append(f"no ONNX generator yet: run python -m export.to_onnx {path}")
    if not run.created:
        run.created = datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
    return run


def _fill_from_config(run: Run, config: dict) -> None:
    """Typed facts from config.json; a field of the wrong type is a problem of this run, not an error."""
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    spe, names, epochs = config.get("steps_per_epoch"), model.get("class_names", []), train.get("epochs")
    checks = {
        "model": isinstance(config.get("model"), dict), "train": isinstance(config.get("train"), dict),
        "model.preset": isinstance(model.get("preset", ""), str), "model.dataset": isinstance(model.get("dataset", ""), str),
        "model.class_names": isinstance(names, list) and all(isinstance(c, str) for c in names),
        "train.epochs": epochs is None or _finite(epochs), "created": isinstance(config.get("created", ""), str),
        "steps_per_epoch": spe is None or (isinstance(spe, int) and not isinstance(spe, bool) and spe > 0),
    }
    run.preset, run.dataset = _text(model.get("preset")), _text(model.get("dataset"))
    run.epochs = str(epochs) if _finite(epochs) else "?"
    run.created = _text(config.get("created"), "")
    run.steps_per_epoch = spe if checks["steps_per_epoch"] else None
    run.recipe, run.loss = _text(train.get("recipe"), "book"), _text(train.get("loss"), "bce")
    if checks["model.class_names"]:
        run.class_names = tuple(c[:100] for c in names[:1000])
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        run.problems.append(f"config.json: wrong type for {', '.join(wrong)}")


def discover(root: str | Path, limit: int = 1000) -> list[Run]:
    """Run folders directly under root that hold a config.json or an ONNX generator, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for child in sorted(root.iterdir())[: limit * 4]:
        run = open_run(root, child.name)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: r.path.stat().st_mtime, reverse=True)[:limit]
