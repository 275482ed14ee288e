"""python -m evaluation.evaluate: what it writes, the data it compares with, and every kind of target it accepts."""
import io
import json

import numpy as np
import pytest
import torch

from core.errors import UserError
from export.to_onnx import main as export_main
from tests import synthetic
from evaluation import classifier
from train.dcgan import main as train_main
from evaluation.evaluate import main as evaluate_main
from evaluation.quality import FeatureSpace, QuickEval, feature_space, near_copies


def test_evaluate_cli_writes_eval_json_with_references(own_run, capsys):
    assert evaluate_main([str(own_run), "--samples", "200"]) == 0
    report = json.loads((own_run / "eval.json").read_text())
    assert set(report["generators"]) == {"generator", "generator_ema"}
    for row in [*report["generators"].values(), *report["reference"].values()]:
        assert row["fid"] >= 0 and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert 1 <= row["classes_covered"] <= 10 and abs(sum(row["class_histogram"]) - 1) < 1e-9
    for row in report["generators"].values():
        assert 0 <= row["near_copy_share"] <= 1 and row["near_copy_threshold"] > 0
    floor, ceiling = report["reference"]["real_train_vs_test"], report["reference"]["untrained_generator"]
    assert floor["fid"] < ceiling["fid"]
    assert "not" in report["note"] and "Inception" in report["note"]
    captured = capsys.readouterr()
    out = captured.out
    assert "ref: untrained_generator" in out and "features: fashion-mnist classifier features" in out
    assert "generator_ema: images: 200/200" in captured.err, "generating says how far it got"
    with np.load(own_run / "nearest.npz") as nearest:
        assert nearest["generator/samples"].shape == nearest["generator/neighbours"].shape == (32, 28, 28, 1)


