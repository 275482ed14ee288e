"""train/run_folder.py and core/lock.py: one writer per run, nothing changed before every check has
passed, no silent rewind, and no dead end after an interrupted start."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from gan import checkpoint
from train.dcgan import main as train_main


def fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def steps_logged(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.exists() else []


def start_training(args: list[str]) -> subprocess.Popen:
    """The CLI in a subprocess; its stderr goes to a file (a pipe nobody reads would fill and stall it)."""
    log = open(Path(args[args.index("--out") + 1] if "--out" in args else ".") / f"log-{time.time_ns()}.txt", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "train.dcgan", *args], cwd=ROOT, stdout=log, stderr=log, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc.log = log
    return proc


def output(proc: subprocess.Popen) -> str:
    proc.log.seek(0)
    return proc.log.read()


def wait_until(condition, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, output(proc)[-800:]
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def endless(tmp_path, fashion_dir):
    """Arguments for an MLP run that trains until stopped, logging every step."""
    return ["--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8", "--epochs", "100000",
            "--log-every", "1", "--checkpoint-every", "5", "--out", str(tmp_path), "--name", "live"]


def test_second_trainer_on_a_live_run_is_refused_and_the_live_run_loses_nothing(tmp_path, endless):
    run = tmp_path / "live"
    live = start_training(endless)
    try:
        wait_until(lambda: (run / "last.pt").exists() and len(steps_logged(run)) > 8, live)
        intruders = [subprocess.run([sys.executable, "-m", "train.dcgan", "--resume", str(run)], cwd=ROOT,
                                    capture_output=True, text=True, timeout=120) for _ in range(2)]
        for intruder in intruders:
            lines = intruder.stderr.strip().splitlines()
            assert intruder.returncode == 2 and len(lines) == 1, intruder.stderr
            assert f"pid {live.pid} on {socket.gethostname()}, since " in lines[0] and "nothing was changed" in lines[0]
        seen = len(steps_logged(run))
        wait_until(lambda: len(steps_logged(run)) > seen + 5, live)  # the live run goes on writing
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=60)
    assert live.returncode == 128 + signal.SIGTERM
    steps = steps_logged(run)
    assert steps == list(range(1, len(steps) + 1)), "the live run's records must all be there, once each"
    assert checkpoint.load(run / "last.pt")["step"] == steps[-1]


def test_a_lock_left_by_a_killed_trainer_never_blocks_a_resume(tmp_path, endless):
    run = tmp_path / "live"
    live = start_training(endless)
    wait_until(lambda: (run / "last.pt").exists(), live)
    live.send_signal(signal.SIGKILL)
    live.wait()
    assert (run / ".lock").exists(), "the holder's note outlives it; the flock does not"
    # The kill may land between a periodic step_N.pt and last.pt: the resume starts from the newest of them.
    step = max(checkpoint.load(p)["step"] for p in run.glob("*.pt"))
    assert train_main(["--resume", str(run), "--max-steps", str(step + 2)]) == 0
    assert checkpoint.load(run / "last.pt")["step"] == step + 2
    assert not (run / ".lock").exists()


def test_two_resumes_at_once_one_trains_the_other_is_refused(tmp_path, endless):
    run = tmp_path / "live"
    first = start_training(endless)
    wait_until(lambda: (run / "last.pt").exists(), first)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    step = checkpoint.load(run / "last.pt")["step"]
    resume = ["--resume", str(run), "--max-steps", str(step + 1_000_000), "--out", str(tmp_path)]
    trainer = start_training(resume)
    wait_until(lambda: steps_logged(run) and steps_logged(run)[-1] > step + 2, trainer)  # it holds the lock, training
    intruder = start_training(resume)
    assert intruder.wait(timeout=180) == 2 and "being trained by another process" in output(intruder)
    trainer.send_signal(signal.SIGTERM)
    assert trainer.wait(timeout=60) == 128 + signal.SIGTERM
    steps = steps_logged(run)
    assert steps == list(range(1, steps[-1] + 1)), "no step may be trained or logged twice"


@pytest.fixture
def finished_run(tmp_path, fashion_dir):
    run = tmp_path / "done"
    assert train_main(["--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "12",
                       "--log-every", "2", "--checkpoint-every", "4", "--keep-checkpoints", "5",
                       "--out", str(tmp_path), "--name", "done"]) == 0
    return run


@pytest.mark.parametrize("extra, message", [
    (["--data-dir", "/nowhere/at/all"], "not found in /nowhere/at/all"),
    (["--device", "cuda:0"], "no CUDA GPU"),
    (["--device", "tpu"], "unknown --device"),
])
def test_a_resume_that_fails_its_checks_changes_nothing(finished_run, capsys, extra, message):
    if "cuda" in extra[-1]:
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU, so --device cuda:0 is usable")
    with open(finished_run / "metrics.jsonl", "a") as f:  # records after the checkpoint, as a crash leaves them
        f.write(json.dumps({"step": 13, "epoch": 1}) + "\n")
    before = fingerprint(finished_run)
    assert train_main(["--resume", str(finished_run / "step_0000008.pt"), "--rewind", *extra]) == 2
    assert message in capsys.readouterr().err
    assert fingerprint(finished_run) == before


def test_resuming_an_older_checkpoint_is_refused_unless_rewind_keeps_the_newer_work(finished_run, capsys):
    before = fingerprint(finished_run)
    assert train_main(["--resume", str(finished_run / "step_0000004.pt")]) == 2
    assert "holds newer work (step 12)" in capsys.readouterr().err
    assert fingerprint(finished_run) == before

    assert train_main(["--resume", str(finished_run / "step_0000004.pt"), "--rewind", "--max-steps", "6"]) == 0
    aside = finished_run / "rewound-from-step-12"
    assert f"kept in {aside}" in capsys.readouterr().out
    assert checkpoint.load(aside / "last.pt")["step"] == 12
    assert sorted(p.name for p in aside.glob("step_*.pt")) == ["step_0000008.pt", "step_0000012.pt"]
    assert [json.loads(line)["step"] for line in (aside / "metrics.jsonl").read_text().splitlines()] == [6, 8, 10, 12]
    assert (aside / "samples" / "step_0000012.png").exists()
    assert steps_logged(finished_run) == [2, 4, 6]
    assert checkpoint.load(finished_run / "last.pt")["step"] == 6


def test_naming_the_run_resumes_its_newest_checkpoint(finished_run):
    """A kill between a periodic save and last.pt's leaves step_N.pt newer than last.pt: resume takes it."""
    newest = checkpoint.load(finished_run / "step_0000012.pt")
    older = checkpoint.load(finished_run / "step_0000008.pt")
    checkpoint.save({k: v for k, v in older.items() if k not in ("format", "version")}, finished_run / "last.pt")
    assert train_main(["--resume", str(finished_run), "--max-steps", "14"]) == 0
    assert checkpoint.load(finished_run / "last.pt")["step"] == 14 == newest["step"] + 2


