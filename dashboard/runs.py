"""Finding and reading run folders, for the dashboard. No torch, and nothing outside the root.

Every reader returns a value or a short message; a broken run never raises into the page.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_METRIC_LINES = 1_000_000


@dataclass
class Run:
    name: str
    path: Path
    config: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    models: dict[str, Path] = field(default_factory=dict)  # "generator", "generator_ema", … -> .onnx

    @property
    def preset(self) -> str:
        return self.config.get("model", {}).get("preset", "?")

    @property
    def dataset(self) -> str:
        return self.config.get("model", {}).get("dataset", "?")

    @property
    def created(self) -> str:
        return self.config.get("created", datetime.fromtimestamp(self.path.stat().st_mtime).isoformat(timespec="seconds"))

    def label(self) -> str:
        epochs = self.config.get("train", {}).get("epochs", "?")
        return f"{self.name} — {self.preset} on {self.dataset}, {epochs} ep, {self.created[:16].replace('T', ' ')}"


def safe_child(root: Path, name: str) -> Path | None:
    """The folder `root/name` if `name` is a plain name that stays inside root, else None."""
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        return None
    root = root.resolve()
    path = (root / name).resolve()
    return path if path.parent == root and path.is_dir() else None


def discover(root: str | Path) -> list[Run]:
    """Run folders directly under root that hold a config.json or an ONNX generator, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for child in sorted(root.iterdir()):
        path = safe_child(root, child.name)
        if path is None or not ((path / "config.json").exists() or any(path.glob("generator*.onnx"))):
            continue
        run = Run(child.name, path)
        try:
            run.config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            if not isinstance(run.config, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            run.problems.append("config.json is missing")
        except (ValueError, OSError) as exc:
            run.problems.append(f"config.json is unreadable ({exc})")
            run.config = {}
        run.models = {p.stem: p for p in sorted(path.glob("generator*.onnx"))}
        if not run.models:
            run.problems.append(f"no ONNX generator yet: run python -m export.to_onnx {path}")
        runs.append(run)
    return sorted(runs, key=lambda r: r.path.stat().st_mtime, reverse=True)


def load_metrics(path: Path) -> tuple[list[dict], int]:
    """Records of metrics.jsonl and the number of lines that were not valid records."""
    records, bad = [], 0
    try:
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= MAX_METRIC_LINES:
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
                    records.append(record)
                else:
                    bad += 1
    except FileNotFoundError:
        return [], 0
    except (OSError, UnicodeDecodeError):
        return records, bad + 1
    return records, bad


def sample_grids(run: Run) -> list[Path]:
    """The fixed-latent grids of raw G in training order: per epoch, or per step for runs shorter than one."""
    samples = run.path / "samples"
    return sorted(samples.glob("epoch_*.png")) or sorted(samples.glob("step_*.png"))


def load_eval(run: Run) -> tuple[dict | None, str | None]:
    """The run's eval.json (from python -m train.evaluate) and a problem message, if any."""
    path = run.path / "eval.json"
    if not path.is_file():
        return None, None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(report, dict) or not isinstance(report.get("generators"), dict):
            raise ValueError("no generators section")
        return report, None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        return None, f"eval.json is unreadable ({exc})"
