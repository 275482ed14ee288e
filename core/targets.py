"""Which run a command means: one resolution of a command-line target for every command.

A user may name a run folder, a checkpoint inside it, an exported model, or nothing (the newest
run); `train.dcgan --resume`, `export.to_onnx`, `inference.generate` and `evaluation.evaluate` all call
`locate`, so they accept the same things and word the same errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .runs import LAST


def runs_with_checkpoints(root: Path) -> list[Path]:
    return [p.parent for p in root.glob(f"*/{LAST}")] if root.is_dir() else []


def newest_run(root: Path) -> Path | None:
    """The run folder under root whose last.pt was written last, or None."""
    runs = runs_with_checkpoints(Path(root))
    return max(runs, key=lambda p: (p / LAST).stat().st_mtime) if runs else None


@dataclass
class Target:
    """What a command-line argument named: a run folder and, in it or elsewhere, a checkpoint or a model."""

    run_dir: Path
    checkpoint: Path | None = None
    onnx: Path | None = None


def locate(target: str | None, root: Path, accept: tuple[str, ...] = ("checkpoint",), command: str = "this command",
           want: str | None = None, want_flag: str = "") -> Target:
    """Resolve a CLI argument the same way in every command: a run folder, a checkpoint (.pt), an exported
    model (.onnx, where `accept` allows it), or nothing / 'latest' for the newest run under root.

    In a run folder, `want` names the exported generator asked for (by `want_flag`, e.g. generator_ema.onnx
    for --ema); without it, the raw G, or else the run's only exported generator (a run
    folder may hold only its EMA, e.g. exported in fp16 alone to fit a size budget)."""
    root = Path(root)
    wanted = ["a run folder (e.g. checkpoints/<run>)", "a checkpoint (.pt)"] + \
        (["an exported model (.onnx)"] if "onnx" in accept else [])
    if target in (None, "", "latest"):
        run = newest_run(root)
        if run is None:
            raise UserError(f"no runs found under {root}/; train one first with: python -m train.dcgan")
        return locate(str(run), root, accept, command, want, want_flag)
    path = Path(target)
    if not path.exists():
        raise UserError(f"{path} does not exist; {command} takes {', '.join(wanted[:-1])} or {wanted[-1]}, "
                        f"or nothing for the newest run under {root}/")
    if path.is_dir():
        return _in_folder(path, accept, command, want, want_flag)
    if path.suffix.lower() == ".onnx":
        if "onnx" not in accept:
            raise UserError(f"{path} is an exported ONNX model; {command} needs {' or '.join(wanted)}: "
                            f"try {path.parent}")
        return Target(path.parent, onnx=path)
    if "checkpoint" not in accept:
        raise UserError(f"{path} is not an exported model (.onnx); {command} needs {' or '.join(wanted)}")
    return Target(path.parent, checkpoint=path)


def _in_folder(path: Path, accept: tuple[str, ...], command: str, want: str | None, want_flag: str) -> Target:
    trained = (path / LAST).is_file()
    if trained and "checkpoint" in accept:
        return Target(path, checkpoint=path / LAST)
    found = exported_generators(path)
    if "onnx" in accept:
        model = exported_model(path, want or "generator.onnx")
        if model is None and want is None and len(found) == 1:
            model = next(iter(found.values()))  # one generator exported: that is the one meant
        if model is not None:
            return Target(path, onnx=model)
        if want and found:
            raise UserError(f"{path} has no {want} (asked for by {want_flag}); it holds "
                            f"{', '.join(p.name for p in found.values())}: leave out {want_flag}")
        if trained:
            raise UserError(f"{path} is trained but not exported yet: run python -m export.to_onnx {path}, "
                            f"then {command} again")
    raise UserError(f"{path} holds no checkpoint (last.pt){' and no exported generator' if 'onnx' in accept else ''}"
                    "; the run folders that python -m train.dcgan makes have them")


def exported_generators(run: Path) -> dict[str, Path]:
    """The exported generators of a run by kind ("generator", "generator_ema"), whatever their variant."""
    return {kind: model for kind in ("generator", "generator_ema")
            if (model := exported_model(run, f"{kind}.onnx")) is not None}


def exported_model(run: Path, onnx_name: str = "generator.onnx") -> Path | None:
    """`onnx_name` in a run folder, or else its variant from `--fp16` or `--output-range 0-255`
    (generator_fp16.onnx, generator_u8.onnx, …; for generator_ema.onnx: generator_fp16_ema.onnx, …)."""
    stem = Path(onnx_name).stem
    base, ema = (stem[:-4], "_ema") if stem.endswith("_ema") else (stem, "")
    for variant in ("", "_fp16", "_u8", "_fp16_u8"):
        if (run / f"{base}{variant}{ema}.onnx").is_file():
            return run / f"{base}{variant}{ema}.onnx"
    return None


def best_exported(run: Path) -> Path | None:
    """The run's exported generator with the lowest FID in its eval.json (the EMA of G where unmeasured, being
    the smoother one), or None: what a page or the dashboard shows first."""
    from .formats import eval_json

    found = exported_generators(run)
    if not found:
        return None
    fid = eval_json.fids(eval_json.read(run / eval_json.EVAL, run)[0])
    return found[min(found, key=lambda kind: (fid.get(kind, float("inf")), kind != "generator_ema"))]
