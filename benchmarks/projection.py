"""Projection of real images into an exported generator's latent space: time and distance against
the best of 10,000 random samples, the figures docs/explorer.md quotes.

    python -m benchmarks.projection checkpoints/<run>/generator.onnx [--images 8] [--seconds 3]

Targets are the real test images stored in the model's explore data (the ones the dashboard's
Project tab offers). For each: the projection's wall time and distance (mean squared pixel
difference on a 0-1 scale), the best distance among 10,000 random latents, and their ratio.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from core.errors import ArgumentParser, UserError, cli_entry, summary
from core.machine import cpu
from inference.latent_space import PROJECT_SECONDS, best_random, load_explore, project, to_target
from inference.runtime import OnnxGenerator


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.projection", description=summary(__doc__))
    parser.add_argument("model", type=Path, help="an exported generator (.onnx) with its explore data beside it")
    parser.add_argument("--images", type=int, default=8, help="test images to project (default 8)")
    parser.add_argument("--seconds", type=float, default=PROJECT_SECONDS, help="time budget per projection "
                        f"(default {PROJECT_SECONDS:g}, the dashboard's)")
    parser.add_argument("--random", type=int, default=10_000, help="random samples to beat (default 10,000)")
    parser.add_argument("--no-encoder", action="store_true", help="start from random latents only, as projection "
                                                                   "does with explore data of version 1 or 2")
    parser.add_argument("--population", type=int, default=32, help="candidates per step of the search (default 32)")
    parser.add_argument("--parents", type=int, default=8, help="best candidates recombined (default 8)")
    parser.add_argument("--pool", type=int, default=1024, help="random latents tried before the search (default "
                                                                "1024; a quarter of it beside an encoder's guess)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.seconds <= 0 or args.random < 1 or args.pool < 1:
        raise UserError("--images, --seconds, --random and --pool must be positive")
    gen = OnnxGenerator(args.model)
    data, problem = load_explore(gen)
    if data is None:
        raise UserError(problem)
    print(f"{args.model}: {cpu().describe()}; ONNX Runtime provider {gen.provider}")
    print(f"{'image':>5} | {'seconds':>7} | {'evaluations':>11} | {'projected':>9} | {'best random':>11} | ratio")
    ratios, times = [], []
    for i, image in enumerate(data.test_images[:args.images]):
        target = to_target(image, gen)
        found = project(gen, target, seconds=args.seconds, seed=i, explore=None if args.no_encoder else data,
                        population=args.population, parents=args.parents, pool=args.pool)
        random_best = best_random(gen, target, args.random)
        ratios.append(random_best / max(found.distance, 1e-12))
        times.append(found.seconds)
        print(f"{i:>5} | {found.seconds:>7.2f} | {found.evaluations:>11,} | {found.distance:>9.4f} | "
              f"{random_best:>11.4f} | {ratios[-1]:.2f}x closer")
    print(f"median: {statistics.median(times):.2f} s per projection, {statistics.median(ratios):.2f}x closer than the "
          f"best of {args.random:,} random samples (range {min(ratios):.2f}-{max(ratios):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
