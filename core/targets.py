"""Which run a command means: one resolution of a command-line target for every command.

A user may name a run folder, a checkpoint inside it, an exported model, or nothing (the newest
run); `train.dcgan --resume`, `export.to_onnx`, `export.generate` and `train.evaluate` all call
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
           onnx_name: str = "generator.onnx") -> Target:
    """Resolve a CLI argument the same way in every command: a run folder, a checkpoint (.pt), an exported
    model (.onnx, where `accept` allows it), or nothing / 'latest' for the newest run under root."""
    root = Path(root)
    wanted = ["a run folder (e.g. checkpoints/<run>)", "a checkpoint (.pt)"] + \
        (["an exported model (.onnx)"] if "onnx" in accept else [])
    if target in (None, "", "latest"):
        run = newest_run(root)
        if run is None:
            raise UserError(f"no runs found under {root}/; train one first with: python -m train.dcgan")
        return locate(str(run), root, accept, command, onnx_name)
    path = Path(target)
    if not path.exists():
        raise UserError(f"{path} does not exist; {command} takes {', '.join(wanted[:-1])} or {wanted[-1]}, "
                        f"or nothing for the newest run under {root}/")
    if path.is_dir():
        if (path / LAST).is_file() and "checkpoint" in accept:
            return Target(path, checkpoint=path / LAST)
        if "onnx" in accept:
            model = exported_model(path, onnx_name)
            if model is not None:
                return Target(path, onnx=model)
        what = "no last.pt" + (f" and no {onnx_name}" if "onnx" in accept else "")
        ema = exported_model(path, "generator_ema.onnx") if "onnx" in accept and onnx_name != "generator_ema.onnx" \
            else None
        if ema is not None:  # the run exported only the EMA of G (as pretrained/frog-modern-2000 ships)
            raise UserError(f"{path} holds {what}, only the EMA of G: pass {ema}, or --ema where {command} has it")
        raise UserError(f"{path} holds {what}; is it a run folder made by python -m train.dcgan?")
    if path.suffix.lower() == ".onnx":
        if "onnx" not in accept:
            raise UserError(f"{path} is an exported ONNX model; {command} needs {' or '.join(wanted)}: "
                            f"try {path.parent}")
        return Target(path.parent, onnx=path)
    if "checkpoint" not in accept:
        raise UserError(f"{path} is not an exported model (.onnx); {command} needs {' or '.join(wanted)}")
    return Target(path.parent, checkpoint=path)


def exported_model(run: Path, onnx_name: str = "generator.onnx") -> Path | None:
    """`onnx_name` in a run folder, or else its variant from `--fp16` or `--output-range 0-255`
    (generator_fp16.onnx, generator_u8.onnx, …; for generator_ema.onnx: generator_fp16_ema.onnx, …)."""
    stem = Path(onnx_name).stem
    base, ema = (stem[:-4], "_ema") if stem.endswith("_ema") else (stem, "")
    for variant in ("", "_fp16", "_u8", "_fp16_u8"):
        if (run / f"{base}{variant}{ema}.onnx").is_file():
            return run / f"{base}{variant}{ema}.onnx"
    return None
