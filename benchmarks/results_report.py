"""Figures and tables of full-length runs for docs/results.md: quality over training time, the
collapse measures, and the fixed-seed grids over time.

    python -m benchmarks.results_report RUN [RUN ...] [--out docs/results]

Quality points come from the run's quick evaluations in metrics.jsonl (`--eval-every`) and from
`quality_curve.jsonl` (`python -m evaluation.evaluate RUN --curve`, for runs whose shape the in-training
evaluation does not score, such as the frog); each is placed at the training time of the step it
was measured at. Writes `<out>/quality.png` and `<out>/<run>-grids.png`, and prints one markdown
table per run; `--side-by-side NAME` also writes `<out>/NAME.png`: each run's last grid (of its EMA where it
has one) beside the others', which share their 64 latent vectors when the runs share their --seed.
`--grid RUN=GRID` shows another of a run's grids there (`--grid frog-modern-10k=epoch_0028`: raw G at
the best checkpoint, which is what a run ships when it is not the last).
"""
from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.errors import ArgumentParser, UserError, cli_entry, summary
from core.formats.eval_json import CURVE
from core.formats.metrics_jsonl import METRICS, read_metrics
from core.runs import SAMPLES

GRIDS_SHOWN = 6


def _records(path: Path) -> list[dict]:
    records, _, problem = read_metrics(path, path.parent)
    if problem:
        raise UserError(problem)
    return records


def quality_points(run: Path) -> list[dict]:
    """Quality records, oldest first, each with `hours` of training at its step."""
    log = _records(run / METRICS)
    timed = [(r["step"], r["time"]) for r in log if "time" in r]
    steps = [s for s, _ in timed]
    points = [r for r in log if "fid" in r] + _records(run / CURVE)
    for point in points:
        if "time" in point:
            point["hours"] = point["time"] / 3600
        else:
            i = bisect.bisect_right(steps, point["step"]) - 1
            point["hours"] = timed[i][1] / 3600 if i >= 0 else 0.0
    return sorted(points, key=lambda p: p["step"])


def labelled_row(paths: list[Path], labels: list[str], pad: int) -> Image.Image:
    """The images side by side on white, each with its label above it."""
    images = [Image.open(path).convert("RGB") for path in paths]
    label_h = 14
    row = Image.new("RGB", (sum(im.width for im in images) + pad * (len(images) - 1),
                            max(im.height for im in images) + label_h), "white")
    x = 0
    for text, im in zip(labels, images):
        ImageDraw.Draw(row).text((x + 2, 1), text, fill="black")
        row.paste(im, (x, label_h))
        x += im.width + pad
    return row


def grid_strip(run: Path, shown: int = GRIDS_SHOWN) -> Image.Image | None:
    """The fixed-seed grids at `shown` evenly spaced epochs (or steps), side by side and labelled."""
    files = sorted((run / SAMPLES).glob("epoch_*.png")) or sorted((run / SAMPLES).glob("step_*.png"))
    if not files:
        return None
    picks = list(dict.fromkeys(files[round(i)] for i in np.linspace(0, len(files) - 1, min(shown, len(files)))))
    labels = [f"{kind} {int(number)}" for kind, number in (path.stem.split("_") for path in picks)]
    return labelled_row(picks, labels, pad=6)


def last_grid(run: Path) -> Path | None:
    """The run's last fixed-seed grid, of its EMA where it has one."""
    for pattern in ("ema_epoch_*.png", "epoch_*.png", "ema_step_*.png", "step_*.png"):
        files = sorted((run / SAMPLES).glob(pattern))
        if files:
            return files[-1]
    return None


def side_by_side(runs: list[Path], chosen: dict[str, str] | None = None) -> Image.Image:
    """Each run's last grid, or the one `chosen` names for it, labelled with the run's name and the grid's epoch."""
    chosen = chosen or {}
    unknown = set(chosen) - {run.name for run in runs}
    if unknown:
        raise UserError(f"--grid names {sorted(unknown)[0]!r}, which is not one of the runs given")
    grids = [(run, run / SAMPLES / f"{chosen[run.name]}.png" if run.name in chosen else last_grid(run)) for run in runs]
    missing = [(run, grid) for run, grid in grids if grid is None or not grid.is_file()]
    if missing:
        run, grid = missing[0]
        raise UserError(f"{run} has no sample grids in {SAMPLES}/" if grid is None else f"there is no grid {grid}")
    return labelled_row([grid for _, grid in grids],
                        [f"{run.name}: {grid.stem.replace('_', ' ')}" for run, grid in grids], pad=8)


