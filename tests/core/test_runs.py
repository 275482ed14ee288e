"""core/runs.py: run folders as the tools list them, treated as untrusted input."""
import json
import os
from pathlib import Path

import pytest

from core.formats.eval_json import read as read_eval
from core.formats.json_file import read_json
from core.formats.metrics_jsonl import read_metrics
from core.runs import Run, discover, grid_name, grid_step, open_run, periodic_checkpoint, safe_child, valid_run_name


def make_run(root, name, config=None, onnx=True):
    path = root / name
    (path / "samples").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config if config is not None else {
        "train": {"epochs": 3}, "model": {"preset": "dcgan", "dataset": "fashion-mnist", "class_names": ["a"]},
        "steps_per_epoch": 10, "created": "2026-01-02T03:04:05"}))
    if onnx:
        (path / "generator.onnx").write_bytes(b"stand-in")
    return path


def test_names_and_layout():
    assert grid_name(epoch=3) == "epoch_0003.png" and grid_name(step=42, prefix="ema_") == "ema_step_0000042.png"
    assert periodic_checkpoint(1000) == "step_0001000.pt"
    assert all(valid_run_name(n) for n in ("dcgan-fashion-mnist-20260101-120000", "a", "run_1.b"))
    assert not any(valid_run_name(n) for n in ("", ".", "..", ".hidden", "my run", "café", "a:b", "a/b", "x" * 101, 3))


def test_open_run_reads_typed_facts(tmp_path):
    make_run(tmp_path, "good")
    run = open_run(tmp_path, "good")
    assert (run.preset, run.dataset, run.facts.epochs, run.steps_per_epoch, run.class_names) == \
        ("dcgan", "fashion-mnist", "3", 10, ("a",))
    assert run.problems == [] and list(run.models) == ["generator"]


@pytest.mark.parametrize("config", [
    {"train": "x", "model": 5}, {"train": {"epochs": "many"}, "model": {"preset": 7, "class_names": "abc"},
                                 "steps_per_epoch": "ten", "created": 1}, [], "text",
])
def test_wrong_json_types_mark_only_that_run(tmp_path, config):
    make_run(tmp_path, "bad", config=config)
    make_run(tmp_path, "good")
    runs = {r.name: r for r in discover(tmp_path).runs}
    assert runs["good"].problems == []
    bad = runs["bad"]
    assert bad.label() and bad.steps_per_epoch is None and isinstance(bad.preset, str)
    assert bad.problems or not isinstance(config, dict)


def test_links_that_leave_the_root_are_never_followed(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_run(tmp_path, "outside")
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    run_dir = make_run(root, "inside")
    (run_dir / "metrics.jsonl").symlink_to(outside / "config.json")
    (run_dir / "eval.json").symlink_to(outside / "config.json")
    (run_dir / "samples" / "epoch_0001.png").symlink_to(outside / "generator.onnx")
    (run_dir / "generator_ema.onnx").symlink_to(outside / "generator.onnx")
    assert [r.name for r in discover(root).runs] == ["inside"]
    run = open_run(root, "inside")
    assert list(run.models) == ["generator"] and run.grids() == []
    records, _, problem = read_metrics(run.metrics_path, root)
    assert records == [] and "outside" in problem
    assert read_eval(run.eval_path, root)[0] is None
    for name in ("..", "../x", "/etc", "a/b", ".hidden", "", "x\x00y", "escape", "y" * 10_000):
        assert safe_child(root, name) is None


def test_special_and_huge_files_are_not_read(tmp_path):
    run_dir = make_run(tmp_path, "r")
    os.mkfifo(run_dir / "metrics.jsonl")  # would block a naive open() forever
    records, _, problem = read_metrics(run_dir / "metrics.jsonl", tmp_path)
    assert records == [] and "not a regular file" in problem
    with open(run_dir / "eval.json", "wb") as f:
        f.truncate(64 << 20)  # 64 MB of holes: declared huge
    report, problem = read_json(run_dir / "eval.json", tmp_path)
    assert report is None and "limit" in problem


def test_grids_end_with_the_step_grid_of_a_run_stopped_mid_epoch(tmp_path):
    from core.formats.config_json import Facts

    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    for name in ("epoch_0001.png", "epoch_0002.png", "step_0000150.png", "step_0000250.png", "step_0000x.png"):
        (samples / name).write_bytes(b"png")
    run = Run("run", tmp_path / "run", tmp_path, Facts(steps_per_epoch=100))
    assert [g.name for g in run.grids()] == ["epoch_0001.png", "epoch_0002.png", "step_0000250.png"]
    assert [g.name for g in Run("run", tmp_path / "run", tmp_path).grids()] == ["epoch_0001.png", "epoch_0002.png"]
    (samples / "epoch_final.png").write_bytes(b"png")  # named by hand: sorts last, and has no step
    assert [g.name for g in run.grids()] == ["epoch_0001.png", "epoch_0002.png", "epoch_final.png"]


@pytest.mark.parametrize("name, steps_per_epoch, step", [
    ("epoch_0028.png", 250, 7000), ("ema_epoch_0028.png", 250, 7000), ("step_0006036.png", 250, 6036),
    ("epoch_0028.png", None, None), ("epoch_0028.png", "250", None), ("epoch_0028.png", True, None),
    ("epoch_0028.png", 0, None), ("epoch_final.png", 250, None), ("interpolation.png", 250, 0)])
def test_grid_step_reads_a_grids_name_and_trusts_only_a_whole_epoch_length(name, steps_per_epoch, step):
    """config.json is read as a user may have edited it: an epoch length of "250" must not repeat a string."""
    assert grid_step(Path(name), steps_per_epoch) == step


def test_every_run_is_listed_and_unusable_names_are_said(tmp_path):
    """2,000 runs: all listed (none silently missing); folders whose names the tools cannot use are named with why."""
    for i in range(2000):
        make_run(tmp_path, f"run-{i:04d}", onnx=False)
    for name in ("my run", "café", ".hidden"):
        make_run(tmp_path, name)
    (tmp_path / "not-a-run").mkdir()
    listing = discover(tmp_path)
    assert len(listing.runs) == 2000
    assert set(listing.skipped) == {"my run", "café", ".hidden"}
    assert all("not a usable run name" in why for why in listing.skipped.values())


def test_trained_says_what_was_trained_beside_the_plan(tmp_path):
    make_run(tmp_path, "r", config={"train": {"epochs": 40, "max_steps": 10000}, "model": {}, "steps_per_epoch": 250})
    run = open_run(tmp_path, "r")
    assert run.trained(2000) == "2,000 of 10,000 steps (8.0 of 40 epochs)"
    assert run.trained(None) == "40 epochs planned"
