"""Summarise the remedies experiment (docs/remedies.sh): a markdown table and a FID-vs-step plot.

    python -m benchmarks.remedies_report checkpoints/remedies [--plot docs/remedies-fid.png]

Reads each run's eval.json (final metrics, 5,000 samples) and metrics.jsonl (the quick
2,000-sample FID logged during training); runs are grouped by name without the -s<seed> suffix.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

from core.errors import summary
from core.formats.eval_json import QUALITY_METRICS as COLUMNS


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.mean(values):.3g} ± {statistics.stdev(values):.2g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.remedies_report", description=summary(__doc__))
    parser.add_argument("root", type=Path)
    parser.add_argument("--plot", type=Path, default=Path("docs/remedies-fid.png"))
    args = parser.parse_args(argv)
    finals: dict[str, list[dict]] = defaultdict(list)
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in sorted(p for p in args.root.iterdir() if (p / "eval.json").is_file()):
        group = re.sub(r"-s\d+$", "", run.name)
        report = json.loads((run / "eval.json").read_text())
        has_ema = "generator_ema" in report["generators"]
        for kind, row in report["generators"].items():
            label = " (EMA of G)" if kind == "generator_ema" else (" (raw G)" if has_ema else "")
            finals[group + label].append(row)
        for line in (run / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            if "fid" in record:  # the raw G of an EMA run is the plain recipe: EMA never feeds back into training
                curves[group + (" (raw G)" if "fid_ema" in record else "")][record["step"]].append(record["fid"])
            if "fid_ema" in record:
                curves[group + " (EMA of G)"][record["step"]].append(record["fid_ema"])
    seeds = {name: len(rows) for name, rows in finals.items()}
    print("| remedy | seeds | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for name, rows in finals.items():
        print(f"| {name} | {seeds[name]} | " + " | ".join(mean_std([r[c] for r in rows]) for c in COLUMNS) + " |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, by_step in curves.items():
        steps = sorted(by_step)
        ax.plot(steps, [statistics.mean(by_step[s]) for s in steps], marker="o", label=name,
                linestyle="--" if "EMA" in name else "-")
    ax.set_xlabel("training step (batch 32)")
    ax.set_ylabel("classifier-feature FID (2,000 samples), mean over seeds")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
