"""Time to quality: how much training time each setting needs to reach a given FID, side by side.

    python -m benchmarks.time_to_quality --target-fid 100 [--minutes 30] [--settings eager,default,fastest]

Speed per step (benchmarks/train_speed.py) only matters if the steps buy the same quality, so
this trains the book DCGAN on the real Fashion-MNIST training images with each setting from the
same initial weights and seed, and scores G every `--eval-every` steps with the in-training
quick evaluation (`train.quality.QuickEval`: 2,000 samples, the Fashion-MNIST classifier's
feature space), exactly as `python -m train.dcgan --eval-every` logs it, so a target read off a
published run's metrics.jsonl (docs/results.md) means the same here. The settings:

  eager     the faithful eager port of the book step that train_speed.py keeps (the reference)
  default   our trainer's step with no flags
  fastest   our fastest documented setting on this CPU: bf16 autocast where the CPU has native
            bf16 (AVX-512 BF16 or AMX), channels-last fp32 otherwise (docs/performance.md)

The settings take turns, one evaluation interval each, so all see the same machine; only
training time is counted (scoring is paused out of the clock). A setting stops when it reaches
the target or uses up `--minutes` of training time; the output says which, with the CPU named.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

from core.errors import ArgumentParser, UserError, cli_entry
from core.machine import cpu
from core.spec import PRESETS, ModelSpec
from train import data as datasets
from train.quality import QuickEval

from .train_speed import describe_device, eager_runner, our_options, our_runner

PRESET = "dcgan"


@dataclass
class Setting:
    name: str
    run: object  # run(steps) -> None, with .generator
    seconds: float = 0.0
    steps: int = 0
    curve: list = field(default_factory=list)  # (training seconds, step, fid)
    reached: float | None = None  # training seconds when the target was first met


def fastest_options(preset):
    """bf16 only where the CPU computes it natively: elsewhere it is several times slower."""
    return our_options(preset, "bf16") if cpu().native_bf16 else our_options(preset, "fp32", channels_last=True)


def build_settings(names: list[str], images: torch.Tensor, batch: int, seed: int, device) -> list[Setting]:
    makers = {
        "eager": lambda: eager_runner(PRESET, batch, device, images),
        "default": lambda: our_runner(PRESET, batch, device, our_options(PRESETS[PRESET]), images),
        "fastest": lambda: our_runner(PRESET, batch, device, fastest_options(PRESETS[PRESET]), images),
    }
    settings = []
    for name in names:
        if name not in makers:
            raise UserError(f"unknown setting {name!r}; choose from {', '.join(makers)}")
        torch.manual_seed(seed)  # the same initial weights and data order for every setting
        settings.append(Setting(name, makers[name]()))
    return settings


def race(settings: list[Setting], judge: QuickEval, target: float, every: int, budget_s: float) -> None:
    """Round-robin: each unfinished setting trains `every` steps, then is scored (off the clock)."""
    while any(s.reached is None and s.seconds < budget_s for s in settings):
        for s in settings:
            if s.reached is not None or s.seconds >= budget_s:
                continue
            start = time.perf_counter()
            s.run(every)
            s.seconds += time.perf_counter() - start
            s.steps += every
            fid = judge(s.run.generator)["fid"]
            s.curve.append((s.seconds, s.steps, fid))
            print(f"  {s.name:>8}: step {s.steps:>6}, {s.seconds / 60:6.1f} min of training, FID {fid:7.2f}", flush=True)
            if fid <= target:
                s.reached = s.seconds


def report(settings: list[Setting], target: float, budget_s: float) -> list[str]:
    lines = [f"time to quick FID <= {target:g} (book DCGAN on Fashion-MNIST, classifier feature space)",
             f"{'setting':>8} | {'reached':>8} | {'minutes':>8} | {'steps':>7} | {'vs eager':>8}"]
    eager = next((s for s in settings if s.name == "eager"), None)
    for s in settings:
        if s.reached is None:
            best = min(s.curve, key=lambda c: c[2]) if s.curve else (0, 0, float("nan"))
            lines.append(f"{s.name:>8} | {'no':>8} | {'>' + format(budget_s / 60, '.1f'):>8} | {s.steps:>7} | "
                         f"best FID {best[2]:.1f} at step {best[1]}")
            continue
        step = next(c[1] for c in s.curve if c[0] == s.reached)
        ratio = f"{s.reached / eager.reached:.2f}x" if eager is not None and eager.reached else "-"
        lines.append(f"{s.name:>8} | {'yes':>8} | {s.reached / 60:>8.1f} | {step:>7} | {ratio:>8}")
    return lines


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-fid", type=float, required=True,
                        help="quick FID to reach (e.g. a published run's value from docs/results.md)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training-time budget per setting (default: 30)")
    parser.add_argument("--settings", default="eager,default,fastest")
    parser.add_argument("--eval-every", type=int, default=1875, help="steps between scorings (default: one epoch)")
    parser.add_argument("--data-dir", default=None, help="folder of Fashion-MNIST's .gz files (default: searched)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.eval_every <= 0 or args.minutes <= 0:
        raise UserError("--eval-every and --minutes must be positive")
    device = torch.device("cpu")
    preset = PRESETS[PRESET]
    images = datasets.load(preset.dataset, "train", args.data_dir).images
    judge = QuickEval(SimpleNamespace(dataset=preset.dataset, data_dir=args.data_dir, class_tuple=()),
                      ModelSpec.of_preset(PRESET), samples=2000)
    print(describe_device(device))
    print(f"fastest here: {'bf16 autocast (native bf16)' if cpu().native_bf16 else 'channels-last fp32 (no native bf16)'}")
    settings = build_settings(args.settings.split(","), images, preset.batch_size, args.seed, device)
    race(settings, judge, args.target_fid, args.eval_every, args.minutes * 60)
    print("\n".join(report(settings, args.target_fid, args.minutes * 60)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
