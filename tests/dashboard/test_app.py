"""dashboard/app.py rendered by Streamlit's AppTest on run folders made without torch (tests/synthetic.py)."""
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.training_tab import PLOT_POINTS
from tests import synthetic
from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """A runs folder with a good exported run, a second good one, and a broken one."""
    root = tmp_path_factory.mktemp("dash")
    synthetic.run_folder(root, "good")
    synthetic.run_folder(root, "other", seed=1)
    broken = root / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model": {"preset": "dcgan", "dataset": "x"}}))
    (broken / "generator.onnx").write_bytes(b"this is not an onnx file")
    (broken / "metrics.jsonl").write_text('{"step": 1, "d_loss_real": 0.5}\nnot json\n')
    os.utime(root / "good", (time.time() + 10, time.time() + 10))  # newest: selected first
    return root


def app(root, monkeypatch, view: str | None = None, **query) -> AppTest:
    monkeypatch.setenv("GAN_DASHBOARD_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    if view:
        at.session_state["view"] = view
    for name, value in query.items():
        at.query_params[name] = value
    return at


def captions(at) -> list[str]:
    return [c for image in at.image for c in image.captions]


def chart_specs(at):
    return [json.loads(c.proto.spec) for c in at.main.get("vega_lite_chart")]


def chart_frames(at):
    return [pa.ipc.open_stream(io.BytesIO(c.proto.datasets[0].data.data)).read_all().to_pandas()
            for c in at.main.get("vega_lite_chart")]


@pytest.fixture
def generations(monkeypatch):
    """Counts the images ONNX Runtime is asked for, whichever cache or tab asks (caches start empty)."""
    import streamlit as st

    from inference.runtime import OnnxGenerator

    st.cache_data.clear()
    st.cache_resource.clear()
    asked = []
    real_run = OnnxGenerator.run

    def counting(self, z, classes=None):
        asked.append(len(z))
        return real_run(self, z, classes)

    monkeypatch.setattr(OnnxGenerator, "run", counting)
    return asked


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


def test_only_the_open_view_generates_and_nothing_is_generated_twice(runs_root, monkeypatch, generations):
    at = app(runs_root, monkeypatch, view="Training").run()
    assert not at.exception and generations == [], "the Training view generates nothing"
    at.session_state["view"] = "Sample"
    at.run()
    asked = sum(generations)
    assert asked >= 64, "the Sample view generated its grid"
    at.slider(key="truncation").set_value(0.7).run()
    assert sum(generations) > asked
    asked = sum(generations)
    at.run()  # a rerun that changed nothing
    at.slider(key="truncation").set_value(0.7).run()
    at.session_state["view"] = "Training"
    at.run()
    at.session_state["view"] = "Sample"
    at.run()  # back to a grid seen before: from the cache
    assert sum(generations) == asked, "a view shown before, with the same inputs, is not generated again"


def test_the_sidebar_shows_the_open_runs_glance(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    assert not at.exception
    assert not at.sidebar.get("vega_lite_chart") and at.session_state["glance"] == "waiting", \
        "on the session's first page the chart waits (its library would hold back the first images)"
    at.run()  # the run the fragment's timer asks for, or any click
    specs = [json.loads(c.proto.spec) for c in at.sidebar.get("vega_lite_chart")]
    assert len(specs) == 1 and specs[0]["title"]["text"].split()[0] in ("FID", "Losses")
    assert specs[0]["autosize"] == {"type": "fit-x", "contains": "padding"} and specs[0]["height"] >= 100, \
        "the height is the plot's own: fitted whole (title, axis and legend inside 110 px), the plot had ~0 px"
    assert not at.main.get("vega_lite_chart"), "the Sample view draws no chart of its own"


def test_default_sizes_follow_the_models_measured_cost(runs_root, monkeypatch):
    """A model that takes long per image gets a smaller default grid (the frog's page must not look hung)."""
    import dashboard.ui as ui

    monkeypatch.setattr(ui, "seconds_per_image", lambda key: 0.12)  # ~16 images in ANSWER_SECONDS (2 s)
    at = app(runs_root, monkeypatch).run()
    assert at.slider(key="count").value == 16 and at.image[0].captions[0].startswith("16 images")


def test_the_cost_is_measured_on_two_images_and_a_slow_models_grid_comes_in_small_chunks(runs_root, monkeypatch,
                                                                                           generations):
    at = app(runs_root, monkeypatch).run()
    assert not at.exception
    assert generations[:2] == [1, 1], "a warm-up image, then one timed image"
    assert set(generations[2:]) == {8} and sum(generations[2:]) == at.slider(key="count").value, \
        "a fast model: rows of 8"

    import dashboard.ui as ui

    monkeypatch.setattr(ui, "seconds_per_image", lambda key: 0.12)
    before = len(generations)
    at.button[0].click().run()  # "New seed": a grid not generated before
    count = at.slider(key="count").value
    assert generations[before:] == [2] * (count // 2), "at 0.12 s an image: chunks of ~0.25 s, shown as they come"


def test_interpolate_tab_strip_gif_and_kept_images(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Interpolate").run()
    at.slider(key="interp_steps").set_value(5).run()
    assert "5 steps, spherical (slerp)" in captions(at) and "animated" in captions(at)
    assert not any(c.endswith("-frame loop") for c in captions(at)), "the walk waits until asked for"
    at.toggle(key="walk_on").set_value(True).run()
    assert any(c.endswith("-frame loop") for c in captions(at))
    at.radio(key="interp_method").set_value("linear").run()
    assert "5 steps, linear" in captions(at)
    at.radio(key="interp_source").set_value("two kept images").run()
    assert any("Keep at least two" in i.value for i in at.info)


def test_long_interpolations_wrap_into_rows(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Interpolate").run()
    at.slider(key="interp_steps").set_value(64).run()
    assert "64 steps, spherical (slerp), 4 rows of 16, read left to right" in captions(at)


def test_arithmetic_tab(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Latent arithmetic").run()
    assert "A − B + C (first), then with noise" in captions(at)
    groups = [at.multiselect(key=f"group_{k}").value for k in "abc"]
    assert all(groups) and not set(groups[0]) & set(groups[1])
    at.multiselect(key="group_b").set_value([]).run()
    assert any("group B" in w.value for w in at.warning)


def test_class_groups_take_the_three_commonest_classes():
    from dashboard.generate_tabs import class_groups

    labels = np.array([2, 2, 5, 2, 5, 7, 7, 7, 7, 1])
    assert class_groups(labels, tuple("abcdefghij")) == [("h", [5, 6, 7]), ("c", [0, 1, 3]), ("f", [2, 4])]


def test_training_tab_charts_grids_and_comparison(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Training").run()
    records = [json.loads(line) for line in (runs_root / "good" / "metrics.jsonl").read_text().splitlines()]
    training = [r for r in records if "g_loss" in r]
    at.slider(key="smoothing").set_value(0.0).run()
    losses, accuracy = chart_frames(at)[:2]
    assert set(losses["series"]) == {"D loss on real", "D loss on fake", "G loss"}
    assert set(accuracy["series"]) == {"D accuracy on real", "D accuracy on fake"}
    g_loss = losses[losses["series"] == "G loss"].sort_values("step")
    assert g_loss["step"].tolist() == [r["step"] for r in training]
    assert g_loss["value"].tolist() == pytest.approx([r["g_loss"] for r in training])
    assert any(".png: the same 64 latent vectors" in c for c in captions(at))
    at.radio(key="axis").set_value("epoch").run()
    assert "epoch" in chart_frames(at)[0].columns
    at.selectbox(key="compare").set_value("other").run()
    compared = chart_frames(at)[-1]
    assert "epoch" in compared.columns, "the comparison follows the x-axis choice"
    assert set(compared["series"]) == {"good: G loss", "good: D loss on real", "other: G loss",
                                       "other: D loss on real"}


def test_evaluation_table_shows_every_reported_metric_with_near_copies(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Training").run()
    table = at.dataframe[0].value
    assert list(table.index) == ["generator", "generator_ema", "reference: real_train_vs_test"]
    assert table.loc["generator", "FID ↓"] == 50.0 and table.loc["generator", "near copies ↓"] == 0.0005
    assert any("lower is better" in c.value and "precision can read 1.0" in c.value for c in at.caption)


def test_a_broken_eval_file_is_one_warning(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "other", tmp_path / "other")
    (tmp_path / "other" / "eval.json").write_text("{broken")
    at = app(tmp_path, monkeypatch, view="Training").run()
    assert any("eval.json is unreadable" in w.value for w in at.warning) and not at.exception


def test_an_eval_file_with_numbers_no_table_holds_still_renders(runs_root, monkeypatch, tmp_path):
    """The fuzz test's find: an integer past int64 in eval.json crashed the quality table (Arrow overflow)."""
    shutil.copytree(runs_root / "other", tmp_path / "other")
    (tmp_path / "other" / "eval.json").write_text(json.dumps(
        {"generators": {"generator": {"fid": 10**30, "recall": 0.25}}, "step": 10**25}))
    at = app(tmp_path, monkeypatch, view="Training").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["recall ↑"] and table.loc["generator", "recall ↑"] == 0.25


def test_a_long_metrics_file_is_plotted_thinned(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "other", tmp_path / "long")
    with open(tmp_path / "long" / "metrics.jsonl", "w") as f:
        for step in range(1, 100_001):
            f.write(json.dumps({"step": step, "epoch": 1, "d_loss_real": 0.5, "d_loss_fake": 0.4, "d_acc_real": 0.6,
                                "d_acc_fake": 0.7, "g_loss": 1.0}) + "\n")
    at = app(tmp_path, monkeypatch, view="Training").run()
    assert not at.exception
    losses = chart_frames(at)[0]
    assert PLOT_POINTS // 2 <= len(losses[losses["series"] == "G loss"]) <= PLOT_POINTS
    spec = json.loads(at.main.get("vega_lite_chart")[0].proto.spec)
    assert "tooltip" not in spec["encoding"] and spec["mark"]["aria"] is False, "light marks for 700 points a series"


def test_a_short_training_curve_has_tooltips(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Training").run()
    spec = json.loads(at.main.get("vega_lite_chart")[0].proto.spec)
    assert [t["field"] for t in spec["encoding"]["tooltip"]] == ["step", "series", "value"]


def test_broken_run_shows_messages_and_page_keeps_working(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    at.selectbox(key="run").set_value("broken").run()
    assert not at.exception
    assert any("generator.onnx" in e.value for e in at.sidebar.error)
    assert any("no usable ONNX generator" in e.value for e in at.error)
    at.session_state["view"] = "Training"
    at.run()
    assert any("skipped 1 unreadable line" in w.value for w in at.warning)
    at.session_state["view"] = "Sample"
    at.selectbox(key="run").set_value("good").run()
    assert not at.exception and at.image[0].captions[0].startswith("64 images")


@pytest.mark.parametrize("name, reason", [("../dash", "not a usable run name"), ("missing", "no run folder"),
                                          ("café", "not a usable run name")])
def test_a_run_named_in_the_address_that_is_not_listed_says_why(runs_root, monkeypatch, name, reason):
    at = app(runs_root, monkeypatch, run=name).run()
    assert any(reason in e.value for e in at.sidebar.error) and not at.exception
    assert at.selectbox(key="run").value == "good"


def test_many_runs_get_a_filter_and_all_are_listed(runs_root, monkeypatch, tmp_path):
    for i in range(40):
        shutil.copytree(runs_root / "good", tmp_path / f"run-{i:02d}")
    shutil.copytree(runs_root / "good", tmp_path / "my run")
    at = app(tmp_path, monkeypatch).run()
    assert len(at.selectbox(key="run").options) == 40
    assert any("not a usable run name" in m.value for m in at.sidebar.markdown)
    at.text_input(key="run_filter").set_value("run-3").run()
    assert sorted(at.selectbox(key="run").options) == [f"run-3{i}" for i in range(10)] and not at.exception


def test_the_sidebar_says_what_was_trained_beside_the_plan(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    assert any(c.value == "Trained: 40 steps (2.0 of 2 epochs)" for c in at.sidebar.caption)


def test_dashboard_process_never_imports_torch(runs_root):
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); "
            "assert not at.exception, at.exception; assert len(at.image) >= 1; "
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


def test_shipped_generators_are_listed_beside_the_users_runs(runs_root, monkeypatch, tmp_path):
    shipped = tmp_path / "pretrained"
    shutil.copytree(runs_root / "good", shipped / "dcgan-book")
    monkeypatch.setenv("GAN_DASHBOARD_PRETRAINED", str(shipped))
    at = app(runs_root, monkeypatch, run="pretrained/dcgan-book").run()
    assert not at.exception and at.selectbox(key="run").value == "pretrained/dcgan-book"
    assert "pretrained/dcgan-book" in at.selectbox(key="run").options and "good" in at.selectbox(key="run").options


def test_the_dashboard_opens_on_the_best_unconditional_shipped_dcgan(monkeypatch, tmp_path):
    """A conditional model's FID is not comparable (it is told each image's class): it is listed after."""
    from core.formats import eval_json

    shipped = tmp_path / "pretrained"
    for name, fid, conditional in (("cond", 10.0, True), ("book", 80.0, False), ("modern", 40.0, False)):
        run = synthetic.run_folder(shipped, name, conditional=conditional)
        report = json.loads((run / "eval.json").read_text())
        for row in report["generators"].values():
            row["fid"] = fid
        eval_json.write(run, report)
    (tmp_path / "mine").mkdir()
    monkeypatch.setenv("GAN_DASHBOARD_PRETRAINED", str(shipped))
    at = app(tmp_path / "mine", monkeypatch).run()
    assert not at.exception
    assert at.selectbox(key="run").options == ["pretrained/modern", "pretrained/book", "pretrained/cond"]
    assert at.selectbox(key="run").value == "pretrained/modern"


def test_directions_tab_combines_and_sweeps_directions(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Directions").run()
    assert not at.exception
    assert "seed 0, then moved along the chosen directions" in captions(at)
    assert any(": strengths -4 … +4 left to right (" in c for c in captions(at))
    chosen = at.multiselect(key="dir_chosen").value
    assert chosen == ["towards Sneaker", "sefa 1"]
    at.slider(key=f"dir_s_{chosen[0]}").set_value(2.0).run()
    at.button(key="dir_keep").click().run()
    assert at.session_state["kept"][-1]["label"] == "seed 0 moved" and not at.exception


def test_a_stale_explore_file_is_refused(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "good", tmp_path / "stale")
    npz = tmp_path / "stale" / "generator_ema.explore.npz"  # the weights shown first (tied FID: the EMA)
    npz.write_bytes(npz.read_bytes() + b"\0")  # any change: the model's recorded checksum no longer fits
    at = app(tmp_path, monkeypatch, view="Directions").run()
    assert not at.exception
    assert any("does not belong to generator_ema.onnx" in i.value for i in at.info)


def test_the_weights_shown_first_are_the_runs_best(runs_root, monkeypatch, tmp_path):
    from core.formats import eval_json

    shutil.copytree(runs_root / "good", tmp_path / "run")
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    report["generators"]["generator"]["fid"] = 10.0  # the raw G measured better than its EMA
    eval_json.write(tmp_path / "run", report)
    at = app(tmp_path, monkeypatch).run()
    assert at.sidebar.radio[0].value == "generator"
    report["generators"]["generator"]["fid"] = 90.0
    eval_json.write(tmp_path / "run", report)
    assert app(tmp_path, monkeypatch).run().sidebar.radio[0].value == "generator_ema"


def test_project_tab_finds_a_latent_for_a_test_image_and_keeps_it(runs_root, monkeypatch):
    import dashboard.explore_tabs as tabs

    monkeypatch.setattr(tabs, "PROJECT_SECONDS", 0.3)
    at = app(runs_root, monkeypatch, view="Project").run()
    at.radio(key="proj_src").set_value("a test image of this run's data").run()
    at.number_input(key="proj_index").set_value(3).run()
    at.button(key="proj_go").click().run()
    assert not at.exception
    assert any(m.value.startswith("Distance **") for m in at.markdown)
    assert "test image 3 (left) and G's nearest image (right)" in captions(at)
    at.button(key="proj_keep").click().run()
    assert at.session_state["kept"][-1]["label"] == "projected test image 3"


def test_project_tab_says_how_to_give_an_old_explore_file_its_encoder(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch, view="Project").run()  # synthetic explore data has no encoder, as before v3
    assert not at.exception
    assert any("python -m export.add_encoder" in c.value and "generator_ema.onnx" in c.value for c in at.caption)


def test_memorisation_tab_pairs_samples_with_nearest_training_images(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "good", tmp_path / "mem")
    images = np.zeros((4, 28, 28, 1), np.uint8)  # as evaluation wrote it before nearest.npz had a version
    np.savez(tmp_path / "mem" / "nearest.npz", **{"generator/samples": images, "generator/neighbours": images,
                                                  "generator/distances": np.array([0.1, 2.0, 3.0, 0.2], np.float32),
                                                  "generator/threshold": np.array(0.5)})
    at = app(tmp_path, monkeypatch, view="Memorisation").run()
    assert not at.exception
    assert any("counts as a near-copy: 2 of 4 here" in c.value for c in at.caption)
    (tmp_path / "mem" / "nearest.npz").write_bytes(b"PK broken")
    at.run()
    assert not at.exception and any("nearest.npz: is not an npz archive" in w.value for w in at.warning)


def test_modern_run_shows_its_augmentation_probability_and_hinge_loss(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "good", tmp_path / "modern")
    config_path = tmp_path / "modern" / "config.json"
    config = json.loads(config_path.read_text())
    config["train"].update(recipe="modern", loss="hinge")
    config_path.write_text(json.dumps(config))
    metrics = tmp_path / "modern" / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines() if "g_loss" in line]
    for i, record in enumerate(records):
        record["augment_p"] = 0.1 * i
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    at = app(tmp_path, monkeypatch, view="Training").run()
    at.slider(key="smoothing").set_value(0.0).run()
    assert not at.exception
    assert any("modern recipe" in c.value for c in at.sidebar.caption)
    probability = next(f for f in chart_frames(at) if set(f["series"]) == {"augmentation probability p"})
    assert probability.sort_values("step")["value"].tolist() == pytest.approx([0.1 * i for i in range(len(records))])
    specs = chart_specs(at)
    assert "hinge loss" in json.dumps(specs[0]) and "binary cross-entropy" not in json.dumps(specs[0])


def test_a_run_with_a_class_head_charts_how_often_it_names_the_class(runs_root, monkeypatch, tmp_path):
    shutil.copytree(runs_root / "good", tmp_path / "ac")
    metrics = tmp_path / "ac" / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    for i, record in enumerate(r for r in records if "g_loss" in r):
        record.update(class_loss_real=1.0, class_loss_fake=2.0, class_acc_real=0.5, class_acc_fake=0.05 * i)
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    without = chart_specs(app(runs_root, monkeypatch, view="Training").run())
    assert without and not any("class head" in json.dumps(s) for s in without)
    at = app(tmp_path, monkeypatch, view="Training").run()
    at.slider(key="smoothing").set_value(0.0).run()
    assert not at.exception
    shares = next(f for f in chart_frames(at) if "fakes in the class G was asked for" in set(f["series"]))
    fakes = shares[shares["series"] == "fakes in the class G was asked for"].sort_values("step")["value"]
    assert fakes.tolist() == pytest.approx([0.05 * i for i in range(len(fakes))]) and len(fakes) >= 3
    assert any("class head" in json.dumps(s) for s in chart_specs(at))


def test_the_sidebar_offers_the_web_page_and_the_model_card(runs_root, monkeypatch):
    from inference import web

    at = app(runs_root, monkeypatch).run()
    labels = {b.label for b in at.get("download_button")}
    assert "Model card (README.md)" in labels
    installed = all((web.ORT_DIST / name).is_file() for name in web.ORT_FILES)
    assert ("Web page (zip of a static site)" in labels) == installed
    assert installed or any("npm ci --prefix inference/web" in c.value for c in at.sidebar.caption)


@pytest.fixture
def conditional_root(tmp_path, monkeypatch):
    """A runs folder holding one class-conditional run; every class row ONNX Runtime is given is recorded."""
    import streamlit as st

    from inference.runtime import OnnxGenerator

    synthetic.run_folder(tmp_path, "cond", conditional=True)
    st.cache_data.clear()
    st.cache_resource.clear()
    real_run = OnnxGenerator.run
    asked = []

    def recording(self, z, classes=None):
        out = real_run(self, z, classes)
        asked.append(self.class_rows(len(z), classes).argmax(axis=1))
        return out

    monkeypatch.setattr(OnnxGenerator, "run", recording)
    return tmp_path, asked


def test_the_class_picker_draws_the_class_asked_for_in_every_view(conditional_root, monkeypatch):
    root, asked = conditional_root
    at = app(root, monkeypatch).run()
    assert not at.exception
    assert set(np.concatenate(asked)) == set(range(10)), "by default each class in turn"
    at.selectbox(key="sample_class").set_value("Sneaker").run()
    assert set(asked[-1]) == {7} and at.image[0].captions[0].startswith("64 images · seed 42 · truncation 1 · Sneaker")
    at.multiselect(key="to_keep").set_value([0]).run()
    next(b for b in at.button if b.label == "Keep selected").click().run()
    assert at.session_state["kept"][-1]["class"].argmax() == 7, "a kept image keeps its class"
    for view, widget, value in [("Interpolate", "class_b", "Bag"), ("Latent arithmetic", "arith_class", "Coat"),
                                ("Directions", "dir_class", "Dress")]:
        at.session_state["view"] = view
        at.run()
        del asked[:]
        at.selectbox(key=widget).set_value(value).run()
        assert not at.exception and asked, view
        assert synthetic.CLASS_NAMES.index(value) in np.concatenate(asked), view
    at.session_state["view"] = "Interpolate"
    at.run()
    del asked[:]
    at.selectbox(key="class_a").set_value("Sandal")
    at.selectbox(key="class_b").set_value("Bag").run()
    strip = max(asked, key=len)
    assert strip[0] == 5 and strip[-1] == 8, "the path walks from class A to class B"


def test_projection_searches_within_the_chosen_class(conditional_root, monkeypatch):
    import dashboard.explore_tabs as tabs

    root, asked = conditional_root
    monkeypatch.setattr(tabs, "PROJECT_SECONDS", 0.2)
    at = app(root, monkeypatch, view="Project").run()
    at.radio(key="proj_src").set_value("a test image of this run's data").run()
    at.selectbox(key="proj_class").set_value("Trouser").run()
    del asked[:]
    at.button(key="proj_go").click().run()
    assert not at.exception and set(np.concatenate(asked)) == {1}
    assert "test image 0 as Trouser (left) and G's nearest image (right)" in captions(at)


def test_an_unconditional_model_offers_no_class_picker(runs_root, monkeypatch):
    at = app(runs_root, monkeypatch).run()
    assert not at.exception and not [s for s in at.selectbox if s.key == "sample_class"]


def test_a_conditional_runs_evaluation_shows_agreement_per_class(tmp_path, monkeypatch):
    from core.formats import eval_json

    run = synthetic.run_folder(tmp_path, "cond", conditional=True)
    report = json.loads((run / "eval.json").read_text())
    report["generators"]["generator"]["class_agreement"] = 0.93
    report["per_class"] = {"generator": {c: {"fid": 3.0 + i, "class_agreement": 0.9} for i, c in
                                         enumerate(synthetic.CLASS_NAMES)}}
    eval_json.write(run, report)
    at = app(tmp_path, monkeypatch, view="Training").run()
    assert not at.exception
    tables = [d.value for d in at.dataframe]
    assert any("class agreement ↑" in t.columns for t in tables)
    per_class = next(t for t in tables if "FID within the class ↓" in t.columns)
    assert per_class.loc["Sneaker", "FID within the class ↓"] == 10.0


def test_the_projects_streamlit_config_turns_off_what_the_dashboard_does_not_use():
    """Read from the project's folder (as README and quickstart.sh start it): no file watcher, and no "magic",
    whose ast.parse on every rerun can race the warm-up thread's imports in CPython 3.11."""
    done = subprocess.run([sys.executable, "-c", "import streamlit.config as c; "
                           "print(c.get_option('runner.magicEnabled'), c.get_option('server.fileWatcherType'))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "none"], done.stderr[-500:]
