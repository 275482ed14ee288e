"""Train a book GAN: `python -m train.dcgan` (see --help).

Thin CLI over `train.trainer`: parse flags, make or reopen the run folder, train.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import checkpoint
from .config import TrainConfig, add_arguments, from_args
from .errors import UserError, cli_entry
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
    parser = argparse.ArgumentParser(
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
        out = Path(given.get("out", TrainConfig.out))
        path = checkpoint.resolve(checkpoint.newest_run(out) if args.resume == "latest" else args.resume)
        resume_state = checkpoint.load(path)
        cfg = resume_config(resume_state, given)
        run_dir = path.parent
        truncate_metrics(run_dir / "metrics.jsonl", resume_state["step"])
        (run_dir / "samples").mkdir(exist_ok=True)
        print(f"resuming {run_dir} at step {resume_state['step']}")
    else:
        cfg = cfg.resolved()
        run_dir = None
    device = pick_device(cfg.device)
    if run_dir is None:
        run_dir = new_run_dir(cfg)
    try:
        trainer = Trainer(cfg, run_dir, device, resume_state)
    except UserError:
        if resume_state is None and not any(run_dir.glob("*.pt")):
            _remove_empty_run(run_dir)
        raise
    if resume_state is None:
        write_config(run_dir, trainer)
    print(f"training {cfg.model} on {cfg.dataset} ({len(trainer.data)} images from {trainer.data.source}) "
          f"on {device}; run folder {run_dir}")
    return trainer.fit()


def _remove_empty_run(run_dir: Path) -> None:
    """A run that failed before training leaves no empty folder behind."""
    for path in sorted(run_dir.rglob("*"), reverse=True):
        if path.is_dir():
            path.rmdir()
    run_dir.rmdir()


if __name__ == "__main__":
    raise SystemExit(main())
