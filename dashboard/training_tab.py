"""The Training tab: loss and accuracy curves, quality metrics, eval.json, grids over time, a second run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.files import UnsafeFile, read_bounded
from core.images import BadImage, decode, gif_bytes, upscale
from core.formats import eval_json
from core.formats.eval_json import LOWER_IS_BETTER, REPORTED
from core.formats.metrics_jsonl import TRAINING_FIELDS
from core.runs import MAX_GRID_BYTES, Run
from dashboard.ui import every_nth, metrics_reader

BASE_METRICS = set(TRAINING_FIELDS)
PLOT_POINTS = 700  # per series: one per ~2 pixels of a wide chart; more only slowed the browser's drawing
TOOLTIP_POINTS = 200  # a chart with more rows per series gets no tooltips: Vega evaluates them for every point
# What the charts call each column (legends show these, never raw names).
LABELS = {
    "d_loss_real": "D loss on real", "d_loss_fake": "D loss on fake", "g_loss": "G loss",
    "d_acc_real": "D accuracy on real", "d_acc_fake": "D accuracy on fake",
    "fid": "FID (quick)", "kid": "KID (quick)", "classes_covered": "classes covered", "kl_uniform": "KL from uniform",
    "in_classes": "share in the run's classes", "augment_p": "augmentation probability p",
    "class_acc_real": "real images in their own class", "class_acc_fake": "fakes in the class G was asked for",
}
LOSS_TITLES = {"bce": "binary cross-entropy (nats)", "hinge": "hinge loss (D: max(0, 1 ∓ logit); G: −logit)"}
AXIS_TITLES = {"step": "training step (one batch each)", "epoch": "epoch (passes over the data)"}
COLUMN_TITLES = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
                 "classes_covered": "classes covered", "kl_uniform": "KL from uniform",
                 "in_classes": "in the run's classes", "near_copy_share": "near copies", "class_agreement": "class agreement"}


def smoothed(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    return frame.ewm(alpha=1 - alpha).mean() if alpha > 0 else frame


@st.cache_data(max_entries=32, show_spinner=False)
def _frame(path: str, root: str, offset: int, steps_per_epoch: int | None) -> pd.DataFrame | None:
    records = metrics_reader(path, root).records
    if not records:
        return None
    # loss and evaluation records of the same step are merged (last non-empty value per column)
    frame = pd.DataFrame.from_records(records).groupby("step", as_index=False).last().sort_values("step")
    frame = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *sorted(BASE_METRICS)])))  # absent -> NaN
    for column in frame.columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if steps_per_epoch:
        frame["epoch"] = frame["step"] / steps_per_epoch
    return frame


def metrics_frame(run: Run) -> pd.DataFrame | None:
    reader = metrics_reader(str(run.metrics_path), str(run.root)).update()
    if reader.problem:
        st.warning(f"{run.name}: {reader.problem}")
    if reader.bad:
        st.warning(f"{run.name}: skipped {reader.bad} unreadable line(s) in metrics.jsonl")
    return _frame(str(run.metrics_path), str(run.root), reader.offset, run.steps_per_epoch)


def plotted(frame: pd.DataFrame) -> pd.DataFrame:
    """At most PLOT_POINTS rows, evenly spaced: a chart cannot show more, and sending them costs seconds."""
    return frame.iloc[::every_nth(len(frame), PLOT_POINTS)]


def read_grid(path: Path, root: Path) -> np.ndarray | None:
    """A sample grid's RGB pixels, or None if the file is unsafe or not a sane image."""
    try:
        return decode(read_bounded(path, MAX_GRID_BYTES, root), "RGB")
    except (UnsafeFile, BadImage):
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def grids_gif(paths: tuple[str, ...], mtimes: tuple[float, ...], root: str) -> tuple[bytes | None, int]:
    """The grid PNGs (unreadable ones skipped) as one animated GIF, and its frame count; cached per file set."""
    frames = [f for f in (read_grid(Path(p), Path(root)) for p in paths) if f is not None]
    frames = [upscale(f, 480) for f in frames if f.shape == frames[-1].shape]
    return (gif_bytes(frames, duration_ms=400) if len(frames) > 1 else None), len(frames)


def label(column: str) -> str:
    base = column[:-4] if column.endswith("_ema") else column
    return LABELS.get(base, base.replace("_", " ")) + (" (EMA of G)" if column.endswith("_ema") else "")


def chart(frame: pd.DataFrame, x: str, columns: list[str], title: str, y_title: str, names=label) -> dict:
    """A line chart's Vega-Lite spec, with titled axes, readable legend labels, and an x axis that ends where the
    data ends. Written as a plain spec, not with altair, whose objects took ~100 ms per chart to build and
    validate on every rerun of this view; the marks are kept light for the browser (docs/performance.md)."""
    data = (frame[[x, *columns]].rename(columns={c: names(c) for c in columns})
            .melt(x, var_name="series", value_name="value").dropna(subset=["value"]))
    span = [float(frame[x].min()), float(frame[x].max())]
    quantitative = {"type": "quantitative"}
    spec = {"title": title, "data": {"name": "rows"}, "datasets": {"rows": data},
            # no per-point ARIA descriptions: Streamlit's CSP-safe Vega interprets them point by point
            "mark": {"type": "line", "point": len(frame) < 40, "aria": False},
            "encoding": {"x": {"field": x, **quantitative, "title": AXIS_TITLES.get(x, x),
                               "scale": {"domain": span, "nice": False}},
                         "y": {"field": "value", **quantitative, "title": y_title},
                         "color": {"field": "series", "type": "nominal", "title": None,
                                   "legend": {"orient": "bottom", "labelLimit": 400}}}}
    if len(frame) <= TOOLTIP_POINTS:
        spec["encoding"]["tooltip"] = [{"field": x, **quantitative}, {"field": "series", "type": "nominal"},
                                       {"field": "value", **quantitative}]
    return spec


