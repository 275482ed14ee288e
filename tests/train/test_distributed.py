"""Two gloo processes on CPU must train exactly what one process trains with the same global batch."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from gan import checkpoint


@pytest.mark.parametrize("extra", [[], ["--conditional", "--class-loss", "0.5"]], ids=["unconditional", "conditional"])
def test_two_gloo_processes_match_one_process(tmp_path, fashion_dir, extra):
    """…with in-training evaluation on: rank 0 alone evaluates and writes (rank 1 used to crash on it); a
    conditional run's classes are drawn for the global batch as its noise is (and its class loss, with D's class
    head, averages over the global batch)."""
    common = [*extra, "--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "6",
              "--log-every", "3", "--checkpoint-every", "0", "--out", str(tmp_path), "--eval-every", "3",
              "--eval-samples", "100", "--precision", "fp32"]  # exact arithmetic: bf16 rounds a split batch differently
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
    single_all = [json.loads(l) for l in (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    ddp_all = [json.loads(l) for l in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ddp_all if "fid" in r] == [r["step"] for r in single_all if "fid" in r] == [3, 6]
    single_records, ddp_records = ([r for r in records if "g_loss" in r] for records in (single_all, ddp_all))
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


def test_a_stopped_rank_ends_the_job_within_the_timeout_with_one_line(tmp_path, fashion_dir):
    """Rank 1 frozen with SIGSTOP: rank 0 must not wait 30 minutes but say who stopped answering and exit."""
    import signal
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            "-m", "train.dcgan", "--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8",
                            "--epochs", "100000", "--log-every", "2", "--checkpoint-every", "4", "--out", str(tmp_path),
                            "--name", "stuck", "--collective-timeout", "5"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics, deadline = tmp_path / "stuck" / "metrics.jsonl", time.time() + 120
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        assert job.poll() is None and time.time() < deadline, job.stderr.read()[-2000:]
        time.sleep(0.1)
    workers = subprocess.run(["pgrep", "-P", str(job.pid)], capture_output=True, text=True).stdout.split()
    ranks = {pid: open(f"/proc/{pid}/environ", "rb").read().split(b"\0") for pid in workers}
    rank0, rank1 = (int(next(pid for pid, env in ranks.items() if f"RANK={r}".encode() in env)) for r in (0, 1))
    os.kill(rank1, signal.SIGSTOP)
    stopped = time.time()
    try:
        while os.path.exists(f"/proc/{rank0}") and time.time() - stopped < 60:
            time.sleep(0.1)
        waited = time.time() - stopped
        os.kill(rank1, signal.SIGCONT)  # so that torchrun's own ending of the job reaches it
        out, err = job.communicate(timeout=120)
    finally:
        for pid in map(int, workers):  # torchrun gives each worker a session of its own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        job.kill()
    assert job.returncode != 0 and waited < 30, waited
    assert "process 0: process 1 of 2 stopped answering" in err and "--resume" in err, err[-2000:]
    assert checkpoint.load(tmp_path / "stuck" / "last.pt")["step"] >= 4
