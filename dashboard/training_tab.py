"""The Training tab: loss and accuracy curves, quality metrics, eval.json, grids over time, a second run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.files import UnsafeFile, read_bounded
from core.images import BadImage, decode, gif_bytes
from core.runs import MAX_GRID_BYTES, QUALITY_METRICS, TRAINING_FIELDS, Run, read_eval, read_metrics

BASE_METRICS = set(TRAINING_FIELDS)


def smoothed(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    return frame.ewm(alpha=1 - alpha).mean() if alpha > 0 else frame


def metrics_frame(run: Run) -> pd.DataFrame | None:
    records, bad, problem = read_metrics(run.metrics_path, run.root)
    if problem:
        st.warning(f"{run.name}: {problem}")
    if bad:
        st.warning(f"{run.name}: skipped {bad} unreadable line(s) in metrics.jsonl")
    if not records:
        return None
    # loss and evaluation records of the same step are merged (last non-empty value per column)
    frame = pd.DataFrame.from_records(records).groupby("step", as_index=False).last().sort_values("step")
    frame = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *sorted(BASE_METRICS)])))  # absent -> NaN
    for column in frame.columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if run.steps_per_epoch:
        frame["epoch"] = frame["step"] / run.steps_per_epoch
    return frame


def read_grid(path: Path, root: Path) -> np.ndarray | None:
    """A sample grid's RGB pixels, or None if the file is unsafe or not a sane image."""
    try:
        return decode(read_bounded(path, MAX_GRID_BYTES, root), "RGB")
    except (UnsafeFile, BadImage):
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def grid_frames(paths: tuple[str, ...], root: str) -> list[np.ndarray]:
    """The grid PNGs as RGB arrays (unreadable ones skipped), for the progress GIF."""
    frames = [f for f in (read_grid(Path(p), Path(root)) for p in paths) if f is not None]
    return [f for f in frames if f.shape == frames[-1].shape]


def evaluation_table(run: Run) -> None:
    report, problem = read_eval(run.eval_path, run.root)
    if problem:
        st.warning(f"{run.name}: {problem}")
    if report is None:
        return
    st.subheader("Quality (python -m train.evaluate)")
    rows = {**report["generators"], **{f"reference: {k}": v for k, v in report.get("reference", {}).items()}}
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(QUALITY_METRICS))
    st.dataframe(table, key="eval_table")
    st.caption(f"step {report.get('step')}, {report.get('samples')} samples; {report.get('note', '')}")


def training_tab(run: Run, runs: list[Run]) -> None:
    frame = metrics_frame(run)
    if frame is None:
        st.info(f"{run.name} has no metrics yet (metrics.jsonl is missing or empty).")
    else:
        c1, c2 = st.columns(2)
        axis = c1.radio("x axis", ["step", "epoch"], horizontal=True, key="axis")
        alpha = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="smoothing")
        indexed = frame.dropna(subset=[axis]).set_index(axis)
        st.subheader("Losses")
        st.line_chart(smoothed(indexed[["d_loss_real", "d_loss_fake", "g_loss"]], alpha))
        st.subheader("D accuracy")
        st.line_chart(smoothed(indexed[["d_acc_real", "d_acc_fake"]], alpha))
        quality = [c for c in indexed.columns if c not in BASE_METRICS and indexed[c].notna().any()]
        if quality:
            st.subheader("Quality metrics")
            st.line_chart(indexed[quality].dropna(how="all"))
    evaluation_table(run)
    grids = run.grids()
    if grids:
        st.subheader("Fixed-seed samples over training")
        shown = st.slider("Grid", 1, len(grids), len(grids), key="grid_index") if len(grids) > 1 else 1
        picture = read_grid(grids[shown - 1], run.root)
        if picture is None:
            st.warning(f"{grids[shown - 1].name} is not a readable image")
        else:
            st.image(picture, caption=grids[shown - 1].name)
        frames = grid_frames(tuple(map(str, grids)), str(run.root))
        if len(frames) > 1:
            st.image(gif_bytes(frames, duration_ms=400), caption=f"all {len(frames)} grids")
    others = [r.name for r in runs if r.name != run.name]
    compare = st.selectbox("Compare with", ["(none)", *others], key="compare")
    if compare != "(none)" and frame is not None:
        other = metrics_frame(next(r for r in runs if r.name == compare))
        if other is None:
            st.info(f"{compare} has no metrics to compare.")
        else:
            both = pd.concat({run.name: frame.set_index("step")[["g_loss", "d_loss_real"]],
                              compare: other.set_index("step")[["g_loss", "d_loss_real"]]}, axis=1)
            both.columns = [f"{r} {m}" for r, m in both.columns]
            st.line_chart(smoothed(both, 0.6))
