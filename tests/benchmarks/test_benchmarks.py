"""The benchmarks' own guards: the eager reference really is PyTorch's plain layers, the parity
check holds, and both scripts run end to end (tiny sizes; their timings are not asserted)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from benchmarks import inference, projection, results_report, time_to_quality, train_speed
from core.spec import PRESETS
from gan.dropout import Dropout
from gan.models import build


def test_eager_reference_uses_torch_dropout():
    _, discriminator = build("dcgan")
    reference = train_speed.with_torch_dropout(discriminator)
    kinds = [type(m) for m in reference if isinstance(m, nn.Dropout)]
    assert kinds == [nn.Dropout, nn.Dropout] and not any(isinstance(m, Dropout) for m in reference)


def test_default_path_computes_the_eager_ports_losses():
    opts = train_speed.our_options(PRESETS["dcgan"])
    assert train_speed.check_parity("dcgan", torch.device("cpu"), opts, steps=3) < train_speed.PARITY_TOLERANCE


def test_train_speed_runs_and_prints_a_row_per_variant(capsys):
    assert train_speed.main(["--presets", "mlp", "--batches", "8", "--seconds", "0.2", "--options", "fp32,bf16",
                             "--device", "cpu"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("mlp")]
    assert len(rows) == 2 and all("x |" in row for row in rows)


def test_inference_benchmark_runs(capsys):
    assert inference.main(["--batches", "1,4", "--repeats", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2 and all(row.rstrip().endswith("x") for row in rows)


def test_time_to_quality_reports_each_setting_against_the_eager_port(fashion_dir, capsys):
    # Any FID meets a huge target at the first scoring: every setting reports a time and a ratio.
    assert time_to_quality.main(["--target-fid", "1e9", "--minutes", "5", "--eval-every", "2", "--eager-steps", "2",
                                 "--data-dir", str(fashion_dir)]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[0].strip(): line for line in out.splitlines() if line.count("|") == 4}
    assert {"eager", "default", "fastest"} <= set(rows)
    assert rows["eager"].rstrip().endswith("1.00x") and all("yes" in rows[s] for s in ("default", "fastest"))
    assert "reference: the eager port's 50 epochs" in out and "modern recipe" in out
    assert "EMA" in out  # the trainer settings are scored with their EMA of G as well


def test_time_to_quality_says_when_a_target_is_not_reached(fashion_dir, capsys):
    assert time_to_quality.main(["--target-fid", "-1", "--minutes", "0.0001", "--eval-every", "2",
                                 "--settings", "default", "--data-dir", str(fashion_dir)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("default |"))
    assert row.split("|")[1].strip() == "no" and "best FID" in row and "torch threads" in out


def test_fastest_setting_uses_bf16_only_where_it_is_measured_faster(monkeypatch):
    preset = PRESETS["dcgan"]
    for choice, expected in [("bf16", ("bf16", False)), ("fp32", ("fp32", True))]:
        monkeypatch.setattr(time_to_quality, "auto", lambda device, spec, batch, c=choice: (c, "measured"))
        opts = time_to_quality.fastest_options(preset)
        assert (opts.precision, opts.channels_last) == expected


def test_time_to_quality_refuses_an_unknown_setting(fashion_dir, capsys):
    assert time_to_quality.main(["--target-fid", "50", "--settings", "turbo", "--data-dir", str(fashion_dir)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown setting 'turbo'") and "\n" not in err


def test_results_report_places_quality_at_training_time_and_draws_the_figures(tmp_path, capsys):
    run = tmp_path / "runs" / "long"
    (run / "samples").mkdir(parents=True)
    records = [{"step": s, "epoch": 1, "time": 36.0 * s} for s in (10, 20, 30)]
    records.insert(2, {"step": 20, "epoch": 1, "fid": 80.0, "fid_ema": 70.0, "classes_covered": 9, "kl_uniform": 0.1})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for epoch in (1, 2, 3):
        Image.new("L", (20, 20), 40 * epoch).save(run / "samples" / f"epoch_{epoch:04d}.png")
    out = tmp_path / "figures"
    assert results_report.main([str(run), "--out", str(out)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 | 20 |"))
    assert row.split("|")[3].strip() == "0.20" and "80.0" in row and "70.0" in row  # 20 steps x 36 s = 0.2 h
    assert (out / "quality.png").stat().st_size > 0
    assert Image.open(out / "long-grids.png").width == 3 * 20 + 2 * 6


def test_results_report_gives_a_frog_run_its_frog_share_not_a_class_spread(tmp_path, capsys):
    run = tmp_path / "frog"
    run.mkdir()
    records = [{"step": 10, "epoch": 1, "time": 36.0}, {"step": 10, "epoch": 1, "fid": 40.0, "classes_covered": 1,
                                                         "kl_uniform": 0.0, "in_classes": 0.93}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert results_report.main([str(run), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "in-class share" in out and "| 1 | 10 | 0.01 | 40.0 | 0.930 |" in out and "KL from uniform" not in out


def test_results_report_puts_each_runs_last_ema_grid_side_by_side(tmp_path):
    runs = []
    for name, value in (("book", 30), ("modern", 200)):
        run = tmp_path / name
        (run / "samples").mkdir(parents=True)
        (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "epoch": 1, "time": 1.0}) + "\n")
        for epoch in (1, 2):
            Image.new("L", (20, 20), 0).save(run / "samples" / f"epoch_{epoch:04d}.png")
            Image.new("L", (20, 20), value if epoch == 2 else 0).save(run / "samples" / f"ema_epoch_{epoch:04d}.png")
        runs.append(str(run))
    assert results_report.main([*runs, "--out", str(tmp_path / "out"), "--side-by-side", "pair"]) == 0
    pair = np.asarray(Image.open(tmp_path / "out" / "pair.png").convert("L"))
    assert pair.shape == (20 + 14, 2 * 20 + 8)
    assert pair[20, 10] == 30 and pair[20, 28 + 10] == 200, "the last EMA grid of each run, in the order given"

    assert results_report.main([*runs, "--out", str(tmp_path / "out"), "--side-by-side", "pair",
                                "--grid", "modern=ema_epoch_0001"]) == 0
    pair = np.asarray(Image.open(tmp_path / "out" / "pair.png").convert("L"))
    assert pair[20, 10] == 30 and pair[20, 28 + 10] == 0, "the grid asked for, for the run it names"


@pytest.mark.parametrize("pick, message", [("modern=epoch_0009", "there is no grid"),
                                           ("other=epoch_0001", "not one of the runs"),
                                           ("modern", "--grid takes RUN=GRID")])
def test_results_report_refuses_a_grid_it_cannot_show(tmp_path, capsys, pick, message):
    run = tmp_path / "modern"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "epoch": 1, "time": 1.0}) + "\n")
    Image.new("L", (20, 20), 0).save(run / "samples" / "epoch_0001.png")
    assert results_report.main([str(run), "--out", str(tmp_path / "out"), "--side-by-side", "x", "--grid", pick]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_results_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert results_report.main([str(tmp_path)]) != 0
    assert "not a run folder" in capsys.readouterr().err


def test_projection_benchmark_compares_each_projection_with_random_search(exported_run, capsys):
    assert projection.main([str(exported_run / "generator.onnx"), "--images", "2", "--seconds", "0.2",
                            "--random", "200"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2 and all(row.endswith("x closer") for row in rows)
    assert "median:" in out and "cores" in out
