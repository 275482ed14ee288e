"""core/targets.py: every command resolves its target (run folder, checkpoint, model, newest run) alike."""
import os

import pytest

from core.errors import UserError
from core.targets import locate, newest_run
from tests.core.test_runs import make_run


def test_newest_run_is_the_one_with_the_newest_checkpoint(tmp_path):
    assert newest_run(tmp_path) is None
    for name, when in (("old", 1000), ("new", 2000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "last.pt").write_bytes(b"x")
        os.utime(tmp_path / name / "last.pt", (when, when))
    assert newest_run(tmp_path).name == "new"


def test_locate_resolves_every_kind_of_target_alike(tmp_path):
    run = make_run(tmp_path, "r")
    (run / "last.pt").write_bytes(b"x")
    assert locate(None, tmp_path).checkpoint == run / "last.pt"
    assert locate(str(run), tmp_path).checkpoint == run / "last.pt"
    (run / "step_1.pt").touch()
    assert locate(str(run / "step_1.pt"), tmp_path).checkpoint == run / "step_1.pt"
    assert locate(str(run / "generator.onnx"), tmp_path, accept=("checkpoint", "onnx")).onnx == run / "generator.onnx"
    for target, accept, message in [
        (str(run / "generator.onnx"), ("checkpoint",), "is an exported ONNX model; cmd needs a run folder"),
        (str(tmp_path / "nope"), ("checkpoint",), "does not exist; cmd takes a run folder"),
        (str(tmp_path), ("checkpoint",), "holds no checkpoint \\(last.pt\\); the run folders that python -m "
                                         "train.dcgan makes have them"),
    ]:
        with pytest.raises(UserError, match=message):
            locate(target, tmp_path, accept=accept, command="cmd")
    with pytest.raises(UserError, match="no runs found under"):
        locate(None, tmp_path / "empty")


def test_a_run_with_only_one_exported_generator_uses_it(tmp_path):
    run = make_run(tmp_path, "r", onnx=False)
    (run / "generator_fp16_ema.onnx").write_bytes(b"x")
    assert locate(str(run), tmp_path, accept=("onnx",)).onnx == run / "generator_fp16_ema.onnx"
    (run / "generator_fp16.onnx").write_bytes(b"x")
    assert locate(str(run), tmp_path, accept=("checkpoint", "onnx")).onnx == run / "generator_fp16.onnx", \
        "with both exported, the raw G unless the EMA is asked for"
    assert locate(str(run), tmp_path, accept=("onnx",), want="generator_ema.onnx").onnx == \
        run / "generator_fp16_ema.onnx"


def test_asking_for_a_generator_the_run_lacks_names_what_it_has(tmp_path):
    run = make_run(tmp_path, "r")  # generator.onnx only
    with pytest.raises(UserError, match="has no generator_ema.onnx \\(asked for by --ema\\); it holds "
                                        "generator.onnx: leave out --ema"):
        locate(str(run), tmp_path, accept=("onnx",), want="generator_ema.onnx", want_flag="--ema")


def test_a_trained_but_unexported_run_says_what_to_run(tmp_path):
    """The normal state right after python -m train.dcgan: last.pt, no ONNX file yet."""
    run = make_run(tmp_path, "r", onnx=False)
    (run / "last.pt").write_bytes(b"x")
    with pytest.raises(UserError, match=f"{run} is trained but not exported yet: run python -m export.to_onnx {run}, "
                                        "then gen again"):
        locate(str(run), tmp_path, accept=("onnx",), command="gen")
