import io
import json
import os
import shutil
import time
import subprocess
import sys

import numpy as np
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
    assert {"Download grid, enlarged (PNG)", "Download grid, native size (PNG)"} <= {b.label for b in at.get("download_button")}
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
    assert set(losses["series"]) == {"D loss on real", "D loss on fake", "G loss"}
    assert set(accuracy["series"]) == {"D accuracy on real", "D accuracy on fake"}
    g_loss = losses[losses["series"] == "G loss"].sort_values("step")
    assert g_loss["step"].tolist() == [r["step"] for r in records]
    assert g_loss["value"].tolist() == pytest.approx([r["g_loss"] for r in records])
    assert any(".png: the same 64 latent vectors" in c for img in at.image for c in img.captions)
    at.radio(key="axis").set_value("epoch").run()
    assert "epoch" in chart_frames(at)[0].columns
    at.selectbox(key="compare").set_value("other").run()
    compared = chart_frames(at)[2]
    assert "epoch" in compared.columns, "the comparison follows the x-axis choice"
    assert set(compared["series"]) == {"good: G loss", "good: D loss on real", "other: G loss",
                                       "other: D loss on real"}


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
    assert table.loc["generator", "FID ↓"] == 12.5 and table.loc["reference: real_train_vs_test", "classes covered ↑"] == 10
    assert any("lower is better" in c.value and "precision can read 1.0" in c.value for c in at.caption)
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


def test_new_seed_logs_no_session_state_warning(runs_root, monkeypatch, caplog):
    at = app(runs_root, monkeypatch).run()
    next(b for b in at.button if b.label == "New seed").click().run()
    assert at.number_input(key="seed").value != 42 and not at.exception
    assert not [r for r in caplog.records if "Session State API" in r.getMessage()]


def test_long_interpolations_wrap_and_arithmetic_opens_on_one_class_per_group(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    at.slider(key="interp_steps").set_value(64).run()
    assert "64 steps, spherical (slerp), 4 rows of 16, read left to right" in [c for i in at.image for c in i.captions]
    # the tiny run's G is barely trained: the classifier sees one class, and the tab says so
    assert any("classifier finds only" in i.value for i in at.info)
    groups = [at.multiselect(key=f"group_{k}").value for k in "abc"]
    assert all(len(g) == 3 for g in groups) and not set(groups[0]) & set(groups[1])


def test_class_groups_take_the_three_commonest_classes():
    from dashboard.generate_tabs import class_groups

    labels = np.array([2, 2, 5, 2, 5, 7, 7, 7, 7, 1])
    assert class_groups(labels, tuple("abcdefghij")) == [("h", [5, 6, 7]), ("c", [0, 1, 3]), ("f", [2, 4])]


def test_shipped_generators_are_listed_beside_the_users_runs(runs_root, monkeypatch, tmp_path):
    shipped = tmp_path / "pretrained"
    shutil.copytree(runs_root / "good", shipped / "dcgan-book")
    monkeypatch.setenv("GAN_DASHBOARD_PRETRAINED", str(shipped))
    at = app(runs_root, monkeypatch)
    at.query_params["run"] = "pretrained/dcgan-book"
    at.run()
    assert not at.exception and at.sidebar.selectbox[0].value == "pretrained/dcgan-book"
    assert "pretrained/dcgan-book" in at.sidebar.selectbox[0].options and "good" in at.sidebar.selectbox[0].options


def test_directions_tab_combines_and_sweeps_directions(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    assert not at.exception
    captions = [c for i in at.image for c in i.captions]
    assert "seed 0, then moved along the chosen directions" in captions
    assert any(": strengths -4 … +4 left to right (" in c for c in captions)
    chosen = at.multiselect(key="dir_chosen").value
    assert chosen and all(n.startswith(("sefa", "ganspace", "towards")) for n in chosen)
    at.slider(key=f"dir_s_{chosen[0]}").set_value(2.0).run()
    at.button(key="dir_keep").click().run()
    assert at.session_state["kept"][-1]["label"] == "seed 0 moved" and not at.exception


def test_a_stale_explore_file_is_refused(runs_root, monkeypatch, tmp_path):
    stale = tmp_path / "runs"
    shutil.copytree(runs_root / "good", stale / "stale")
    npz = stale / "stale" / "generator.explore.npz"
    npz.write_bytes(npz.read_bytes() + b"\0")  # any change: the model's recorded checksum no longer fits
    at = app(stale, monkeypatch).run()
    assert not at.exception
    assert any("does not belong to generator.onnx" in i.value for i in at.info)


def test_project_tab_finds_a_latent_for_a_test_image_and_keeps_it(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    at.radio(key="proj_src").set_value("a test image of this run's data").run()
    at.number_input(key="proj_index").set_value(3).run()
    at.button(key="proj_go").click().run()
    assert not at.exception
    assert any(m.value.startswith("Distance **") for m in at.markdown)
    assert "test image 3 (left) and G's nearest image (right)" in [c for i in at.image for c in i.captions]
    at.button(key="proj_keep").click().run()
    assert at.session_state["kept"][-1]["label"] == "projected test image 3"


def test_memorisation_tab_pairs_samples_with_nearest_training_images(runs_root, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs_root / "good", root / "mem")
    images = np.zeros((4, 28, 28, 1), np.uint8)
    np.savez(root / "mem" / "nearest.npz", **{"generator/samples": images, "generator/neighbours": images,
                                              "generator/distances": np.array([0.1, 2.0, 3.0, 0.2], np.float32),
                                              "generator/threshold": np.array(0.5)})
    at = app(root, monkeypatch).run()
    assert not at.exception
    assert any("counts as a near-copy: 2 of 4 here" in c.value for c in at.caption)
    (root / "mem" / "nearest.npz").write_bytes(b"PK broken")
    at.run()
    assert not at.exception and any("nearest.npz is unreadable" in w.value for w in at.warning)


def test_modern_run_shows_its_augmentation_probability_and_hinge_loss(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "good", tmp_path / "modern")
    config_path = tmp_path / "modern" / "config.json"
    config = json.loads(config_path.read_text())
    config["train"].update(recipe="modern", loss="hinge")
    config_path.write_text(json.dumps(config))
    metrics = tmp_path / "modern" / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    for i, record in enumerate(records):
        record["augment_p"] = 0.1 * i
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    at = app(tmp_path, monkeypatch).run()
    at.slider(key="smoothing").set_value(0.0).run()
    assert not at.exception
    assert any("modern recipe" in c.value for c in at.sidebar.caption)
    frames = chart_frames(at)
    probability = next(f for f in frames if set(f["series"]) == {"augmentation probability p"})
    assert probability.sort_values("step")["value"].tolist() == pytest.approx([0.1 * i for i in range(len(records))])
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert "hinge loss" in json.dumps(specs[0]) and "binary cross-entropy" not in json.dumps(specs[0])
