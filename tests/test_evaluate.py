import json
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from train import classifier, data
from train.dcgan import main as train_main
from core.errors import UserError
from train.evaluate import QuickEval, main as evaluate_main

REAL_FASHION = [ROOT.parent / "shared" / "data" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist")]


def test_committed_classifier_record():
    model, record = classifier.load()
    assert record["test_accuracy"] >= 0.91 and record["command"].startswith("python -m train.classifier")
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert model.features(torch.rand(3, 1, 28, 28)).shape == (3, classifier.FEATURES)


def test_committed_classifier_accuracy_on_real_data():
    folder = next((d for d in REAL_FASHION if (d / "t10k-images-idx3-ubyte.gz").is_file()), None)
    if folder is None:
        pytest.skip("real Fashion-MNIST test files are not on this machine")
    test = data.load("fashion-mnist", "test", folder)
    model, record = classifier.load()
    measured = classifier.accuracy(model, test.images, test.labels)
    assert measured >= 0.91 and measured == pytest.approx(record["test_accuracy"], abs=1e-3)


def test_classifier_refuses_wrong_files(tmp_path, tiny_run):
    (tmp_path / "text.pt").write_text("hello")
    torch.save({"weights": {}}, tmp_path / "foreign.pt")
    for path, message in [(tmp_path / "missing.pt", "not found"), (tmp_path / "text.pt", "not a readable"),
                          (tmp_path / "foreign.pt", "not a GAN workbench classifier"),
                          (tiny_run / "last.pt", "not a GAN workbench classifier")]:
        with pytest.raises(UserError, match=message):
            classifier.load(path)


def test_evaluate_cli_writes_eval_json_with_references(tiny_run, capsys):
    assert evaluate_main([str(tiny_run), "--samples", "200"]) == 0
    report = json.loads((tiny_run / "eval.json").read_text())
    assert set(report["generators"]) == {"generator", "generator_ema"}
    for row in [*report["generators"].values(), *report["reference"].values()]:
        assert row["fid"] >= 0 and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert 1 <= row["classes_covered"] <= 10 and abs(sum(row["class_histogram"]) - 1) < 1e-9
    floor, ceiling = report["reference"]["real_train_vs_test"], report["reference"]["untrained_generator"]
    assert floor["fid"] < ceiling["fid"]
    assert "not" in report["note"] and "Inception" in report["note"]
    assert "ref: untrained_generator" in capsys.readouterr().out


def test_evaluate_refuses_images_without_a_feature_extractor(tmp_path):
    from tests import synthetic
    folder = synthetic.image_folder(tmp_path / "img", per_class=2)
    assert train_main(["--model", "frog", "--dataset", "folder", "--data-dir", str(folder), "--batch-size", "2",
                       "--max-steps", "1", "--out", str(tmp_path), "--name", "f"]) == 0
    assert evaluate_main([str(tmp_path / "f"), "--samples", "100"]) == 2


def test_training_logs_quick_evaluation(tmp_path, fashion_dir):
    assert train_main(["--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "8", "--log-every", "4",
                       "--eval-every", "4", "--eval-samples", "100", "--out", str(tmp_path), "--name", "e"]) == 0
    records = [json.loads(l) for l in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "fid" in r]
    assert [r["step"] for r in evals] == [4, 8]
    assert all(r["fid"] >= 0 and 1 <= r["classes_covered"] <= 10 for r in evals)


def test_collapse_warning():
    quick = QuickEval.__new__(QuickEval)
    quick.best_coverage = 0
    quick.space = type("S", (), {"num_classes": 10})()
    assert quick.collapse_warning({"classes_covered": 10}) is None
    assert quick.collapse_warning({"classes_covered": 9}) is None
    assert "mode collapse" in quick.collapse_warning({"classes_covered": 7})
