"""What the trainer tells its user: the measured pace early on, and at the end how far the run got and
how to go on (a command that works as printed, in or out of the activated environment)."""
from __future__ import annotations

import signal

from core.environment import python_command
from core.progress import Pace, duration
from core.runs import LAST
from core.spec import PRESETS

from .config import QUICK_LOOK_MINUTES


def ending(trainer, stop: int | None, time_up: bool) -> str:
    """How far the run got, and how to go on: what a user needs after the last step."""
    p, book = trainer.progress, PRESETS[trainer.cfg.model].epochs
    where = f"{p.step:,} steps ({p.step / trainer.steps_per_epoch:.1f} epochs), {duration(p.elapsed)} of training"
    go_on = f"{python_command()} -m train.dcgan --resume {trainer.run_dir}"
    if stop is not None:
        return f"{signal.Signals(stop).name}: saved {trainer.run_dir / LAST} at step {p.step}; continue with: {go_on}"
    if not time_up:
        return f"done: {where}; run folder {trainer.run_dir}"
    book_steps = book * trainer.steps_per_epoch
    rate = p.step / p.elapsed if p.elapsed else 0
    lines = [f"done: the {trainer.cfg.minutes:g}-minute budget is used: {where}; run folder {trainer.run_dir}"]
    if p.step < book_steps:
        lines.append(f"the book trains {book} epochs ({book_steps:,} steps)"
                     + (f", about {duration((book_steps - p.step) / rate)} more at this speed" if rate else "")
                     + "; longer runs give sharper, more varied images (docs/results.md)")
        lines.append(f"train on with: {go_on} --epochs {book}")
        if trainer.cfg.recipe == "book":
            lines.append("or start a run with --recipe modern, which reaches the book's 50-epoch quality in "
                         "far fewer epochs (docs/modern-recipe.md)")
    return "\n".join(lines)


def pace_line(trainer, pace: Pace) -> str:
    """Once, early: the measured speed and where the run will end."""
    p, total = trainer.progress, trainer.total_steps
    end = pace.end_step(p.step, p.elapsed, total)
    line = f"measured {pace.rate * trainer.cfg.batch_size:.0f} images/s: "
    if end < total:
        return line + (f"the {trainer.cfg.minutes:g}-minute budget ends near step {end:,} "
                       f"({end / trainer.steps_per_epoch:.1f} epochs)")
    left = pace.seconds_left(p.step, p.elapsed, total)
    line += f"about {duration(left)} to step {total:,}"
    if left > 300:
        line += f"; for a quick look, stop (Ctrl-C keeps the run) and try --minutes {QUICK_LOOK_MINUTES:g}"
        if trainer.cfg.recipe == "book":
            line += ", or --recipe modern, which needs fewer epochs (docs/modern-recipe.md)"
    return line
