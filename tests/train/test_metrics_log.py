"""train/metrics_log.py: window means over training time, and NaN records held back."""
import json

import torch

from core.formats.metrics_jsonl import LOSS_METRICS
from train.metrics_log import MetricsLog


def test_flush_writes_the_window_mean_once(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl", torch.device("cpu"))
    for value in (1.0, 3.0):
        log.sum += torch.full((len(LOSS_METRICS),), value)
        log.count += 1
    record = log.flush(step=2, epoch=1, elapsed=1.5, batch_size=8, extra={"lr_d": 1e-3})
    assert all(record[name] == 2.0 for name in LOSS_METRICS) and record["lr_d"] == 1e-3 and record["time"] == 1.5
    assert log.flush(step=2, epoch=1, elapsed=1.5, batch_size=8, extra={}) is None, "an empty window writes nothing"
    log.sum += float("nan")
    log.count += 1
    assert log.flush(step=3, epoch=1, elapsed=2.0, batch_size=8, extra={})["g_loss"] != 0
    log.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2], "a NaN record is returned, never written"


def test_images_per_second_count_training_time_only(tmp_path):
    """Evaluations and checkpoints between two flushes stop the training clock; the rate must not drop for them."""
    log = MetricsLog(None, torch.device("cpu"), elapsed=10.0)
    log.count = 50
    record = log.flush(step=50, epoch=1, elapsed=12.0, batch_size=32, extra={})
    assert record["images_per_s"] == 50 * 32 / 2.0