def test_interrupt_while_loading_data_leaves_no_folder(tmp_path, fashion_dir, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gan.data.load", interrupted)
    assert train_main(["--data-dir", str(fashion_dir), "--out", str(tmp_path / "runs"), "--name", "x"]) == 130
    assert not (tmp_path / "runs" / "x").exists()


def test_interrupt_before_the_first_step_leaves_a_resumable_run(tmp_path, fashion_dir, monkeypatch):
    from train.trainer import Trainer

    real_fit = Trainer.fit

    def interrupted_fit(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted_fit)
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(tmp_path), "--name", "early"]
    assert train_main([*common, "--max-steps", "2"]) == 130
    monkeypatch.setattr(Trainer, "fit", real_fit)
    assert train_main(["--resume", str(tmp_path / "early"), "--max-steps", "2"]) == 0
    assert checkpoint.load(tmp_path / "early" / "last.pt")["step"] == 2


def test_resume_of_run_killed_before_first_checkpoint(tmp_path, fashion_dir):
    run = tmp_path / "early"
    assert train_main(["--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "2",
                       "--out", str(tmp_path), "--name", "early", "--checkpoint-every", "0"]) == 0
    (run / "last.pt").unlink()
    (run / ".last.pt.abc.tmp").write_bytes(b"half a file")
    assert train_main(["--resume", str(run), "--max-steps", "3"]) == 0
    assert checkpoint.load(run / "last.pt")["step"] == 3
    assert steps_logged(run) == [3]
    assert not list(run.glob("*.tmp"))
