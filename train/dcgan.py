"""Train a book GAN: `python -m train.dcgan` (see --help).

Thin CLI over `train.trainer`: parse flags, make or reopen the run folder, train.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import checkpoint
from .config import TrainConfig, add_arguments, from_args
from .errors import ArgumentParser, UserError, cli_entry
from .distributed import Dist, exit_process
from .trainer import Trainer, new_run_dir, pick_device, resume_config, truncate_metrics, write_config

EXAMPLES = """examples:
  python -m train.dcgan                                   quick DCGAN run on Fashion-MNIST (1 epoch)
  python -m train.dcgan --epochs 50                       the book's full run
  python -m train.dcgan --model mlp --epochs 5            Géron's simple GAN
  python -m train.dcgan --model frog --dataset folder --data-dir ../shared/data/cifar10-frog --epochs 40
  python -m train.dcgan --resume checkpoints/<run> --epochs 10   continue a run
  python -m train.dcgan --max-steps 20 --log-every 5      smoke test
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="python -m train.dcgan", description="Train a GAN from the books (Géron ch. 17, Chollet) and "
        "write a run folder with checkpoints, metrics.jsonl and sample grids.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--resume", metavar="RUN", help="continue a run: its folder, a checkpoint file, or 'latest' "
                        "(newest run under --out); step count, metrics and grids carry on")
    return parser.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg, given = from_args(args)
    resume_state = None
    if args.resume:
        run_dir, resume_state, cfg = reopen(args.resume, given)
    else:
        cfg = cfg.resolved()
        run_dir = None
    dist = Dist.from_env(cfg.device)
    try:
        device = pick_device(dist.device(cfg.device))
        if run_dir is None:
            run_dir = dist.broadcast(new_run_dir(cfg) if dist.main else None)
        try:
            trainer = Trainer(cfg, run_dir, device, resume_state, dist)
        except UserError:
            if dist.main and resume_state is None and not any(run_dir.glob("*.pt")):
                _remove_empty_run(run_dir)
            raise
        if dist.main:
            if resume_state is None:
                write_config(run_dir, trainer)
            print(f"training {cfg.model} on {cfg.dataset} ({len(trainer.data)} images from {trainer.data.source}) "
                  f"on {device}{f' x {dist.world} processes' if dist.enabled else ''}; run folder {run_dir}")
        return trainer.fit()
    finally:
        dist.close()


def reopen(target: str, given: dict) -> tuple[Path, dict | None, TrainConfig]:
    """The run folder, checkpoint state and config to continue. A run killed before its first
    checkpoint restarts from step 0 with its config.json; leftovers of a crash are cleaned."""
    out = Path(given.get("out", TrainConfig.out))
    path = checkpoint.newest_run(out) if target == "latest" else Path(target)
    run_dir = path if path.is_dir() else path.parent
    for stale in [*run_dir.glob(".*.tmp"), *run_dir.glob("samples/.*.tmp")]:
        stale.unlink(missing_ok=True)  # a temp file whose write was cut short
    if path.is_dir() and not (path / "last.pt").exists() and (path / "config.json").is_file():
        try:
            saved = json.loads((path / "config.json").read_text())["train"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}/config.json is unreadable ({exc}); start a new run instead") from None
        state = {"config": saved}
        truncate_metrics(run_dir / "metrics.jsonl", 0)
        print(f"{path} has no checkpoint yet: starting it again from step 0")
        return run_dir, None, resume_config(state, given)
    state = checkpoint.load(checkpoint.resolve(path))
    cfg = resume_config(state, given)
    truncate_metrics(run_dir / "metrics.jsonl", state["step"])
    (run_dir / "samples").mkdir(exist_ok=True)
    print(f"resuming {run_dir} at step {state['step']}")
    return run_dir, state, cfg


def _remove_empty_run(run_dir: Path) -> None:
    """A run that failed before training leaves no empty folder behind."""
    for path in sorted(run_dir.rglob("*"), reverse=True):
        if path.is_dir():
            path.rmdir()
    run_dir.rmdir()


if __name__ == "__main__":
    exit_process(main())
