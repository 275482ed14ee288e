"""Making, reopening and locking run folders: the training side (core/runs.py has the layout).

The order of work protects what is already on disk: everything that can fail (arguments,
checkpoint, dataset, device, models) is checked first and changes nothing; only then is the
folder locked (one writer per run), and only while the lock is held are files written,
temp files of a killed writer removed, or metrics cut back to the resumed step.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch

from core.errors import UserError
from core.files import atomic_write, remove_stale_temps
from core.lock import RunLock
from core.formats import config_json
from core.formats.metrics_jsonl import METRICS, split_metrics, truncate_metrics
from core.runs import LAST, LOCK, PERIODIC_GLOB, RUN_NAME_RULE, SAMPLES, grid_step, periodic_step, valid_run_name
from core.targets import locate

from gan import checkpoint
from .config import SCHEDULE_FIELDS, TrainConfig, flag



@dataclass
class Resume:
    """What --resume found, read-only: the folder, the checkpoint's state (None: restart from step 0)."""

    run_dir: Path
    state: dict | None
    checkpoint: Path | None
    cfg: TrainConfig
    newer_step: int = 0  # the step of newer work that resuming would discard (0: none)


def planned_run_dir(cfg: TrainConfig) -> Path:
    """The folder a new run will use; refused now, before any work, if the name is bad or taken."""
    name = cfg.name or f"{cfg.model}-{cfg.dataset}-{datetime.now():%Y%m%d-%H%M%S}"
    if not valid_run_name(name):
        raise UserError(f"--name {name!r} is not a usable run name: use {RUN_NAME_RULE}")
    run_dir = Path(cfg.out) / name
    _refuse_if_taken(run_dir)
    return run_dir


def _refuse_if_taken(run_dir: Path) -> None:
    if run_dir.exists() and any(p.name != LOCK for p in run_dir.iterdir()):
        raise UserError(f"run folder {run_dir} already exists; continue it with --resume {run_dir} or pick another --name")


def create(run_dir: Path) -> RunLock:
    """Make the new run's folder and take its lock."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create run folder {run_dir} ({exc.strerror})") from None
    lock = RunLock(run_dir).acquire()
    try:
        _refuse_if_taken(run_dir)  # another process may have made it between our check and mkdir
        (run_dir / SAMPLES).mkdir(exist_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


def remove_unstarted(run_dir: Path) -> None:
    """Undo `create` for a run that stopped before training began (no checkpoint, no metrics)."""
    if any(run_dir.glob("*.pt")) or (run_dir / METRICS).exists():
        return
    shutil.rmtree(run_dir, ignore_errors=True)


def write_config(run_dir: Path, cfg: TrainConfig, spec, steps_per_epoch: int, data, machine: str) -> None:
    config_json.write(run_dir, cfg.to_dict(), spec.to_dict(), steps_per_epoch, len(data), data.source, torch.__version__,
                      machine)


# --- resume ----------------------------------------------------------------------------------

def find_resume(target: str, given: dict) -> Resume:
    """Read what a resume needs (nothing in the folder changes here)."""
    out = Path(given.get("out", TrainConfig.out))
    path = locate(None, out, command="--resume").run_dir if target == "latest" else Path(target)
    run_dir = path if path.is_dir() else path.parent
    if path.is_dir() and not (path / LAST).exists() and (path / config_json.CONFIG).is_file():
        saved, problem = config_json.read(path / config_json.CONFIG)
        if saved is None or not isinstance(saved.get(config_json.TRAIN), dict):
            raise UserError(f"{path}/{config_json.CONFIG} is unreadable ({problem or 'no train section'}); "
                            "start a new run instead")
        return Resume(run_dir, None, None, resume_config({"config": saved[config_json.TRAIN]}, given))
    ckpt = checkpoint.resolve(path)
    state = checkpoint.load(ckpt)
    others = _checkpoint_steps(run_dir, skip=ckpt)
    newest = max(others, key=others.get, default=None)
    if newest is not None and others[newest] > state["step"] and (path.is_dir() or ckpt.name == LAST):
        ckpt, state = newest, checkpoint.load(newest)  # killed between a periodic save and last.pt's
        others = _checkpoint_steps(run_dir, skip=ckpt)
    newer = max((s for s in others.values() if s > state["step"]), default=0)
    return Resume(run_dir, state, ckpt, resume_config(state, given), newer)


def _checkpoint_steps(run_dir: Path, skip: Path) -> dict[Path, int]:
    """The step of every checkpoint in the run but `skip` (periodic ones by name, last.pt by content)."""
    steps = {}
    for other in [run_dir / LAST, *run_dir.glob(PERIODIC_GLOB)]:
        if other.is_file() and other.resolve() != skip.resolve():
            match = re.fullmatch(r"step_(\d+)\.pt", other.name)
            steps[other] = int(match.group(1)) if match else checkpoint.load(other)["step"]
    return steps


def prepare_resume(resume: Resume, rewind: bool) -> None:
    """With the lock held: clean a killed writer's temp files, set newer work aside if asked, cut metrics."""
    run_dir = resume.run_dir
    if resume.newer_step and not rewind:
        raise UserError(f"{resume.checkpoint} is at step {resume.state['step']} but {run_dir} holds newer work "
                        f"(step {resume.newer_step}); resume without naming a checkpoint to continue from the newest, "
                        f"or add --rewind to go back (the newer work is kept in a subfolder)")
    remove_stale_temps(run_dir)
    step = resume.state["step"] if resume.state is not None else 0
    if resume.newer_step:
        aside = _set_aside(run_dir, resume.checkpoint, step, resume.newer_step)
        print(f"rewinding {run_dir} to step {step}; the newer work (to step {resume.newer_step}) is kept in {aside}")
    truncate_metrics(run_dir / METRICS, step)
    (run_dir / SAMPLES).mkdir(exist_ok=True)
    if resume.state is None:
        print(f"{run_dir} has no checkpoint yet: starting it again from step 0")
    else:
        print(f"resuming {run_dir} at step {step}")


