"""The training CLI: help that lists every flag, one-line errors, nothing left behind by a failed start."""
import dataclasses
import re
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from train.config import TrainConfig, flag
from train.dcgan import main


def test_resume_refuses_changed_model_settings(own_run, capsys):
    assert main(["--resume", str(own_run), "--lr", "0.5"]) == 2
    assert "--lr" in capsys.readouterr().err


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "train.dcgan", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_cli_help_documents_every_flag():
    result = run_cli("--help")
    assert result.returncode == 0
    flags = [flag(f.name) for f in dataclasses.fields(TrainConfig)] + ["--resume", "--rewind"]
    documented = set(re.findall(r"--[a-z][a-z-]*", result.stdout))
    assert set(flags) <= documented, set(flags) - documented
    assert "mlp" in result.stdout and "frog" in result.stdout  # one command trains every preset


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "must be > 0"),
    (["--batch-size", "-3"], "must be > 0"),
    (["--model", "stylegan"], "invalid choice"),
    (["--dataset", "folder"], "needs --data-dir"),
    (["--device", "cuda:0"], "no CUDA GPU"),
])
def test_cli_bad_input_is_one_line_and_non_zero(tmp_path, args, message):
    if message == "no CUDA GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so --device cuda is valid")
    result = run_cli(*args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir()), "a failed start must not leave a run folder"


def test_cli_missing_dataset_is_one_clear_line(tmp_path):
    env = {"GAN_WORKBENCH_OFFLINE": "1", "GAN_WORKBENCH_DATA": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "train.dcgan", "--data-dir", str(tmp_path / "nowhere"),
                             "--out", str(tmp_path / "runs")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not found in" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


