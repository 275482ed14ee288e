"""eval.json and quality_curve.jsonl: what `python -m evaluation.evaluate` measured.

eval.json (format_version 1; files from before the key existed read the same):
    {"format_version": 1, "run", "checkpoint", "step", "epoch", "samples", "features" (the feature space, named),
     "note", "near_copies" (what the share means),
     "generators": {name: {"fid", "kid", "precision", "recall", "classes_covered", "kl_uniform", ["in_classes"],
                           "near_copy_share", "near_copy_threshold", "class_histogram": [..]}},
     "reference": {"real_train_vs_test": {...}, "untrained_generator": {...}},
     ["per_class": {generator: {class name: {"fid", "class_agreement"}}] (conditional models)}
quality_curve.jsonl: one line per kept checkpoint, {"step", "epoch", "time", "fid", …, "fid_ema", …}; lines written
    since 2026-12 also say what scored them ("samples", "features") and which file ("checkpoint_stamp": size and
    mtime), so that a later --curve scores only new checkpoints. Older lines lack them and are scored again.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write, file_part
from .config_json import finite
from .json_file import read_json

EVAL, CURVE = "eval.json", "quality_curve.jsonl"
VERSION = 1
# What the evaluation reports per generator, and which way is better.
QUALITY_METRICS = ("fid", "kid", "precision", "recall", "classes_covered", "kl_uniform")
MEMORISATION_METRICS = ("in_classes", "near_copy_share")  # in_classes: runs on some classes of a dataset
CONDITIONAL_METRICS = ("class_agreement",)  # a conditional model's images classified as the class asked for
REPORTED = QUALITY_METRICS + MEMORISATION_METRICS + CONDITIONAL_METRICS
LOWER_IS_BETTER = {"fid": True, "kid": True, "precision": False, "recall": False, "classes_covered": False,
                   "kl_uniform": True, "in_classes": False, "near_copy_share": True, "class_agreement": False}
TEXT_FIELDS, NUMBER_FIELDS = ("features", "note", "run", "checkpoint"), ("step", "epoch", "samples")


def class_file(class_name: str) -> str:
    """Where `evaluate --class NAME` reports one class of a conditional model, beside the run's eval.json."""
    return f"eval-{file_part(class_name)}.json"


def write(run_dir: Path, report: dict, name: str = EVAL) -> None:
    atomic_write(Path(run_dir) / name, (json.dumps({"format_version": VERSION, **report}, indent=2) + "\n").encode())


def read(path: Path, root: Path | None = None) -> tuple[dict | None, str | None]:
    """The report with only well-typed rows: {"generators": {name: {metric: number}}, "reference": …, …}."""
    report, problem = read_json(path, root)
    if report is None:
        return None, problem
    sections = {}
    for section in ("generators", "reference"):
        rows = report.get(section, {})
        if not isinstance(rows, dict):
            return None, f"{path.name}: {section} is not a table"
        sections[section] = {str(name)[:100]: {k: v for k, v in row.items() if k in REPORTED and finite(v)}
                             for name, row in rows.items() if isinstance(row, dict)}
    if not sections["generators"]:
        return None, f"{path.name} has no generators section"
    text = {k: str(report[k])[:300] for k in TEXT_FIELDS if k in report}
    numbers = {k: report[k] for k in NUMBER_FIELDS if finite(report.get(k))}
    per_class = report.get("per_class") if isinstance(report.get("per_class"), dict) else {}
    per_class = {str(g)[:100]: {str(c)[:100]: {k: v for k, v in row.items() if k in ("fid", *CONDITIONAL_METRICS)
                                               and finite(v)}
                                for c, row in list(rows.items())[:1000] if isinstance(row, dict)}
                 for g, rows in per_class.items() if isinstance(rows, dict)}
    return {**text, **numbers, **sections, **({"per_class": per_class} if per_class else {})}, None


def fids(report: dict | None) -> dict[str, float]:
    """Each generator's FID in a report read by `read`, where it was measured: how the best one is chosen."""
    return {kind: row["fid"] for kind, row in (report or {}).get("generators", {}).items() if "fid" in row}


def read_curve(run_dir: Path) -> list[dict]:
    """The whole lines of a run's quality_curve.jsonl that have a step, oldest first; [] where there is none.
    (metrics_jsonl's reader keeps numbers only, and these lines also name what scored them.)"""
    path = Path(run_dir) / CURVE
    lines = []
    if path.is_file():
        for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue  # a torn or edited line: scored again
            if isinstance(line, dict) and isinstance(line.get("step"), int):
                lines.append(line)
    return sorted(lines, key=lambda line: line["step"])


def write_curve(run_dir: Path, lines: list[dict]) -> Path:
    path = Path(run_dir) / CURVE
    atomic_write(path, "".join(json.dumps(line) + "\n" for line in lines).encode())
    return path
