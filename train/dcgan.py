"""Train a GAN: `python -m train.dcgan` (see --help). Trains every preset, not only the DCGAN.

The command keeps the name users know; `--model` picks dcgan (the default), mlp or frog.
Thin CLI over `train.trainer`: parse flags, check everything, then lock and write the run folder.
"""
from __future__ import annotations

import argparse

import torch

from core.errors import ArgumentParser, UserError, cli_entry, run_main
from core.lock import RunLock
from core.machine import cpu
from core.spec import PRESETS

from . import run_folder
from .config import add_arguments, from_args
from .distributed import Dist, exit_process, pick_device
from .trainer import Trainer

EXAMPLES = """examples:
  python -m train.dcgan                                   quick look: 3 minutes of the DCGAN on Fashion-MNIST
  python -m train.dcgan --epochs 50                       the book's full run
  python -m train.dcgan --epochs 50 --recipe modern       the same model trained the modern way (faster to quality)
  python -m train.dcgan --model mlp --epochs 5            Géron's simple GAN
  python -m train.dcgan --model frog --dataset folder --data-dir path/to/cifar10-frog --epochs 40
  python -m train.dcgan --resume checkpoints/<run> --epochs 10   continue a run
  python -m train.dcgan --max-steps 20 --log-every 5      smoke test
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="python -m train.dcgan", description="Train any of the book GANs (--model dcgan, mlp or frog; "
        "Géron ch. 17, Chollet) and write a run folder with checkpoints, metrics.jsonl and sample grids.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--resume", metavar="RUN", help="continue a run: its folder, a checkpoint file, or 'latest' "
                        "(newest run under --out); step count, metrics and grids carry on")
    parser.add_argument("--rewind", action="store_true", help="with --resume of an older checkpoint: go back to it, "
                        "keeping the run's newer checkpoints, metrics and grids in a rewound-from-step-N/ subfolder")
    return parser.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg, given = from_args(args)
    if args.rewind and not args.resume:
        raise UserError("--rewind goes with --resume CHECKPOINT")
    resume = run_folder.find_resume(args.resume, given) if args.resume else None
    quick_look = not resume and cfg.is_quick_look
    cfg = resume.cfg if resume else cfg.resolved()
    dist = Dist.from_env(cfg.device, cfg.collective_timeout)
    lock, threads_before = None, torch.get_num_threads()  # put back after: tests and notebooks train in-process
    try:
        device = pick_device(dist.device(cfg.device))
        if cfg.threads and device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        run_dir = resume.run_dir if resume else dist.broadcast(run_folder.planned_run_dir(cfg) if dist.main else None)
        trainer = Trainer(cfg, run_dir, device, resume.state if resume else None, dist)
        if dist.main:  # every check has passed: from here on the run folder may change
            lock = _open_for_writing(trainer, resume, args.rewind)
            print(f"training {cfg.model} on {cfg.dataset} ({len(trainer.data)} images from {trainer.data.source}) "
                  f"on {_device_words(device)}{f' x {dist.world} processes' if dist.enabled else ''}; "
                  f"run folder {run_dir}", flush=True)
            if trainer.precision_note:
                print(f"--precision auto: {trainer.precision_note}", flush=True)
            if quick_look:
                print(f"quick look: {cfg.minutes:g} minutes of training (at most {cfg.epochs} epochs), then the "
                      f"run is saved; the book trains {PRESETS[cfg.model].epochs} epochs: add --epochs "
                      f"{PRESETS[cfg.model].epochs}, or later --resume the run with it", flush=True)
            if cfg.precision == "bf16" and device.type == "cpu" and not cpu().native_bf16:
                print("warning: this CPU has no native bf16 (AVX-512 BF16 or AMX), so --precision bf16 runs many "
                      "times slower than fp32 here (docs/performance.md)", flush=True)
        return trainer.fit()
    finally:
        if lock is not None:
            lock.release()
        torch.set_num_threads(threads_before)
        dist.close()


def _device_words(device) -> str:
    if device.type == "cpu":
        return f"the CPU ({cpu().describe()}; {torch.get_num_threads()} torch threads)"
    return str(device)


def _open_for_writing(trainer: Trainer, resume: run_folder.Resume | None, rewind: bool):
    """Lock the run folder, then make it (new run) or tidy it for the resumed step; returns the lock."""
    if resume is not None:
        lock = RunLock(resume.run_dir).acquire()
        try:
            run_folder.prepare_resume(resume, rewind)
        except BaseException:
            lock.release()
            raise
        return lock
    lock = run_folder.create(trainer.run_dir)
    try:
        run_folder.write_config(trainer.run_dir, trainer.cfg, trainer.spec, trainer.steps_per_epoch, trainer.data,
                                _device_words(trainer.device))
    except BaseException:
        run_folder.remove_unstarted(trainer.run_dir)
        lock.release()
        raise
    return lock


if __name__ == "__main__":
    run_main(main, exit_process)