def evaluation_table(run: Run) -> None:
    report, problem = eval_json.read(run.eval_path, run.root)
    if problem:
        st.warning(f"{run.name}: {problem}")
    if report is None:
        return
    st.subheader("Quality (python -m evaluation.evaluate)")
    rows = {**report["generators"], **{f"reference: {k}": v for k, v in report.get("reference", {}).items()}}
    columns = [c for c in REPORTED if any(c in r for r in rows.values())]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    table.columns = [f"{COLUMN_TITLES.get(c, c)} {'↓' if LOWER_IS_BETTER.get(c) else '↑'}"
                     for c in columns]
    st.dataframe(table, key="eval_table")
    st.caption(f"↓ lower is better, ↑ higher is better. Step {report.get('step')}, {report.get('samples')} samples; "
               f"{report.get('features', '')}: {report.get('note', '')}. The floor row (real train vs real test) is "
               "the best a generator can do here; the untrained generator is the ceiling. Its precision can read "
               "1.0: its samples sit in one tight clump that lands among real images, which is why recall (near 0) "
               "and FID must be read beside it.")
    for generator, classes in report.get("per_class", {}).items():
        per_class = pd.DataFrame.from_dict(classes, orient="index").reindex(columns=["class_agreement", "fid"])
        per_class.columns = ["class agreement ↑", "FID within the class ↓"]
        st.dataframe(per_class, key=f"per_class_{generator}")
        st.caption(f"{generator}, per class asked for: the share of its images the classifier labels as that class, "
                   "and the FID against that class's real test images.")


def line_chart(frame: pd.DataFrame, axis: str, columns: list[str], title: str, y_title: str,
               alpha: float = 0.0) -> None:
    """The rows that hold any of `columns` (training and evaluation records share the frame), smoothed when asked
    (training curves; never the evaluations, which are few), thinned to PLOT_POINTS, drawn."""
    rows = frame.dropna(subset=columns, how="all")
    if alpha:
        rows = smoothed(rows.set_index(axis)[columns], alpha).reset_index()
    st.vega_lite_chart(spec=chart(plotted(rows), axis, columns, title, y_title), width="stretch")


def training_tab(run: Run, runs: list[Run]) -> None:
    frame = metrics_frame(run)
    c1, c2 = st.columns(2)
    axis = c1.radio("x axis", ["step", "epoch"], horizontal=True, key="axis")
    alpha = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="smoothing")
    if frame is None:
        st.info(f"{run.name} has no metrics yet (metrics.jsonl is missing or empty).")
    else:
        frame = frame.dropna(subset=[axis])
        line_chart(frame, axis, ["d_loss_real", "d_loss_fake", "g_loss"], "Losses",
                   LOSS_TITLES.get(run.loss, run.loss), alpha)
        line_chart(frame, axis, ["d_acc_real", "d_acc_fake"], "D accuracy", "share of the batch D calls right", alpha)
        class_head = [c for c in ("class_acc_real", "class_acc_fake") if c in frame and frame[c].notna().any()]
        if class_head:
            line_chart(frame, axis, class_head, "D's class head (--class-loss): how often it names the class",
                       "share of the batch", alpha)
        quality = [c for c in frame.columns if c not in BASE_METRICS and frame[c].notna().any()]
        distances = [c for c in quality if c.split("_ema")[0] in ("fid", "kid")]
        if distances:
            line_chart(frame, axis, distances, "Quality during training (quick evaluation, lower is better)",
                       "classifier-feature distance")
        if "augment_p" in quality:
            line_chart(frame, axis, ["augment_p"], "Adaptive augmentation: the probability that D's inputs are "
                       "augmented (rises when D overfits the reals)", "probability per image and operation")
    evaluation_table(run)
    grids = run.grids()
    if grids:
        st.subheader("Fixed-seed samples over training")
        shown = st.slider("Grid", 1, len(grids), len(grids), key="grid_index") if len(grids) > 1 else 1
        picture = read_grid(grids[shown - 1], run.root)
        if picture is None:
            st.warning(f"{grids[shown - 1].name} is not a readable image")
        else:
            st.image(upscale(picture, 720), caption=f"{grids[shown - 1].name}: the same 64 latent vectors every time")
        if len(grids) > 1 and st.toggle(f"All {len(grids)} grids as an animation", key="grids_gif"):
            animation, count = grids_gif(tuple(map(str, grids)), tuple(g.stat().st_mtime for g in grids),
                                         str(run.root))
            if animation is not None:
                st.image(animation, caption=f"all {count} grids")
    others = [r.name for r in runs if r.name != run.name]
    compare = st.selectbox("Compare with", ["(none)", *others], key="compare")
    if compare != "(none)" and frame is not None:
        other = metrics_frame(next(r for r in runs if r.name == compare))
        if other is None or axis not in other or other[axis].isna().all():
            st.info(f"{compare} has no metrics to compare on the {axis} axis.")
        else:
            series = {}
            for name, f in ((run.name, frame), (compare, other)):
                part = smoothed(f.dropna(subset=[axis]).set_index(axis)[["g_loss", "d_loss_real"]], alpha)
                series.update({f"{name}: {LABELS[c]}": part[c] for c in part.columns})
            both = pd.DataFrame(series)
            both.index.name = axis
            both = plotted(both.reset_index())
            st.vega_lite_chart(spec=chart(both, axis, list(series), f"{run.name} and {compare}", "loss (each run's own)",
                                  names=str), width="stretch")