def _set_aside(run_dir: Path, ckpt: Path, step: int, newer_step: int) -> Path:
    """Move the checkpoints, metrics records and grids after `step` into a subfolder; last.pt becomes `ckpt`."""
    aside = run_dir / f"rewound-from-step-{newer_step}"
    aside.mkdir(exist_ok=True)
    (aside / SAMPLES).mkdir(exist_ok=True)
    for path in run_dir.glob(PERIODIC_GLOB):
        if path.resolve() != ckpt.resolve() and periodic_step(path) > step:
            path.rename(aside / path.name)
    kept, later = split_metrics(run_dir / METRICS, step)
    atomic_write(aside / METRICS, "".join(line + "\n" for line in later).encode())
    config, _ = config_json.read(run_dir / config_json.CONFIG)
    steps_per_epoch = (config or {}).get(config_json.STEPS_PER_EPOCH)
    for grid in (run_dir / SAMPLES).glob("*.png"):
        if (grid_step(grid, steps_per_epoch) or 0) > step:
            grid.rename(aside / SAMPLES / grid.name)
    if (run_dir / LAST).is_file() and ckpt.name != LAST:
        (run_dir / LAST).rename(aside / LAST)
        atomic_write(run_dir / LAST, ckpt.read_bytes())  # a kill from here on resumes where asked
    return aside


def resume_config(state: dict, given: dict) -> TrainConfig:
    """The checkpoint's config, with only the schedule flags the user gave now applied on top."""
    saved = TrainConfig.from_dict(state["config"])
    changed = {k: v for k, v in given.items() if k not in SCHEDULE_FIELDS and k != "out" and getattr(saved, k) != v}
    if changed:
        raise UserError(f"--resume continues a run with its own settings; these differ: "
                        f"{', '.join(map(flag, changed))} (only {', '.join(map(flag, SCHEDULE_FIELDS))} may change)")
    schedule = {k: v for k, v in given.items() if k in SCHEDULE_FIELDS}
    if ("epochs" in given or "max_steps" in given) and "minutes" not in given:
        schedule["minutes"] = 0.0  # a new length replaces a quick look's time budget
    return TrainConfig.from_dict({**saved.to_dict(), **schedule})
