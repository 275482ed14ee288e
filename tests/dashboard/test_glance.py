"""The sidebar's glance chart: which series it draws from a metrics.jsonl (the page showing it: test_app.py)."""
import json

from core.formats.metrics_jsonl import MetricsReader
from dashboard.glance import GLANCE_POINTS, glance_series


def reader_of(tmp_path, records) -> MetricsReader:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return MetricsReader(path).update()


def losses(step, g=1.0):
    return {"step": step, "d_loss_real": 0.5, "d_loss_fake": 0.4, "d_acc_real": 0.6, "d_acc_fake": 0.7, "g_loss": g}


def test_the_quick_fid_is_drawn_where_it_was_measured_twice(tmp_path):
    records = [losses(s) for s in range(1, 100)] + [{"step": 50, "fid": 90.0, "fid_ema": 95.0},
                                                     {"step": 99, "fid": 60.0, "fid_ema": float("nan")}]
    title, rows = glance_series(reader_of(tmp_path, records))
    assert title.startswith("FID")
    assert sorted((r["step"], r["series"], r["value"]) for r in rows) == [
        (50, "EMA of G", 95.0), (50, "G", 90.0), (99, "G", 60.0)], "a NaN is left out, not drawn as 0"


def test_losses_are_drawn_without_a_quality_curve_and_thinned(tmp_path):
    records = [losses(s, g=s / 1000) for s in range(1, 5001)] + [{"step": 5000, "fid": 70.0}]
    title, rows = glance_series(reader_of(tmp_path, records))
    assert title.startswith("Losses")
    assert {r["series"] for r in rows} == {"G", "D on real"}
    steps = sorted({r["step"] for r in rows})
    assert 100 < len(steps) <= GLANCE_POINTS and steps[0] == 1 and steps[-1] > 4900, "evenly thinned, end to end"


def test_too_little_to_draw_is_nothing(tmp_path):
    assert glance_series(reader_of(tmp_path, [losses(1)])) is None
    assert glance_series(reader_of(tmp_path, [])) is None
