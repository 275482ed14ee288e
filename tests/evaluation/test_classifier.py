"""The committed feature classifiers (Fashion-MNIST, CIFAR-10): records, accuracy on the real data, refusals."""
from pathlib import Path

import pytest
import torch

from core.errors import UserError
from tests.conftest import ROOT
from evaluation import classifier
from gan import data

REAL_FASHION = [ROOT.parent / "shared" / "data" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist")]
REAL_CIFAR = [ROOT.parent / "shared" / "data" / "cifar10"]


def test_committed_classifier_record():
    model, record = classifier.load()
    # made before the command moved from train.classifier to evaluation.classifier
    assert record["test_accuracy"] >= 0.91 and record["command"].split()[2] in ("train.classifier", "evaluation.classifier")
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


def test_committed_cifar_classifier_record():
    kind = classifier.KINDS["cifar10"]
    model, record = classifier.load(kind.weights)
    assert record["kind"] == "cifar10" and record["test_accuracy"] >= kind.min_accuracy
    assert model(torch.rand(3, 3, 32, 32)).shape == (3, 10)


def test_committed_cifar_classifier_accuracy_on_real_data():
    """Re-measures the committed CIFAR-10 weights on all 10,000 real test images (about a minute on 2 cores)."""
    folder = next((d for d in REAL_CIFAR if (d / "test").is_dir()), None)
    if folder is None:
        pytest.skip("the real CIFAR-10 test images are not on this machine")
    kind = classifier.KINDS["cifar10"]
    test = data.load("cifar10", "test", folder)
    assert len(test) == 10_000
    model, record = classifier.load(kind.weights)
    measured = classifier.accuracy(model, test.images, test.labels)
    assert measured >= kind.min_accuracy and measured == pytest.approx(record["test_accuracy"], abs=1e-3)
