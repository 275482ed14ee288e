import json
import signal
import subprocess
import sys

import pytest
import torch

from tests import synthetic
from tests.conftest import ROOT
from train import checkpoint
from train.dcgan import main
from train.models import build
from core.runs import LOSS_METRICS as METRIC_NAMES


def read_metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_tiny_run_writes_everything_and_learns(tiny_run):
    for name in ("config.json", "metrics.jsonl", "last.pt", "step_0000006.pt", "step_0000012.pt",
                 "samples/step_0000012.png", "samples/ema_step_0000012.png"):
        assert (tiny_run / name).is_file(), name
    records = read_metrics(tiny_run)
    assert [r["step"] for r in records] == [4, 6, 8, 12]  # every 4 steps, plus the flush at the checkpoint
    for record in records:
        assert all(torch.isfinite(torch.tensor(record[k])) for k in METRIC_NAMES)
        assert 0 <= record["d_acc_real"] <= 1 and record["lr_d"] == 1e-3 and record["time"] > 0
    state = checkpoint.load(tiny_run / "last.pt")
    assert state["step"] == 12 and state["model"]["latent_dim"] == 100 and state["model"]["pixel_range"] == [-1, 1]
    torch.manual_seed(state["config"]["seed"])
    initial_g, _ = build("dcgan")
    changed = [not torch.equal(initial_g.state_dict()[k], v) for k, v in state["generator"].items()
               if v.is_floating_point()]
    assert all(changed), "every generator tensor should have moved from its initial value"
    assert state["generator_ema"] is not None and state["opt_d"]["state"]


def test_resume_continues_step_count_metrics_and_grids(tmp_path, fashion_dir):
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--log-every", "4", "--out", str(tmp_path),
              "--name", "r", "--checkpoint-every", "0"]
    assert main(common + ["--max-steps", "10"]) == 0
    run = tmp_path / "r"
    # leftovers of a crash after the last checkpoint: a later record and a torn line
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 11, "epoch": 1}) + "\n" + '{"step": 1')
    assert main(["--resume", str(run), "--max-steps", "20", "--epochs", "2"]) == 0
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == [4, 8, 10, 12, 16, 20]
    assert checkpoint.load(run / "last.pt")["step"] == 20
    assert (run / "samples" / "epoch_0001.png").is_file()  # 128 images / 8 = 16 steps per epoch


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, fashion_dir):
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(tmp_path), "--checkpoint-every", "0",
              "--replay", "16", "--ema", "0.9", "--label-smoothing", "0.1"]
    assert main(common + ["--name", "straight", "--max-steps", "8"]) == 0
    assert main(common + ["--name", "split", "--max-steps", "3"]) == 0
    assert main(["--resume", str(tmp_path / "split"), "--max-steps", "8"]) == 0
    a, b = checkpoint.load(tmp_path / "straight" / "last.pt"), checkpoint.load(tmp_path / "split" / "last.pt")
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"


def test_resume_refuses_changed_model_settings(tiny_run, capsys):
    assert main(["--resume", str(tiny_run), "--lr", "0.5"]) == 2
    assert "--lr" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["mlp", "frog"])
def test_other_presets_train(tmp_path, fashion_dir, model):
    extra = ["--data-dir", str(fashion_dir)]
    if model == "frog":
        extra = ["--dataset", "folder", "--data-dir", str(synthetic.image_folder(tmp_path / "img", per_class=4))]
    assert main(extra + ["--model", model, "--batch-size", "4", "--max-steps", "3", "--log-every", "1",
                         "--out", str(tmp_path), "--name", model, "--minibatch-std", "--epochs", "2"]) == 0
    records = read_metrics(tmp_path / model)
    assert len(records) == 3 and all(r["g_loss"] > 0 for r in records)
    if model == "frog":
        assert records[0]["lr_d"] == 8e-4 and records[0]["lr_g"] == 4e-4


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "train.dcgan", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_cli_help_documents_every_flag():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in ("--epochs", "--batch-size", "--lr", "--seed", "--device", "--out", "--name", "--resume",
                 "--max-steps", "--sample-every", "--checkpoint-every", "--model", "--dataset", "--data-dir",
                 "--classes", "--label-smoothing", "--label-noise", "--replay", "--minibatch-std", "--ema",
                 "--precision", "--channels-last", "--cuda-graphs"):
        assert flag in result.stdout


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


def test_speed_options_train_and_resume_as_schedule_flags(tmp_path, fashion_dir):
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--log-every", "2", "--out", str(tmp_path),
              "--name", "fast", "--checkpoint-every", "0"]
    assert main(common + ["--max-steps", "2", "--precision", "bf16", "--channels-last"]) == 0
    assert main(["--resume", str(tmp_path / "fast"), "--max-steps", "4", "--precision", "fp32"]) == 0
    records = read_metrics(tmp_path / "fast")
    assert [r["step"] for r in records] == [2, 4]
    assert all(torch.isfinite(torch.tensor(r[k])) for r in records for k in METRIC_NAMES)
    state = checkpoint.load(tmp_path / "fast" / "last.pt")
    assert state["config"]["precision"] == "fp32" and state["config"]["channels_last"]
    assert all(v.dtype == torch.float32 for v in state["generator"].values() if v.is_floating_point())


def test_training_in_process_puts_the_signal_handlers_back(tmp_path, fashion_dir):
    """Ctrl-C means "save and stop" only while training; afterwards (and for the trainer's memory) it is released."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    assert main(["--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "2",
                 "--out", str(tmp_path), "--name", "handlers"]) == 0
    assert {sig: signal.getsignal(sig) for sig in before} == before
