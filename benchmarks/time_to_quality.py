"""Time to quality: the training time each setting needs to reach the book recipe's 50-epoch FID, side by side.

    python -m benchmarks.time_to_quality --target-fid 100 [--minutes 40] [--settings eager,default,fastest]

Speed per step (benchmarks/train_speed.py) only matters if the steps buy the same quality, so
this trains the book DCGAN on the real Fashion-MNIST training images with each setting from the
same seed, and scores it every `--eval-every` steps with the in-training quick evaluation
(`evaluation.quality.QuickEval`: 2,000 samples, the Fashion-MNIST classifier's feature space),
exactly as `python -m train.dcgan --eval-every` logs it, so a target read off a published run's
metrics.jsonl (docs/results.md: the book recipe's quick FID after 50 epochs is 100.3) means the
same here. The settings:

  eager     the faithful eager port of the book step that train_speed.py keeps (the reference)
  default   `python -m train.dcgan --epochs 50` with no other flag: the book recipe, bf16 where the
            CPU computes it natively, and the warmed-up EMA of G beside G
  fastest   our fastest documented setting: `--recipe modern` (docs/modern-recipe.md) with bf16
            where the CPU has native bf16 (AVX-512 BF16 or AMX), channels-last fp32 otherwise

default and fastest are the trainer itself (train.trainer.Trainer, in a temporary folder); a
setting reaches the target when G or its EMA does. The settings take turns, one evaluation
interval each, so all see the same machine; only training time is counted (scoring is off the
clock). The eager port's reference time is the book's length, 50 epochs, at the speed it was
measured at in this run: by definition the time it needs for its own 50-epoch quality. It trains
until it has been timed over `--eager-steps` steps (it is not raced to the target: at the book's
speed that takes the whole 50 epochs).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.errors import ArgumentParser, UserError, cli_entry, summary
from core.formats.config_json import DataSource
from core.spec import PRESETS, ModelSpec
from gan import data as datasets
from train.config import TrainConfig
from evaluation.quality import QuickEval
from train.precision import auto
from train.trainer import Trainer

from .train_speed import describe_device, eager_runner, our_options

PRESET = "dcgan"
BOOK_EPOCHS = 50


@dataclass
class Setting:
    name: str
    run: object  # run(steps) -> None, with .generators: {"G": module, "EMA": module}
    seconds: float = 0.0
    steps: int = 0
    curve: list = field(default_factory=list)  # (training seconds, step, best fid, which generator)
    reached: float | None = None  # training seconds when the target was first met
    limit_steps: int | None = None  # the eager reference stops once timed over this many steps


def fastest_options(preset):
    """bf16 where it is measured faster here (train/precision.py), else channels-last fp32."""
    choice, _ = auto(torch.device("cpu"), ModelSpec.of_preset(preset.name), preset.batch_size)
    return our_options(preset, "bf16") if choice == "bf16" else our_options(preset, "fp32", channels_last=True)


def fastest_config(data_dir: str | None, seed: int) -> TrainConfig:
    opts = fastest_options(PRESETS[PRESET])
    return TrainConfig(recipe="modern", precision=opts.precision, channels_last=opts.channels_last,
                       epochs=BOOK_EPOCHS, data_dir=data_dir, seed=seed)


def trainer_runner(cfg: TrainConfig, folder: Path):
    """`run(steps)` that trains the real trainer `steps` further (its output kept out of the report)."""
    cfg, _ = cfg.resolved().with_precision(torch.device("cpu"))
    cfg = dataclasses.replace(cfg, checkpoint_every=0, log_every=10_000)
    (folder / "samples").mkdir(parents=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer = Trainer(cfg, folder, torch.device("cpu"))

    def run(steps: int) -> None:
        trainer.cfg = dataclasses.replace(trainer.cfg, max_steps=trainer.progress.step + steps)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = trainer.fit()
        if code:  # the trainer caught Ctrl-C or SIGTERM (and saved): the benchmark stops too
            raise SystemExit(code)
    run.generators = {"G": trainer.generator, **({"EMA": trainer.ema} if trainer.ema is not None else {})}
    run.steps_per_epoch = trainer.steps_per_epoch
    run.describe = f"{cfg.recipe} recipe, {cfg.precision}{', channels-last' if cfg.channels_last else ''}"
    return run


def build_settings(names: list[str], images: torch.Tensor, seed: int, data_dir: str | None, folder: Path,
                   eager_steps: int) -> list[Setting]:
    preset = PRESETS[PRESET]

    def eager():
        run = eager_runner(PRESET, preset.batch_size, torch.device("cpu"), images)
        run.generators = {"G": run.generator}
        run.describe = "the book step ported eagerly, fp32"
        return run

    makers = {
        "eager": eager,
        "default": lambda: trainer_runner(TrainConfig(epochs=BOOK_EPOCHS, data_dir=data_dir, seed=seed),
                                          folder / "default"),
        "fastest": lambda: trainer_runner(fastest_config(data_dir, seed), folder / "fastest"),
    }
    settings = []
    for name in names:
        if name not in makers:
            raise UserError(f"unknown setting {name!r}; choose from {', '.join(makers)}")
        torch.manual_seed(seed)  # the same initial weights for every setting
        settings.append(Setting(name, makers[name](), limit_steps=eager_steps if name == "eager" else None))
    return settings


def _active(s: Setting, budget_s: float) -> bool:
    if s.limit_steps is not None:
        return s.steps < s.limit_steps and s.seconds < budget_s
    return s.reached is None and s.seconds < budget_s


def race(settings: list[Setting], judge: QuickEval, target: float, every: int, budget_s: float) -> None:
    """Round-robin: each unfinished setting trains `every` steps, then is scored (off the clock)."""
    while any(_active(s, budget_s) for s in settings):
        for s in settings:
            if not _active(s, budget_s):
                continue
            steps = every if s.limit_steps is None else min(every, s.limit_steps - s.steps)
            start = time.perf_counter()
            s.run(steps)
            s.seconds += time.perf_counter() - start
            s.steps += steps
            scores = {which: judge(g)["fid"] for which, g in s.run.generators.items()}
            which, fid = min(scores.items(), key=lambda kv: kv[1])
            s.curve.append((s.seconds, s.steps, fid, which))
            shown = ", ".join(f"{k} {v:7.2f}" for k, v in scores.items())
            print(f"  {s.name:>8}: step {s.steps:>6}, {s.seconds / 60:6.1f} min of training, FID {shown}", flush=True)
            if fid <= target and s.reached is None:
                s.reached = s.seconds


def report(settings: list[Setting], target: float, budget_s: float, steps_per_epoch: int) -> list[str]:
    eager = next((s for s in settings if s.name == "eager"), None)
    reference = eager.seconds / eager.steps * steps_per_epoch * BOOK_EPOCHS if eager and eager.steps else None
    lines = [f"time to quick FID <= {target:g} (book DCGAN on Fashion-MNIST, classifier feature space)"]
    if reference:
        lines.append(f"reference: the eager port's {BOOK_EPOCHS} epochs at its speed measured here "
                     f"({eager.steps / eager.seconds * PRESETS[PRESET].batch_size:.0f} img/s over {eager.steps} "
                     f"steps) = {reference / 60:.1f} min")
    lines.append(f"{'setting':>8} | {'reached':>8} | {'minutes':>8} | {'epochs':>7} | {'vs eager 50 epochs':>18}")
    for s in settings:
        if s.name == "eager":
            ratio = "1.00x" if reference else "-"
            lines.append(f"{s.name:>8} | {'ref':>8} | {(reference or 0) / 60:>8.1f} | {BOOK_EPOCHS:>7} | {ratio:>18}")
            continue
        if s.reached is None:
            best = min(s.curve, key=lambda c: c[2]) if s.curve else (0, 0, float("nan"), "-")
            lines.append(f"{s.name:>8} | {'no':>8} | {'>' + format(budget_s / 60, '.1f'):>8} | "
                         f"{s.steps / steps_per_epoch:>7.1f} | best FID {best[2]:.1f} ({best[3]}) at step {best[1]}")
            continue
        point = next(c for c in s.curve if c[0] == s.reached)
        ratio = f"{s.reached / reference:.2f}x ({point[3]})" if reference else "-"
        lines.append(f"{s.name:>8} | {'yes':>8} | {s.reached / 60:>8.1f} | {point[1] / steps_per_epoch:>7.1f} | "
                     f"{ratio:>18}")
    for s in settings:
        lines.append(f"  {s.name}: {s.run.describe}")
    return lines


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.time_to_quality", description=summary(__doc__),
                            epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-fid", type=float, required=True,
                        help="quick FID to reach (the book recipe's 50-epoch value in docs/results.md is 100.3)")
    parser.add_argument("--minutes", type=float, default=40.0, help="training-time budget per setting (default: 40)")
    parser.add_argument("--settings", default="eager,default,fastest")
    parser.add_argument("--eval-every", type=int, default=1875, help="steps between scorings (default: one epoch)")
    parser.add_argument("--eager-steps", type=int, default=1875,
                        help="steps over which the eager reference is timed (default: one epoch)")
    parser.add_argument("--data-dir", default=None, help="folder of Fashion-MNIST's .gz files (default: searched)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="keep the trainer settings' run folders (grids, metrics, last.pt) in DIR/<setting>")
    args = parser.parse_args(argv)
    if args.eval_every <= 0 or args.minutes <= 0 or args.eager_steps <= 0:
        raise UserError("--eval-every, --eager-steps and --minutes must be positive")
    preset = PRESETS[PRESET]
    images = datasets.load(preset.dataset, "train", args.data_dir).images
    judge = QuickEval(DataSource(preset.dataset, args.data_dir, ()),
                      ModelSpec.of_preset(PRESET), samples=2000)
    print(describe_device(torch.device("cpu")))
    if args.keep and any((Path(args.keep) / name).exists() for name in args.settings.split(",")):
        raise UserError(f"{args.keep} already holds a run folder of these settings; name a new --keep folder")
    with tempfile.TemporaryDirectory(prefix="time_to_quality-") as temp:
        folder = Path(args.keep) if args.keep else Path(temp)
        settings = build_settings(args.settings.split(","), images, args.seed, args.data_dir, folder,
                                  args.eager_steps)
        race(settings, judge, args.target_fid, args.eval_every, args.minutes * 60)
    print("\n".join(report(settings, args.target_fid, args.minutes * 60, len(images) // preset.batch_size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
