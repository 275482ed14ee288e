"""Two gloo processes on CPU must train exactly what one process trains with the same global batch."""
import json
import os
import subprocess
import sys

import torch

from tests.conftest import ROOT
from gan import checkpoint


def test_two_gloo_processes_match_one_process(tmp_path, fashion_dir):
    common = ["--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "6",
              "--log-every", "3", "--checkpoint-every", "0", "--out", str(tmp_path),
              "--precision", "fp32"]  # exact arithmetic: bf16 rounds a split batch differently
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "train.dcgan", *common, "--name", "single"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert single.returncode == 0, single.stderr[-1000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "train.dcgan", *common, "--name", "ddp"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert "x 2 processes" in ddp.stdout
    a, b = checkpoint.load(tmp_path / "single" / "last.pt"), checkpoint.load(tmp_path / "ddp" / "last.pt")
    assert a["step"] == b["step"] == 6
    for part in ("generator", "discriminator"):
        for key, value in a[part].items():
            # float32 all-reduce sums in another order; RMSprop amplifies that slightly in early steps
            assert torch.allclose(value, b[part][key], atol=1e-4), f"{part}.{key}"
    single_records = [json.loads(l) for l in (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    ddp_records = [json.loads(l) for l in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ddp_records] == [r["step"] for r in single_records] == [3, 6]
    for r1, r2 in zip(single_records, ddp_records):
        for key in ("d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake"):
            assert abs(r1[key] - r2[key]) < 1e-5, key
    assert ddp.stdout.count("done: 6 steps") == 1  # one process reports and writes


def test_worker_exit_flushes_output_and_keeps_the_exit_code():
    """A torchrun worker leaves with os._exit (see exit_process), so its output must be flushed by hand."""
    script = "from train.distributed import exit_process; print('report', end=''); exit_process(3)"
    for world in ("1", "2"):
        env = {**os.environ, "WORLD_SIZE": world}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert (done.returncode, done.stdout) == (3, "report"), world
