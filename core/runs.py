"""Run folders as the tools list them: names, the checkpoint and grid names in them, and `Run`.

The files a run folder holds, and the module that owns each, are listed once in
core/formats/__init__.py. A run folder may come from anywhere, so everything here reads only regular
files inside the root and turns every problem into a message about that run alone.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .files import inside
from .formats import config_json
from .formats.config_json import CONFIG
from .formats.eval_json import EVAL
from .formats.metrics_jsonl import METRICS

SAMPLES, LAST, LOCK = "samples", "last.pt", ".lock"
PERIODIC_GLOB = "step_*.pt"
MODEL_GLOB = "generator*.onnx"

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
RUN_NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"

# Read caps: generous for what training writes, small against a file swapped for something huge.
MAX_GRID_BYTES = 32 << 20
MAX_ONNX_BYTES = 512 << 20


def periodic_checkpoint(step: int) -> str:
    return f"step_{step:07d}.pt"


def periodic_step(path: Path) -> int:
    """The step a periodic checkpoint's name gives (step_0007000.pt: 7,000); 0 for a name without one."""
    return _number(Path(path).stem)


def grid_name(step: int | None = None, epoch: int | None = None, prefix: str = "") -> str:
    """samples/ file name of the fixed-latent grid at an epoch's end, or at a step."""
    return f"{prefix}epoch_{epoch:04d}.png" if epoch is not None else f"{prefix}step_{step:07d}.png"


def valid_run_name(name) -> bool:
    """Names that every tool can show, link to (?run=NAME) and type without quoting."""
    return isinstance(name, str) and bool(RUN_NAME.match(name)) and name not in (".", "..")


def regular_files(folder: Path, pattern: str, root: Path) -> list[Path]:
    """Files matching pattern in folder that are regular files inside root, sorted by name."""
    if not folder.is_dir() or not inside(root, folder):
        return []
    return sorted(p for p in folder.glob(pattern) if inside(root, p) and p.is_file())


def _number(stem: str) -> int:
    """The number a grid's name ends with (epoch_0003 -> 3); 0 for a name that has none."""
    match = re.search(r"(\d+)$", stem)
    return int(match.group(1)) if match else 0


def grid_step(grid: Path, steps_per_epoch: int | None) -> int | None:
    """The training step a fixed-latent grid was drawn at (epoch_0028 at 250 steps per epoch: 7,000); None for
    an epoch grid of a run whose epoch length is unknown."""
    kind, _, number = grid.stem.rpartition("_")  # epoch_0028, ema_epoch_0028, step_0006036
    if not kind.endswith("epoch"):
        return _number(grid.stem)
    return int(number) * steps_per_epoch if _positive_int(steps_per_epoch) and number.isdigit() else None


