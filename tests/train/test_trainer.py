"""The training loop: what a run folder holds, exact resume, every preset, speed options, signals."""
import json
import signal

import pytest
import torch

from core.formats.metrics_jsonl import LOSS_METRICS as METRIC_NAMES
from tests import synthetic
from gan import checkpoint
from train.dcgan import main
from gan.models import build


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


def test_modern_recipe_resumes_bit_identically_with_its_augmentation_state(tmp_path, fashion_dir):
    """Spectral norm's power-iteration vectors, Adam's moments, the warmed-up EMA and the adaptive
    augmentation probability all come back exactly: a split run ends where a straight one does."""
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(tmp_path), "--checkpoint-every", "0",
              "--recipe", "modern", "--spectral-norm", "on", "--augment-p", "0.5", "--ada-kimg", "0.1", "--log-every", "2"]
    assert main(common + ["--name", "straight", "--max-steps", "12"]) == 0
    assert main(common + ["--name", "split", "--max-steps", "6"]) == 0  # stops between two adjustments of p
    assert main(["--resume", str(tmp_path / "split"), "--max-steps", "12"]) == 0
    a, b = checkpoint.load(tmp_path / "straight" / "last.pt"), checkpoint.load(tmp_path / "split" / "last.pt")
    assert any("parametrizations" in key for key in a["discriminator"])  # D is spectrally normalised
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    assert torch.equal(a["augment"]["p"], b["augment"]["p"])
    assert float(a["augment"]["p"]) != 0.5  # 3 adjustments of ±0.32 (at this --ada-kimg) cannot add up to 0
    assert a["opt_d"]["state"][0].keys() >= {"exp_avg", "exp_avg_sq"}  # Adam
    p_logged = [r["augment_p"] for r in read_metrics(tmp_path / "split")]
    assert p_logged == [r["augment_p"] for r in read_metrics(tmp_path / "straight")] and len(set(p_logged)) > 1


def test_book_recipe_is_unchanged_by_the_modern_one(tmp_path, fashion_dir):
    """No augmentation, RMSprop, no spectral norm; the default EMA of G never feeds back into training."""
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--max-steps", "3", "--out", str(tmp_path)]
    assert main(common + ["--name", "book"]) == 0
    assert main(common + ["--name", "no-ema", "--ema", "0"]) == 0
    state, plain = checkpoint.load(tmp_path / "book" / "last.pt"), checkpoint.load(tmp_path / "no-ema" / "last.pt")
    assert state["augment"] is None and state["generator_ema"] is not None and plain["generator_ema"] is None
    assert not any("parametrizations" in key for key in state["discriminator"])
    assert "square_avg" in state["opt_d"]["state"][0]  # RMSprop
    assert "augment_p" not in read_metrics(tmp_path / "book")[0]
    for part in ("generator", "discriminator"):
        for key, value in state[part].items():
            assert torch.equal(value, plain[part][key]), f"{part}.{key}"


@pytest.mark.parametrize("model", ["mlp", "frog"])
def test_other_presets_train(tmp_path, fashion_dir, model):
    extra = ["--data-dir", str(fashion_dir)]
    if model == "frog":
        extra = ["--dataset", "folder", "--data-dir", str(synthetic.image_folder(tmp_path / "img", per_class=4))]
    assert main(extra + ["--model", model, "--batch-size", "4", "--max-steps", "3", "--log-every", "1",
                         "--out", str(tmp_path), "--name", model, "--minibatch-std", "--epochs", "2", "--ema", "0"]) == 0
    records = read_metrics(tmp_path / model)
    assert len(records) == 3 and all(r["g_loss"] > 0 for r in records)
    if model == "frog":
        assert records[0]["lr_d"] == 8e-4 and records[0]["lr_g"] == 4e-4


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


class SteppingClock:
    """A clock that advances one second per reading: every step then takes at least a second of training."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def test_a_time_budget_stops_saves_and_resumes_with_a_new_length(tmp_path, fashion_dir, monkeypatch, capsys):
    import train.trainer

    monkeypatch.setattr(train.trainer, "time", SteppingClock())
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(tmp_path), "--name", "timed"]
    assert main(common + ["--minutes", "0.001"]) == 0  # 0.06 s: used up by the first step
    run = tmp_path / "timed"
    state = checkpoint.load(run / "last.pt")
    assert state["step"] == 1 and state["config"]["minutes"] == 0.001
    out = capsys.readouterr().out
    assert "the 0.001-minute budget is used: 1 steps (0.1 epochs)" in out and "the book trains 50 epochs" in out
    assert "--resume" in out and "--recipe modern" in out
    assert (run / "samples" / "step_0000001.png").is_file()
    assert main(["--resume", str(run), "--epochs", "1"]) == 0  # the new length replaces the budget
    state = checkpoint.load(run / "last.pt")
    assert state["step"] == 16 and state["config"]["minutes"] == 0.0


def test_threads_fixed_or_tuned_and_put_back(tmp_path, fashion_dir, monkeypatch, capsys):
    """--threads 1 trains on one thread; --threads 0 probes (made to probe at once here) and trains on; both
    leave the process's thread count as it was, and a probe moves nothing a run computes."""
    from train import threads

    before = torch.get_num_threads()
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(tmp_path), "--checkpoint-every", "0",
              "--max-steps", "12"]
    assert main(common + ["--name", "one", "--threads", "1"]) == 0
    assert "; 1 torch threads)" in capsys.readouterr().out and torch.get_num_threads() == before
    if before < 2:
        pytest.skip("the tuner needs two threads to choose from (this process has one)")
    assert main(common + ["--name", "fixed", "--threads", str(before)]) == 0
    probes = []
    monkeypatch.setattr(threads, "PROBE_AFTER_S", 0.0)
    monkeypatch.setattr(threads.ThreadTuner, "probe", lambda self, probe=threads.ThreadTuner.probe:
                        (probe(self), probes.append(self.history[-1]), self._switch(before)))
    assert main(common + ["--name", "tuned"]) == 0
    assert probes and all(set(timed) == {before, before // 2} for _, _, timed in probes), "both counts timed"
    assert torch.get_num_threads() == before
    fixed, tuned = checkpoint.load(tmp_path / "fixed" / "last.pt"), checkpoint.load(tmp_path / "tuned" / "last.pt")
    for part in ("generator", "discriminator", "generator_ema"):
        assert all(torch.equal(fixed[part][k], tuned[part][k]) for k in fixed[part]), f"a probe changed {part}"
