"""Crash safety, exact resume, numerical faults, hostile files and bad arguments."""
import errno
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from export.to_onnx import main as export_main
from tests import synthetic
from tests.conftest import ROOT
from gan import checkpoint
from train.dcgan import main as train_main


def metric_lines(run: Path) -> list[str]:
    path = run / "metrics.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def wait_for_progress(run: Path, proc: subprocess.Popen, after: int, timeout: float = 60) -> bool:
    """Wait until the run has logged more than `after` records (False if the process ended first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if len(metric_lines(run)) > after:
            return True
        time.sleep(0.02)
    raise AssertionError("training made no progress")


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def test_survives_repeated_sigkill_at_random_moments(tmp_path, fashion_dir):
    out, run = tmp_path / "runs", tmp_path / "runs" / "crash"
    base = [sys.executable, "-m", "train.dcgan", "--model", "mlp", "--data-dir", str(fashion_dir), "--batch-size", "8",
            "--epochs", "10000", "--log-every", "1", "--checkpoint-every", "2", "--keep-checkpoints", "2"]
    kills, mid_write = 0, 0
    command = base + ["--out", str(out), "--name", "crash", "--max-steps", "100000"]
    while kills < 12:
        # every other life, writes pause 0.3 s before their rename and the kill waits for a temp file;
        # the others are killed as soon as they have logged a step
        slow = kills % 2 == 1
        life = command if not slow else [sys.executable, "-m", "tests.slow_fsync", "0.3", *command[2:]]
        proc = subprocess.Popen(life, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_progress(run, proc, after=len(metric_lines(run))):
            if slow:
                deadline = time.time() + 30
                while not temp_files(run) and time.time() < deadline and proc.poll() is None:
                    time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        mid_write += bool(temp_files(run))
        if (run / "last.pt").exists():
            checkpoint.load(run / "last.pt")  # always loadable, whatever the moment of the kill
        command = base + ["--resume", str(run), "--max-steps", "100000"]
    last_step = checkpoint.load(run / "last.pt")["step"] if (run / "last.pt").exists() else 0
    final = subprocess.run(base + ["--resume", str(run), "--max-steps", str(last_step + 6)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-500:]
    steps = [json.loads(line)["step"] for line in metric_lines(run)]  # every line parses: none torn
    assert steps == list(range(1, last_step + 7)), "metrics must be continuous, with no gap or duplicate"
    assert checkpoint.load(run / "last.pt")["step"] == last_step + 6
    assert not temp_files(run), "no temp files may remain"
    assert last_step > 0
    assert mid_write >= 5, f"only {mid_write} kills landed during a write"


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path, fashion_dir):
    run = tmp_path / "term"
    proc = subprocess.Popen([sys.executable, "-m", "train.dcgan", "--model", "mlp", "--data-dir", str(fashion_dir),
                             "--batch-size", "8", "--epochs", "10000", "--log-every", "1", "--checkpoint-every", "0",
                             "--out", str(tmp_path), "--name", "term"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert wait_for_progress(run, proc, after=3)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "SIGTERM: saved" in stdout and "--resume" in stdout and "Traceback" not in stderr
    state = checkpoint.load(run / "last.pt")
    assert state["step"] == json.loads(metric_lines(run)[-1])["step"] > 3


def test_nan_is_caught_and_good_checkpoint_kept(tmp_path, fashion_dir, monkeypatch, capsys):
    import train.trainer as trainer_module

    real_step = trainer_module.train_step
    calls = {"n": 0}

    def poisoned_step(nets, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # after step 5, a weight goes NaN
            with torch.no_grad():
                next(nets.generator.parameters()).fill_(float("nan"))
        return real_step(nets, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_step", poisoned_step)
    code = train_main(["--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "40", "--log-every", "2",
                       "--checkpoint-every", "4", "--out", str(tmp_path), "--name", "nan"])
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error")]  # the rest is the progress bar
    assert code == 2 and len(errors) == 1 and "diverged" in errors[0]
    assert calls["n"] <= 8, "detected within log_every steps"
    state = checkpoint.load(tmp_path / "nan" / "last.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(t).all() for t in state["generator"].values() if t.is_floating_point())
    records = [json.loads(line) for line in metric_lines(tmp_path / "nan")]
    assert all(r["g_loss"] == r["g_loss"] for r in records), "no NaN records written"


@pytest.fixture(scope="module")
def sandbox(tiny_run, tmp_path_factory):
    """An existing run to keep intact, plus broken inputs of every kind."""
    root = tmp_path_factory.mktemp("bad")
    runs = root / "runs"
    shutil.copytree(tiny_run, runs / "existing")
    (root / "empty").mkdir()
    images = synthetic.image_folder(root / "images", per_class=2)
    (images / "train" / "frog" / "zz-broken.jpg").write_bytes(b"\xff\xd8 broken jpeg")
    (root / "hostile.pt").write_bytes(b"")
    torch.save({"format": "gan-workbench-checkpoint", "x": _Evil()}, root / "hostile.pt")
    good = (runs / "existing" / "last.pt").read_bytes()
    (root / "truncated.pt").write_bytes(good[: len(good) // 2])
    state = checkpoint.load(runs / "existing" / "last.pt")
    state["model"]["latent_dim"] = 50
    checkpoint.save({k: v for k, v in state.items() if k not in ("format", "version")}, root / "latent50.pt")
    (root / "notes.txt").write_text("not a checkpoint")
    return root


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


R = "{root}"
TRAIN_BAD = [
    (["--epochs", "0"], "must be > 0"),
    (["--epochs", "-2"], "must be > 0"),
    (["--batch-size", "0"], "must be > 0"),
    (["--batch-size", "many"], "expected an integer"),
    (["--lr", "-0.1"], "must be > 0"),
    (["--model", "stylegan"], "invalid choice"),
    (["--dataset", "imagenet"], "invalid choice"),
    (["--device", "tpu"], "unknown --device"),
    (["--device", "cuda:0", "--data-dir", "{fashion}"], "no CUDA GPU"),
    (["--max-steps", "-1"], "must be >= 0"),
    (["--log-every", "0"], "must be > 0"),
    (["--ema", "1.5"], "must be in [0, 1)"),
    (["--label-smoothing", "1"], "must be in [0, 1)"),
    (["--recipe", "fancy"], "invalid choice"),
    (["--augment", "color,rotate"], "unknown augmentation 'rotate'"),
    (["--augment-p", "2"], "must be in [0, 1]"),
    (["--minutes", "-1"], "must be >= 0"),
    (["--precision", "fp8"], "invalid choice"),
    (["--resume", f"{R}/runs/existing", "--recipe", "modern"], "these differ: --recipe"),
    (["--replay", "-4"], "must be >= 0"),
    (["--no-such-flag"], "unrecognized arguments"),
    (["--name", "../escape"], "not a usable run name"),
    (["--name", "my run"], "not a usable run name"),
    (["--name", ".hidden"], "not a usable run name"),
    (["--name", "a:b"], "not a usable run name"),
    (["--name", "café"], "not a usable run name"),
    (["--name", "existing"], "already exists"),
    (["--data-dir", f"{R}/empty"], "not found in"),
    (["--dataset", "folder"], "needs --data-dir"),
    (["--dataset", "folder", "--data-dir", f"{R}/empty"], "no images"),
    (["--dataset", "folder", "--data-dir", f"{R}/images", "--model", "frog"], "zz-broken.jpg is not a readable image"),
    (["--dataset", "folder", "--data-dir", f"{R}/images", "--model", "frog", "--batch-size", "64"],
     "zz-broken.jpg"),
    (["--model", "frog", "--dataset", "fashion-mnist", "--data-dir", "{fashion}"], "pick the matching --model"),
    (["--data-dir", "{fashion}", "--classes", "Unicorn"], "unknown class"),
    (["--data-dir", "{fashion}", "--batch-size", "100000"], "fewer than one batch"),
    (["--data-dir", "{fashion}", "--out", "/etc/hostname/runs"], "cannot create run folder"),
    (["--resume", f"{R}/nowhere"], "does not exist"),
    (["--resume", f"{R}/notes.txt"], "corrupt or truncated"),
    (["--resume", f"{R}/hostile.pt"], "refusing to load"),
    (["--resume", f"{R}/truncated.pt"], "corrupt or truncated"),
    (["--resume", f"{R}/runs/existing", "--lr", "0.5"], "these differ: --lr"),
    (["--resume", f"{R}/runs/existing", "--model", "mlp"], "these differ: --model"),
]
EXPORT_BAD = [
    ([f"{R}/nowhere.pt"], "does not exist"),
    ([f"{R}/notes.txt"], "corrupt or truncated"),
    ([f"{R}/hostile.pt"], "refusing to load"),
    ([f"{R}/truncated.pt"], "corrupt or truncated"),
    ([f"{R}/latent50.pt"], "do not fit"),
    ([f"{R}/empty"], "holds no checkpoint (last.pt)"),
    (["--runs", f"{R}/empty"], "no runs found"),
    ([f"{R}/runs/existing", "--opset", "7"], "too old"),
    ([f"{R}/runs/existing", "--opset", "x"], "invalid int"),
    ([f"{R}/runs/existing", "--output-range", "0-1"], "invalid choice"),
    ([f"{R}/runs/existing", "--output", "/etc/hostname/g.onnx"], "error:"),
]

EVALUATE_BAD = [
    ([f"{R}/nowhere"], "does not exist"),
    ([f"{R}/notes.txt"], "corrupt or truncated"),
    ([f"{R}/hostile.pt"], "refusing to load"),
    ([f"{R}/empty"], "holds no checkpoint (last.pt)"),
    ([f"{R}/runs/existing", "--samples", "5"], "at least 100"),
    ([f"{R}/runs/existing", "--classifier", f"{R}/notes.txt"], "not a readable classifier"),
    ([f"{R}/runs/existing", "--classifier", f"{R}/runs/existing/last.pt"], "not a GAN workbench classifier"),
    (["--runs", f"{R}/empty"], "no runs found under"),
    ([f"{R}/runs/existing", "--data-dir", f"{R}/empty"], "not found in"),
]


def _run_bad(main, args, sandbox, fashion_dir, capsys):
    args = [a.replace(R, str(sandbox)).replace("{fashion}", str(fashion_dir)) for a in args]
    if "--out" not in args and main is train_main:
        args += ["--out", str(sandbox / "runs")]
    before = fingerprint(sandbox / "runs")
    try:
        code = main(args)
    except SystemExit as exc:  # argparse rejects before our handler runs
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code not in (0, None)
    assert fingerprint(sandbox / "runs") == before, "existing run data must stay intact"
    assert "Traceback" not in "\n".join(err)
    return err


BAD_INPUTS = [("train", a, m) for a, m in TRAIN_BAD] + [("export", a, m) for a, m in EXPORT_BAD] + \
    [("evaluate", a, m) for a, m in EVALUATE_BAD]


@pytest.mark.parametrize("command, args, message", BAD_INPUTS,
                         ids=[f"{c}: {' '.join(a) or '(none)'}" for c, a, _ in BAD_INPUTS])
def test_bad_input(sandbox, fashion_dir, capsys, command, args, message):
    from evaluation.evaluate import main as evaluate_main

    if message == "no CUDA GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so --device cuda:0 is usable")
    main = {"train": train_main, "export": export_main, "evaluate": evaluate_main}[command]
    err = _run_bad(main, args, sandbox, fashion_dir, capsys)
    assert message in err[-1]
    assert len([line for line in err if "error:" in line]) == 1


def test_full_disk_keeps_last_checkpoint(sandbox, fashion_dir, tmp_path, monkeypatch, capsys):
    run = tmp_path / "full"
    shutil.copytree(sandbox / "runs" / "existing", run)
    before = (run / "last.pt").read_bytes()

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(run / "last.pt"))

    monkeypatch.setattr("gan.checkpoint.atomic_write", no_space)
    code = train_main(["--resume", str(run), "--max-steps", "14", "--epochs", "2"])
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error")]
    assert code == 1 and len(errors) == 1 and "No space left on device" in errors[0]
    assert (run / "last.pt").read_bytes() == before
    assert checkpoint.load(run / "last.pt")["step"] == 12