def table(run: Path, points: list[dict], rows: int = 12) -> list[str]:
    """Quality at evenly spaced points; a run on some classes of a dataset (the frog) gets the share of its
    samples in those classes, where the class spread of a one-class run would always read 1 and 0."""
    if not points:
        return [f"{run.name}: no quality records"]
    picks = sorted({round(i) for i in np.linspace(0, len(points) - 1, min(rows, len(points)))})
    has_ema = "fid_ema" in points[0]
    some_classes = "in_classes" in points[0]
    spread = "in-class share |" if some_classes else "classes covered | KL from uniform |"
    head = "| epoch | step | training h | FID | " + ("FID (EMA) | " if has_ema else "") + spread
    lines = [f"**{run.name}**", "", head, "|" + "---|" * (head.count("|") - 1)]
    for p in (points[i] for i in picks):
        ema = f"{p['fid_ema']:.1f} | " if has_ema else ""
        cells = (f"{p.get('in_classes', float('nan')):.3f} |" if some_classes else
                 f"{p.get('classes_covered', '')} | {p.get('kl_uniform', float('nan')):.3f} |")
        lines.append(f"| {p.get('epoch', '')} | {p['step']} | {p['hours']:.2f} | {p['fid']:.1f} | {ema}{cells}")
    return lines


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_fid, ax_cov, ax_kl) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, points in curves.items():
        for suffix, style, label in (("", "-", name), ("_ema", "--", f"{name} (EMA of G)")):
            pts = [p for p in points if f"fid{suffix}" in p]
            if not pts:
                continue
            line, = ax_fid.plot([p["hours"] for p in pts], [p[f"fid{suffix}"] for p in pts], style, label=label)
            x = [p.get("epoch", p["step"]) for p in pts]
            if f"classes_covered{suffix}" in pts[0] and "in_classes" not in pts[0]:  # not for one-class runs
                ax_cov.plot(x, [p[f"classes_covered{suffix}"] for p in pts], style, color=line.get_color(), label=label)
                ax_kl.plot(x, [p[f"kl_uniform{suffix}"] for p in pts], style, color=line.get_color(), label=label)
    ax_fid.set(xlabel="training time (hours, this CPU)", ylabel="classifier-feature FID (lower is better)",
               yscale="log", title="Quality over training time")
    ax_cov.set(xlabel="epoch", ylabel="classes covered (of 10)", title="Mode coverage")
    ax_kl.set(xlabel="epoch", ylabel="KL(class histogram || uniform)", title="Class balance (lower is better)")
    for ax in (ax_fid, ax_cov, ax_kl):
        ax.grid(alpha=0.3)
    ax_fid.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.results_report", description=summary(__doc__))
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--side-by-side", metavar="NAME", help="also write NAME.png: the runs' last grids side by side")
    parser.add_argument("--grid", action="append", default=[], metavar="RUN=GRID",
                        help="in --side-by-side, show RUN's samples/GRID.png (e.g. epoch_0028) instead of its last grid")
    args = parser.parse_args(argv)
    chosen = dict(pick.partition("=")[::2] for pick in args.grid)
    if any(not run or not grid for run, grid in chosen.items()):
        raise UserError("--grid takes RUN=GRID, e.g. --grid frog-modern-10k=epoch_0028")
    missing = [r for r in args.runs if not (r / METRICS).is_file()]
    if missing:
        raise UserError(f"{missing[0]} is not a run folder (no {METRICS})")
    args.out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for run in args.runs:
        curves[run.name] = points = quality_points(run)
        print("\n".join(table(run, points)) + "\n")
        strip = grid_strip(run)
        if strip is not None:
            strip.save(args.out / f"{run.name}-grids.png")
    plot(curves, args.out / "quality.png")
    if args.side_by_side:
        side_by_side(args.runs, chosen).save(args.out / f"{args.side_by_side}.png")
    print(f"wrote {args.out / 'quality.png'} and the grid strips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