def test_the_newest_run_is_the_default_and_a_wrong_target_says_what_was_expected(own_run, tmp_path, capsys):
    assert evaluate_main(["--runs", str(own_run.parent), "--samples", "100", "--no-reference"]) == 0
    assert json.loads((own_run / "eval.json").read_text())["step"] == 12
    assert evaluate_main([str(tmp_path / "nope"), "--samples", "100"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "a run folder" in err and "an exported model (.onnx)" in err


def test_an_exported_model_is_measured_through_its_verified_checkpoint(own_run, capsys):
    assert export_main([str(own_run)]) == 0
    assert evaluate_main([str(own_run / "generator_ema.onnx"), "--samples", "100", "--no-reference"]) == 0
    report = json.loads((own_run / "eval.json").read_text())
    assert list(report["generators"]) == ["generator_ema (generator_ema.onnx)"]
    assert "checksum verified" in capsys.readouterr().out
    (own_run / "last.pt").write_bytes((own_run / "step_0000006.pt").read_bytes())  # the source changed since
    assert evaluate_main([str(own_run / "generator.onnx"), "--samples", "100"]) == 2
    assert "which has changed since" in capsys.readouterr().err
    (own_run / "last.pt").unlink()  # as in pretrained/: models without their checkpoint
    assert evaluate_main([str(own_run / "generator.onnx"), "--samples", "100"]) == 2
    err = capsys.readouterr().err
    assert "not beside it" in err and "eval.json holds the figures" in err


def test_data_that_moved_is_found_with_data_dir(tmp_path, fashion_dir, capsys):
    moved = tmp_path / "moved"
    synthetic.fashion_like(tmp_path / "data")
    assert train_main(["--data-dir", str(tmp_path / "data"), "--batch-size", "8", "--max-steps", "2",
                       "--out", str(tmp_path), "--name", "r"]) == 0
    (tmp_path / "data").rename(moved)
    assert evaluate_main([str(tmp_path / "r"), "--samples", "100"]) == 2
    assert "not found in" in capsys.readouterr().err
    assert evaluate_main([str(tmp_path / "r"), "--samples", "100", "--no-reference", "--data-dir", str(moved)]) == 0


def test_curve_scores_every_kept_checkpoint(own_run):
    assert evaluate_main([str(own_run), "--curve", "--samples", "100"]) == 0
    lines = [json.loads(line) for line in (own_run / "quality_curve.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [6, 12]
    assert all(line["fid"] >= 0 and "fid_ema" in line and line["time"] > 0 for line in lines)


def test_curve_scores_only_what_it_has_not_scored_and_keeps_the_rotated_away(own_run, monkeypatch, capsys):
    """A long run is scored along the way: a later --curve must not redo the checkpoints it scored, nor lose
    the points of checkpoints --keep-checkpoints deleted since."""
    import os

    from evaluation import evaluate

    def read():
        return [json.loads(line) for line in (own_run / "quality_curve.jsonl").read_text().splitlines()]

    assert evaluate_main([str(own_run), "--curve", "--samples", "100"]) == 0
    first = read()
    scored = []
    real_score = evaluate.score
    monkeypatch.setattr(evaluate, "score", lambda *a, **k: scored.append(1) or real_score(*a, **k))
    (own_run / "step_0000006.pt").unlink()  # rotated away
    newer = own_run / "step_0000012.pt"
    os.utime(newer, ns=(newer.stat().st_atime_ns, newer.stat().st_mtime_ns + 10**9))  # a retrained step 12
    assert evaluate_main([str(own_run), "--curve", "--samples", "100"]) == 0
    assert len(scored) == 2, "only step 12's two generators were scored again"
    assert [line["step"] for line in read()] == [6, 12] and read()[0] == first[0]
    scored.clear()
    capsys.readouterr()
    assert evaluate_main([str(own_run), "--curve", "--samples", "100"]) == 0
    assert scored == [] and "(scored before)" in capsys.readouterr().out and len(read()) == 2
    assert evaluate_main([str(own_run), "--curve", "--samples", "120"]) == 0
    assert len(scored) == 2 and [line["samples"] for line in read()] == [120], "other samples: scored anew"
    old_format = [{k: v for k, v in line.items() if k not in ("samples", "features", "checkpoint_stamp")}
                  for line in read()]  # as --curve wrote them before it kept what scored them
    (own_run / "quality_curve.jsonl").write_text("".join(json.dumps(line) + "\n" for line in old_format))
    scored.clear()
    assert evaluate_main([str(own_run), "--curve", "--samples", "120"]) == 0
    assert len(scored) == 2 and read()[0]["fid"] == old_format[0]["fid"], "an old line is read and scored again"


def cifar_classifier_file(path):
    """An (untrained) CIFAR-10 classifier in the committed file format, for tests that need the space."""
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save({"format": classifier.FORMAT, "kind": "cifar10", "test_accuracy": 0.1, "command": "test",
                "weights": classifier.CifarClassifier().state_dict()}, buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_frog_run_is_scored_in_cifar_features_against_test_frogs(tmp_path, capsys):
    folder = synthetic.image_folder(tmp_path / "img", classes=("frog", "cat"), per_class=8, size=(32, 32),
                                    test_per_class=100)
    assert train_main(["--model", "frog", "--dataset", "folder", "--data-dir", str(folder), "--classes", "frog",
                       "--batch-size", "4", "--max-steps", "1", "--out", str(tmp_path), "--name", "f"]) == 0
    weights = cifar_classifier_file(tmp_path / "cifar.pt")
    assert evaluate_main([str(tmp_path / "f"), "--samples", "100", "--classifier", str(weights)]) == 0
    report = json.loads((tmp_path / "f" / "eval.json").read_text())
    assert report["features"].startswith("cifar10 classifier features")
    row = report["generators"]["generator"]
    assert len(row["class_histogram"]) == 10 and 0 <= row["in_classes"] <= 1 and row["classes_covered"] in (0, 1)
    assert set(report["reference"]) == {"real_train_vs_test", "untrained_generator"}
    out = capsys.readouterr().out
    assert "features: cifar10 classifier" in out and "warning: only 100 real test images" in out
    assert report["warning"].startswith("warning: only 100")


def test_a_test_set_too_small_for_the_figures_is_refused(tmp_path, capsys):
    folder = synthetic.image_folder(tmp_path / "img", classes=("frog",), per_class=8, size=(32, 32))
    assert train_main(["--model", "frog", "--dataset", "folder", "--data-dir", str(folder), "--batch-size", "4",
                       "--max-steps", "1", "--out", str(tmp_path), "--name", "f"]) == 0
    assert evaluate_main([str(tmp_path / "f"), "--samples", "100"]) == 2
    assert "the test set has 8 images; the quality figures need at least 100" in capsys.readouterr().err


def test_spaces_by_image_shape_and_a_wrong_classifier_is_refused(tmp_path):
    assert feature_space((1, 28, 28)).name.startswith("fashion-mnist classifier")
    with pytest.raises(UserError, match=r"no feature classifier for \(3, 64, 64\) images"):
        feature_space((3, 64, 64))
    with pytest.raises(UserError, match="is the cifar10 classifier"):
        feature_space((1, 28, 28), cifar_classifier_file(tmp_path / "c.pt"))


def test_near_copies_flag_a_planted_copy_and_pass_real_test_images():
    gen = torch.Generator().manual_seed(0)
    train_features = torch.randn(4000, 8, generator=gen)
    test_features = torch.randn(2000, 8, generator=gen)
    copied = near_copies(train_features, test_features[:1000], train_features[:500])
    assert copied["near_copy_share"] == 1.0 and torch.equal(copied["neighbours"], torch.arange(500))
    honest = near_copies(train_features, test_features[:1000], test_features[1000:])
    assert honest["near_copy_share"] < 0.03  # held-out real images: about the 1% the threshold is set at


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
    quick.space = FeatureSpace("s", lambda x: x, None, tuple("abcdefghij"))
    assert quick.collapse_warning({"classes_covered": 10}) is None
    assert quick.collapse_warning({"classes_covered": 9}) is None
    assert "cover 7 of 10 classes" in quick.collapse_warning({"classes_covered": 7})


def test_one_class_of_a_conditional_model_is_scored_as_a_run_of_that_class_alone(tmp_path, capsys):
    from evaluation.evaluate import from_checkpoint, one_class

    data = synthetic.fashion_like(tmp_path / "fashion", n_test=1200)  # ~120 test images per class
    assert train_main(["--data-dir", str(data), "--conditional", "--batch-size", "8", "--max-steps", "2",
                       "--out", str(tmp_path), "--name", "c"]) == 0
    run = tmp_path / "c"
    assert evaluate_main([str(run), "--class", "sneaker", "--samples", "100"]) == 0
    report = json.loads((run / "eval-sneaker.json").read_text())
    assert not (run / "eval.json").exists() and not (run / "nearest.npz").exists(), "the run's own files untouched"
    row = report["generators"]["generator"]
    assert 0 <= row["in_classes"] <= 1 and "class_agreement" not in row and "per_class" not in report
    assert "eval-sneaker.json" in capsys.readouterr().out
    subject = from_checkpoint(run / "last.pt", None)
    sneakers = one_class(subject, "Sneaker")
    assert sneakers.classes == ("Sneaker",) and sneakers.spec.class_names == ("Sneaker",)
    assert torch.equal(sneakers.generators["generator"](16, 3), subject.generators["generator"](16, 3, 7))
    for args, message in ((["--class", "Frog"], "no class 'Frog'"), (["--class", "Bag", "--curve"], "do not go")):
        assert evaluate_main([str(run), *args]) == 2
        assert message in capsys.readouterr().err
    assert train_main(["--data-dir", str(data), "--batch-size", "8", "--max-steps", "1", "--out", str(tmp_path),
                       "--name", "u"]) == 0
    assert evaluate_main([str(tmp_path / "u"), "--class", "Bag"]) == 2
    assert "--class is for class-conditional models" in capsys.readouterr().err


def test_the_real_images_compared_are_a_random_sample_not_a_folders_first_classes():
    from evaluation.quality import sample_of

    by_class = torch.arange(10, dtype=torch.uint8).repeat_interleave(1000).view(-1, 1, 1, 1).expand(-1, 3, 2, 2)
    picked = sample_of(by_class, 1000)  # an image folder's order: 1,000 airplanes, then 1,000 cars, ...
    assert picked.shape == (1000, 3, 2, 2) and len(torch.unique(picked)) == 10
    assert torch.equal(picked, sample_of(by_class, 1000)), "the same sample every time"
