"""The training CLI: help that lists every flag, one-line errors, nothing left behind by a failed start."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from train.dcgan import main


def test_help_names_every_preset_and_gives_examples(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "examples:" in out and "--recipe modern" in out
    assert all(preset in out for preset in ("dcgan", "mlp", "frog")), "one command trains every preset"


def test_a_real_process_with_bad_input_prints_one_line_and_no_traceback(tmp_path):
    """The one bad command line run as a real process (the others run in-process: tests/train/test_reliability.py)."""
    env = {"GAN_WORKBENCH_OFFLINE": "1", "GAN_WORKBENCH_DATA": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "train.dcgan", "--data-dir", str(tmp_path / "nowhere"),
                             "--out", str(tmp_path / "runs")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not found in" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


