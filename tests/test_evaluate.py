"""python -m train.evaluate and the quick in-training evaluation."""
import json

from train.dcgan import main as train_main
from train.evaluate import QuickEval, main as evaluate_main


def test_evaluate_cli_writes_eval_json_with_references(own_run, capsys):
    assert evaluate_main([str(own_run), "--samples", "200"]) == 0
    report = json.loads((own_run / "eval.json").read_text())
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
