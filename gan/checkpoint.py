"""Checkpoints: plain state dicts saved atomically, loaded with `weights_only=True`.

A checkpoint never pickles modules or code, so loading one from a stranger cannot run
code; the model is rebuilt from the `ModelSpec` stored inside it.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from core.errors import UserError
from core.files import atomic_write, fsync_dir
from core.runs import LAST
from core.spec import ModelSpec, SpecError

from .models import build_from_spec

FORMAT = "gan-workbench-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "generator", "discriminator", "step", "epoch", "model", "config")


def save(state: dict, path: str | Path) -> None:
    """Serialise to memory, then write atomically (temp file, fsync, rename, fsync folder)."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    atomic_write(path, buffer.getvalue())
    fsync_dir(Path(path).parent)


def load(path: str | Path) -> dict:
    """Load and validate a checkpoint file; every failure is a one-sentence UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is corrupt or truncated (not a PyTorch checkpoint archive)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"refusing to load {path}: it holds Python objects that could run code, "
                        "not plain weights") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path} is corrupt or truncated ({reason[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a GAN workbench checkpoint")
    if state.get("version") != VERSION:
        raise UserError(f"{path} has checkpoint version {state.get('version')}, this tool reads version {VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}")
    return state


def spec_of(state: dict) -> ModelSpec:
    """The model a loaded checkpoint holds; a malformed description is a one-sentence UserError."""
    try:
        return ModelSpec.from_dict(state["model"])
    except SpecError as exc:
        raise UserError(f"the checkpoint's model description is unusable: {exc}") from None


def build_generators(state: dict) -> tuple[nn.Module, nn.Module | None]:
    """Rebuild G (and its EMA copy, if the run kept one) from a loaded checkpoint, in eval mode."""
    spec = spec_of(state)
    try:
        generator = build_from_spec(spec)[0]
        generator.load_state_dict(state["generator"])
        ema = None
        if state.get("generator_ema") is not None:
            ema = build_from_spec(spec)[0]
            ema.load_state_dict(state["generator_ema"])
            ema.eval()
    except (KeyError, RuntimeError, ValueError) as exc:
        raise UserError(f"checkpoint weights do not fit the {spec.preset!r} model "
                        f"({str(exc).splitlines()[0]})") from None
    return generator.eval(), ema


def resolve(path: str | Path) -> Path:
    """A run folder means its `last.pt`; a file is taken as is."""
    path = Path(path)
    if path.is_dir():
        if not (path / LAST).is_file():
            raise UserError(f"{path} holds no checkpoint (last.pt); the run folders that python -m train.dcgan "
                            "makes have one")
        return path / LAST
    return path

