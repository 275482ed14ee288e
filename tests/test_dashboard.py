import io
import json
import os
import shutil
import time
import subprocess
import sys

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from export.to_onnx import main as export_main
from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def runs_root(tiny_run, tmp_path_factory):
    """A runs folder with a good exported run, a second good one, and a broken one."""
    root = tmp_path_factory.mktemp("dash")
    shutil.copytree(tiny_run, root / "good")
    assert export_main([str(root / "good")]) == 0
    shutil.copytree(root / "good", root / "other")
    broken = root / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model": {"preset": "dcgan", "dataset": "x"}}))
    (broken / "generator.onnx").write_bytes(b"this is not an onnx file")
    (broken / "metrics.jsonl").write_text('{"step": 1, "d_loss_real": 0.5}\nnot json\n')
    os.utime(root / "good", (time.time() + 10, time.time() + 10))  # newest: selected first
    return root


def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("GAN_DASHBOARD_RUNS", str(root))
    return AppTest.from_file(APP, default_timeout=60)


def chart_frames(at):
    return [pa.ipc.open_stream(io.BytesIO(c.proto.datasets[0].data.data)).read_all().to_pandas()
            for c in at.get("vega_lite_chart")]


def test_no_runs_says_which_commands_make_one(tmp_path, monkeypatch):
    at = app(tmp_path, monkeypatch).run()
    assert not at.exception
    assert "python -m train.dcgan" in at.info[0].value and "python -m export.to_onnx" in at.info[0].value


def test_sample_tab_grid_seed_truncation_and_keep(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    assert not at.exception and not at.error
    assert at.image[0].captions[0].startswith("64 images · seed 42")
    assert "CPU" in at.sidebar.markdown[-1].value and "ms" in at.sidebar.markdown[-1].value
    at.slider(key="count").set_value(10).run()
    at.slider(key="truncation").set_value(0.5).run()
    assert at.image[0].captions[0].startswith("10 images · seed 42 · truncation 0.5")
    assert at.slider(key="count").max == 256  # bounded work per request
    at.button[0].click().run()  # "New seed"
    assert at.number_input(key="seed").value != 42
    assert any(b.label == "Download grid (PNG)" for b in at.get("download_button"))
    at.multiselect(key="to_keep").set_value([0, 3]).run()
    next(b for b in at.button if b.label == "Keep selected").click().run()
    assert [k["label"].split("#")[1] for k in at.session_state["kept"]] == ["0", "3"]


def test_interpolate_tab_strip_gif_and_kept_images(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    at.slider(key="interp_steps").set_value(5).run()
    captions = [c for img in at.image for c in img.captions]
    assert "5 steps, spherical (slerp)" in captions and "animated" in captions
    assert any(c.endswith("-frame loop") for c in captions)
    at.radio(key="interp_method").set_value("linear").run()
    assert "5 steps, linear" in [c for img in at.image for c in img.captions]
    at.radio(key="interp_source").set_value("two kept images").run()
    assert any("Keep at least two" in i.value for i in at.info)
    at.multiselect(key="to_keep").set_value([1, 2]).run()
    next(b for b in at.button if b.label == "Keep selected").click().run()
    assert not at.exception and "5 steps, linear" in [c for img in at.image for c in img.captions]


def test_arithmetic_tab(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    captions = [c for img in at.image for c in img.captions]
    assert "A − B + C (first), then with noise" in captions
    at.multiselect(key="group_b").set_value([]).run()
    assert any("group B" in w.value for w in at.warning)


def test_training_tab_charts_grids_and_comparison(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    records = [json.loads(l) for l in (runs_root / "good" / "metrics.jsonl").read_text().splitlines()]
    at.slider(key="smoothing").set_value(0.0).run()
    losses, accuracy = chart_frames(at)
    color, value = losses.columns[1], losses.columns[2]  # streamlit melts wide frames to (x, series, value)
    assert set(losses[color]) == {"d_loss_real", "d_loss_fake", "g_loss"}
    assert set(accuracy[color]) == {"d_acc_real", "d_acc_fake"}
    g_loss = losses[losses[color] == "g_loss"].sort_values("step")
    assert g_loss["step"].tolist() == [r["step"] for r in records]
    assert g_loss[value].tolist() == pytest.approx([r["g_loss"] for r in records])
    assert any(c.endswith(".png") for img in at.image for c in img.captions)  # the fixed-seed grid
    at.radio(key="axis").set_value("epoch").run()
    assert "epoch" in chart_frames(at)[0].columns
    at.selectbox(key="compare").set_value("other").run()
    compared = chart_frames(at)[2]
    assert set(compared[compared.columns[1]]) == {"good g_loss", "good d_loss_real", "other g_loss", "other d_loss_real"}


def test_training_tab_shows_evaluation_table(runs_root, monkeypatch):
    report = {"step": 12, "samples": 200, "note": "classifier features",
              "generators": {"generator": {"fid": 12.5, "kid": 0.1, "precision": 0.5, "recall": 0.4,
                                           "classes_covered": 9, "kl_uniform": 0.2}},
              "reference": {"real_train_vs_test": {"fid": 0.5, "kid": 0.0, "precision": 0.9, "recall": 0.9,
                                                    "classes_covered": 10, "kl_uniform": 0.01}}}
    (runs_root / "other" / "eval.json").write_text(json.dumps(report))
    at = app(runs_root, monkeypatch).run()
    at.sidebar.selectbox[0].set_value("other").run()
    table = at.dataframe[0].value
    assert list(table.index) == ["generator", "reference: real_train_vs_test"]
    assert table.loc["generator", "fid"] == 12.5 and table.loc["reference: real_train_vs_test", "classes_covered"] == 10
    (runs_root / "other" / "eval.json").write_text("{broken")
    at.run()
    assert any("eval.json is unreadable" in w.value for w in at.warning) and not at.exception
    (runs_root / "other" / "eval.json").unlink()


def test_broken_run_shows_messages_and_page_keeps_working(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    at.sidebar.selectbox[0].set_value("broken").run()
    assert not at.exception
    assert any("generator.onnx" in e.value for e in at.sidebar.error)
    assert any("skipped 1 unreadable line" in w.value for w in at.warning)
    assert any("no usable ONNX generator" in e.value for e in at.error)
    at.sidebar.selectbox[0].set_value("good").run()
    assert not at.exception and at.image[0].captions[0].startswith("64 images")


def test_path_traversal_in_query_is_refused(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch)
    at.query_params["run"] = "../" + runs_root.name
    at.run()
    assert any("Refused run name" in e.value for e in at.sidebar.error)
    assert not at.exception


def test_dashboard_process_never_imports_torch(runs_root):
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); "
            "assert not at.exception, at.exception; assert len(at.image) > 3; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={"GAN_DASHBOARD_RUNS": str(runs_root), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
