"""The sidebar's glance at the open run's training: its quick FID over training where it was measured, else its
G and D losses.

It is drawn after the open view, so it never delays that view's images. Showing a chart also means the browser
has loaded Streamlit's chart library before the Training view is opened, which makes opening that view about half
a second faster (docs/performance.md). Loading that library is itself seconds of the browser's work on a slow CPU,
and it held back the first page's images there (by ~2 s on a simulated AVX2-only machine), so on a session's
first page the chart waits until GLANCE_DELAY_S after the page is drawn.
"""
from __future__ import annotations

import streamlit as st

from core.formats.config_json import finite
from core.formats.metrics_jsonl import MetricsReader
from core.runs import Run
from dashboard.ui import every_nth, metrics_reader

GLANCE_POINTS = 200  # per series: the sidebar is ~300 px wide
GLANCE_DELAY_S = 1.0


def glance_series(reader: MetricsReader) -> tuple[str, list[dict]] | None:
    """(title, rows of step/series/value) for the glance chart, or None when the run has too little to draw."""
    quality = [r for r in reader.quality if finite(r.get("fid")) or finite(r.get("fid_ema"))]
    if len(quality) >= 2:
        title, records, columns = "FID (quick), lower is better", quality, {"fid": "G",
                                                                                               "fid_ema": "EMA of G"}
    else:
        title, records, columns = "Losses during training", reader.training, {"g_loss": "G", "d_loss_real": "D on real"}
    records = records[::every_nth(len(records), GLANCE_POINTS)]
    rows = [{"step": r["step"], "series": name, "value": r[column]}
            for r in records for column, name in columns.items() if finite(r.get(column))]
    return (title, rows) if len({row["step"] for row in rows}) >= 2 else None


def glance(run: Run, slot) -> None:
    """Fill the sidebar `slot` with the run's glance chart (nothing when it has no metrics to draw)."""
    found = glance_series(metrics_reader(str(run.metrics_path), str(run.root)).update())
    if found is None:
        return
    title, rows = found
    # The width fits the sidebar; the height is the plot's own (fitting the whole chart, title, axis and legend,
    # into it left the plot no height at all).
    spec = {"title": {"text": title, "fontSize": 12}, "height": 110, "autosize": {"type": "fit-x", "contains": "padding"},
            "data": {"values": rows}, "mark": "line",
            "encoding": {"x": {"field": "step", "type": "quantitative", "title": "step"},
                         "y": {"field": "value", "type": "quantitative", "title": None, "scale": {"zero": False}},
                         "color": {"field": "series", "type": "nominal",
                                   "legend": {"orient": "bottom", "title": None}}}}
    slot.vega_lite_chart(spec=spec, width="stretch")


def glance_after_first_paint(run: Run, slot) -> None:
    """`glance`, except on a session's first run: then a one-shot fragment timer asks for one more run of the page
    GLANCE_DELAY_S later (everything cached by then), which draws the chart."""
    if st.session_state.get("glance") is not None:
        st.session_state["glance"] = "shown"
        glance(run, slot)
        return
    st.session_state["glance"] = "waiting"
    st.session_state["glance_full_run"] = True

    @st.fragment(run_every=GLANCE_DELAY_S)
    def wake() -> None:
        if st.session_state.pop("glance_full_run", False):
            return  # the page's own run: wait for the timer
        if st.session_state.get("glance") == "waiting":
            st.rerun(scope="app")  # that run draws the chart, and calls no timer again

    with st.sidebar:
        wake()