def _positive_int(value) -> bool:
    """A usable epoch length: config.json is read as the user left it, so a value can be of any type."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def fixed_seed_grids(run: Path, root: Path, steps_per_epoch: int | None) -> list[Path]:
    """Raw G's fixed-latent grids in training order: per epoch (and where the run stopped, if mid-epoch),
    or per step for runs shorter than one."""
    samples = run / SAMPLES
    epochs, steps = regular_files(samples, "epoch_*.png", root), regular_files(samples, "step_*.png", root)
    if not epochs or not _positive_int(steps_per_epoch):
        return epochs or steps
    # a run stopped mid-epoch (a time budget, Ctrl-C) ends with a step grid after its last epoch
    last_epoch_step = grid_step(epochs[-1], steps_per_epoch)
    if last_epoch_step is None:  # a grid named by hand (epoch_final.png): no place in the order for step grids
        return epochs
    return epochs + [g for g in steps if grid_step(g, None) > last_epoch_step]


@dataclass
class Run:
    """A run folder as the dashboard lists it: typed facts from its config, and its problems."""

    name: str
    path: Path
    root: Path
    facts: config_json.Facts = field(default_factory=config_json.Facts)
    problems: list[str] = field(default_factory=list)
    models: dict[str, Path] = field(default_factory=dict)  # "generator", "generator_ema", … -> .onnx
    mtime: float = 0.0

    @property
    def preset(self) -> str:
        return self.facts.preset

    @property
    def dataset(self) -> str:
        return self.facts.dataset

    @property
    def steps_per_epoch(self) -> int | None:
        return self.facts.steps_per_epoch

    @property
    def recipe(self) -> str:
        return self.facts.recipe

    @property
    def loss(self) -> str:
        return self.facts.loss

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.facts.class_names

    @property
    def conditional(self) -> bool:
        return self.facts.conditional

    @property
    def created(self) -> str:
        return self.facts.created

    def trained(self, step: int | None) -> str:
        """'2,000 of 10,000 steps (2.0 of 40 epochs)' or '5 epochs': what was trained, beside the plan."""
        f, spe = self.facts, self.facts.steps_per_epoch
        planned = None
        if f.epochs != "?" and spe:
            planned = int(float(f.epochs) * spe)
            planned = min(planned, f.max_steps) if f.max_steps else planned
        if step is None:
            return f"{f.epochs} epochs planned" if f.epochs != "?" else "length unknown"
        text = f"{step:,}" + (f" of {planned:,}" if planned and planned != step else "") + " steps"
        if spe:
            text += f" ({step / spe:.1f}" + (f" of {f.epochs}" if f.epochs != "?" else "") + " epochs)"
        return text

    def label(self) -> str:
        recipe = "" if self.recipe == "book" else f", {self.recipe} recipe"
        return (f"{self.name} — {self.preset} on {self.dataset}{recipe}, "
                f"{self.created[:16].replace('T', ' ')}")

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def eval_path(self) -> Path:
        return self.path / EVAL

    def grids(self) -> list[Path]:
        return fixed_seed_grids(self.path, self.root, self.steps_per_epoch)


def safe_child(root: Path, name) -> Path | None:
    """The folder `root/name` if `name` is a valid run name that stays inside root, else None."""
    if not valid_run_name(name):
        return None
    path = Path(root) / name
    return path if inside(root, path) and os.path.realpath(path) != os.path.realpath(root) and path.is_dir() else None


def why_not_listed(root: Path, name: str) -> str:
    """One sentence on why `root/name` is not a run the tools open."""
    path = Path(root) / str(name)
    if not valid_run_name(name):
        return f"{str(name)[:60]!r} is not a usable run name ({RUN_NAME_RULE}); rename the folder to open it"
    if not path.is_dir():
        return f"there is no run folder {name!r} in {root}/"
    if not inside(root, path) or os.path.realpath(path) == os.path.realpath(root):
        return f"{name!r} leads outside {root}/"
    return f"{name!r} holds neither {CONFIG} nor an exported generator"


def open_run(root: Path, name: str) -> Run | None:
    """The run folder root/name as a Run, or None if it is not a run folder we may show."""
    path = safe_child(root, name)
    if path is None:
        return None
    models = {p.stem: p for p in regular_files(path, MODEL_GLOB, root)}
    if not os.path.lexists(path / CONFIG) and not models:
        return None
    run = Run(name, path, Path(root), models=models, mtime=path.stat().st_mtime)
    config, problem = config_json.read(path / CONFIG, root)
    if problem:
        run.problems.append(problem)
    elif config is None:
        run.problems.append(f"{CONFIG} is missing")
    else:
        run.facts = config_json.facts(config)
        run.problems.extend(run.facts.problems)
    if not models:
        run.problems.append(f"no ONNX generator yet: run python -m export.to_onnx {path}")
    if not run.facts.created:
        run.facts.created = datetime.fromtimestamp(run.mtime).isoformat(timespec="seconds")
    return run


@dataclass
class Listing:
    """Every run folder under a root, newest first, and the folders skipped with the reason for each."""

    runs: list[Run]
    skipped: dict[str, str]


def discover(root: str | Path) -> Listing:
    """Run folders directly under root that hold a config.json or an ONNX generator, newest first.
    Folders whose names the tools cannot use are listed in `skipped`, with why."""
    root = Path(root)
    if not root.is_dir():
        return Listing([], {})
    runs, skipped = [], {}
    for child in root.iterdir():
        if not child.is_dir():
            continue
        if not valid_run_name(child.name):
            if (child / CONFIG).exists() or any(child.glob(MODEL_GLOB)):
                skipped[child.name] = why_not_listed(root, child.name)
            continue
        run = open_run(root, child.name)
        if run is not None:
            runs.append(run)
    return Listing(sorted(runs, key=lambda r: r.mtime, reverse=True), skipped)
