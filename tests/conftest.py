"""Shared fixtures. This file imports no torch: the torch-free packages' tests (tests/core, tests/inference,
tests/dashboard) also run where torch is not installed; fixtures that train import it when used."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import synthetic  # noqa: E402

# Tests never touch the network or the user's cache, and the dashboard lists only the runs a test makes.
os.environ["GAN_WORKBENCH_OFFLINE"] = "1"
os.environ["GAN_DASHBOARD_PRETRAINED"] = ""
WITHOUT_TORCH = os.environ.get("GAN_TESTS_WITHOUT_TORCH") == "1"  # set by tests/test_torch_free.py
# The torch-free packages' tests: run by tests/test_torch_free.py with torch blocked, not by the main process
# (unless named on the command line, as a developer running one of them does).
TORCH_FREE_TESTS = ("tests/core", "tests/inference", "tests/dashboard", "tests/test_layering.py")


def pytest_ignore_collect(collection_path, config):
    if WITHOUT_TORCH:
        return None
    named = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    for folder in TORCH_FREE_TESTS:
        path = ROOT / folder
        if collection_path == path or path in collection_path.parents:
            if not any(n == path or path in n.parents for n in named):
                return True
    return None


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DATA", str(tmp_path / "cache"))
    if not WITHOUT_TORCH:
        monkeypatch.setattr("gan.data.SYSTEM_FASHION_DIRS", ())


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory):
    return synthetic.fashion_like(tmp_path_factory.mktemp("fashion"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, fashion_dir):
    """A finished 12-step DCGAN run on synthetic Fashion-MNIST, shared by tests that only read it."""
    from train.dcgan import main

    out = tmp_path_factory.mktemp("runs")
    code = main(["--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "12", "--log-every", "4",
                 "--checkpoint-every", "6", "--out", str(out), "--name", "tiny", "--ema", "0.9"])
    assert code == 0
    return out / "tiny"


@pytest.fixture
def own_run(tiny_run, tmp_path):
    """A private copy of tiny_run for tests that write into a run folder (exports, eval.json, resumes)."""
    import shutil

    copy = tmp_path / "runs" / "tiny"
    shutil.copytree(tiny_run, copy)
    return copy


@pytest.fixture(scope="session")
def exported_run(tiny_run, tmp_path_factory):
    """A copy of tiny_run with its generators exported (and their explore data), shared by tests that only read it."""
    import shutil

    from export.to_onnx import main as export_main

    run = tmp_path_factory.mktemp("exported") / "run"
    shutil.copytree(tiny_run, run)
    assert export_main([str(run), "--explore-images", "256"]) == 0
    return run
