"""The export CLI: what it writes, what it prints, and what it refuses."""
import numpy as np
import pytest
import torch

from inference import runtime
from export.to_onnx import main as export_main


QUICK = ["--explore-images", "64"]  # the explore data's size does not matter to these tests


def test_cli_exports_run_with_ema_and_runtime_reproduces_torch(own_run, capsys):
    assert export_main([str(own_run), *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "batch 1:" in printed and "batch 7:" in printed and "batch 64:" in printed
    assert "folded Linear+Reshape+BatchNorm2d+ConvTranspose2d" in printed
    for name in ("generator.onnx", "generator_ema.onnx"):
        g = runtime.OnnxGenerator(own_run / name, device="cpu")
        assert g.provider == "CPUExecutionProvider"
        meta = g.info.metadata
        for key in ("preset", "latent_dim", "image_shape", "pixel_range", "dataset", "epoch", "step",
                    "checkpoint_sha256", "torch_version", "onnx_version"):
            assert meta.get(key), key
        assert meta["step"] == "12" and meta["weights"] == name[:-5]
        z = g.latents(seed=7, count=5)
        assert np.array_equal(z, g.latents(seed=7, count=5)) and not np.array_equal(z, g.latents(8, 5))
        images = g.images(z)
        assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
        assert np.array_equal(images, g.images(z))  # deterministic across calls
    from gan import checkpoint
    state = checkpoint.load(own_run / "last.pt")
    generator, _ = checkpoint.build_generators(state)
    with torch.no_grad():
        torch_images = generator(torch.from_numpy(z)).numpy()
    onnx_float = runtime.OnnxGenerator(own_run / "generator.onnx").run(z)
    assert np.abs(onnx_float - torch_images).max() < 1e-4


@pytest.mark.parametrize("flags, name, dtype", [(["--output-range", "0-255"], "generator_u8.onnx", np.uint8),
                                                (["--fp16"], "generator_fp16.onnx", np.float32),
                                                (["--no-fold", "--output", "literal.onnx"], "literal.onnx", np.float32)])
def test_cli_variants(own_run, flags, name, dtype, monkeypatch):
    monkeypatch.chdir(own_run)  # a relative --output lands in the run folder
    assert export_main([str(own_run), *QUICK]) == 0  # the plain fp32 export, to compare with
    assert export_main([str(own_run), *flags, *QUICK]) == 0
    g, reference = runtime.OnnxGenerator(own_run / name), runtime.OnnxGenerator(own_run / "generator.onnx")
    z = g.latents(1, 4)
    raw = g.run(z)
    assert raw.dtype == dtype and raw.shape == (4, 1, 28, 28)
    assert np.abs(g.images(z).astype(int) - reference.images(z).astype(int)).max() <= 3


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert export_main(["--runs", str(tmp_path)]) == 2
    assert "python -m train.dcgan" in capsys.readouterr().err
    assert export_main([str(tmp_path / "missing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    assert export_main([str(junk)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    assert export_main([str(foreign)]) == 2
    assert "not a GAN workbench checkpoint" in capsys.readouterr().err


class _RunsCode:
    def __reduce__(self):
        return (print, ("this would have run",))


def test_checkpoint_that_runs_code_is_refused(tmp_path, capsys):
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": "gan-workbench-checkpoint", "payload": _RunsCode()}, hostile)
    assert export_main([str(hostile)]) == 2
    captured = capsys.readouterr()
    assert "refusing to load" in captured.err and "this would have run" not in captured.out
    truncated = tmp_path / "truncated.pt"
    good = tmp_path / "good.pt"
    torch.save({"format": "x", "w": torch.zeros(1000)}, good)
    truncated.write_bytes(good.read_bytes()[:-300])
    assert export_main([str(truncated)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err




@pytest.mark.parametrize("output, message", [
    ("last.pt", "must end in .onnx"), ("config.json", "must end in .onnx"),
    ("notes.onnx", "is not an exported generator; refusing to overwrite"), ("samples.onnx", "is a folder"),
])
def test_export_never_writes_over_a_checkpoint_or_any_other_file(own_run, capsys, output, message):
    (own_run / "notes.onnx").write_text("my notes, not a model")
    (own_run / "samples.onnx").mkdir()
    before = {p.name: p.read_bytes() for p in own_run.iterdir() if p.is_file()}
    assert export_main([str(own_run), "--output", str(own_run / output), *QUICK]) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in own_run.iterdir() if p.is_file()} == before


def test_a_checkpoint_with_nan_weights_fails_the_parity_proof(own_run, capsys):
    from gan import checkpoint

    state = checkpoint.load(own_run / "last.pt")
    next(iter(v for v in state["generator"].values() if v.is_floating_point())).fill_(float("nan"))
    checkpoint.save({k: v for k, v in state.items() if k not in ("format", "version")}, own_run / "nan.pt")
    assert export_main([str(own_run / "nan.pt"), "--output", str(own_run / "nan.onnx"), *QUICK]) == 2
    assert "non-finite (NaN/inf) images" in capsys.readouterr().err
    assert not (own_run / "nan.onnx").exists()


def test_export_cleans_its_temp_files_after_sigterm_and_after_a_kill(own_run):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-m", "tests.slow_fsync", "30", "export.to_onnx", str(own_run), *QUICK],
                                cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not list(own_run.glob(".generator*.tmp")):
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-500:]
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        if sig == signal.SIGTERM:
            assert proc.returncode == 143 and "terminated" in proc.stderr.read()
            assert not list(own_run.glob(".generator*.tmp")), "SIGTERM must leave no temp file"
        else:
            assert list(own_run.glob(".generator*.tmp")), "a kill leaves its temp file behind"
    assert export_main([str(own_run), *QUICK]) == 0
    assert not list(own_run.glob(".*.tmp")), "the next export removes what a killed one left"
    assert runtime.OnnxGenerator(own_run / "generator.onnx").images(np.zeros((1, 100), np.float32)).shape[0] == 1


def test_two_exports_of_one_checkpoint_are_byte_identical(own_run, tmp_path):
    first, second = tmp_path / "a" / "generator.onnx", tmp_path / "b" / "generator.onnx"
    for out in (first, second):
        out.parent.mkdir()
        assert export_main([str(own_run), "--output", str(out), "--explore-images", "128"]) == 0
    for name in ("generator.onnx", "generator.explore.npz", "generator_ema.onnx", "generator_ema.explore.npz"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name


def test_a_full_disk_at_any_write_leaves_the_previous_export_whole(own_run, monkeypatch):
    """ENOSPC injected at each file of the set in turn: the old model, explore data and card survive byte for byte."""
    import errno
    import hashlib

    import core.files

    assert export_main([str(own_run), *QUICK]) == 0
    exported = sorted(p for p in own_run.iterdir() if p.suffix in (".onnx", ".npz", ".md"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in exported}
    assert {"generator.onnx", "generator.explore.npz", "README.md"} <= set(before)
    real_write = core.files._write_fully
    for failing in range(len(before)):
        calls = []

        def write_until_full(fd, data, path, failing=failing):
            calls.append(path)
            if len(calls) == failing + 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_write(fd, data, path)

        monkeypatch.setattr(core.files, "_write_fully", write_until_full)
        assert export_main([str(own_run), "--explore-images", "96"]) == 1  # other explore data: other bytes
        after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in own_run.iterdir() if p.name in before}
        assert after == before, f"write {failing + 1} failed and changed the previous set"
        assert not list(own_run.glob(".*.tmp")), "no temp file may remain"


def test_the_model_card_is_written_and_a_users_readme_is_never_overwritten(own_run, capsys):
    assert export_main([str(own_run), *QUICK]) == 0
    card = (own_run / "README.md").read_text()
    assert card.startswith("---\nlicense: other") and "pipeline_tag: unconditional-image-generation" in card
    assert "## Training" in card and "## How to load it" in card and "generator_ema.onnx" in card
    (own_run / "README.md").write_text("# my notes")
    assert export_main([str(own_run), *QUICK]) == 0
    assert (own_run / "README.md").read_text() == "# my notes"
    assert "is not a model card of this tool: left as it is" in capsys.readouterr().out
