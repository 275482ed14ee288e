"""train/metrics_log.py: window means, NaN records held back, and resume's cut to a step."""
import json

import torch

from core.runs import LOSS_METRICS
from train.metrics_log import MetricsLog, split_metrics, truncate_metrics


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


def test_truncate_keeps_whole_records_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 2}\n{"step": 4, "fid": 1}\n{"step": 6}\n{"step": 8')
    assert split_metrics(path, 4) == (['{"step": 2}', '{"step": 4, "fid": 1}'], ['{"step": 6}'])
    truncate_metrics(path, 4)
    assert path.read_text() == '{"step": 2}\n{"step": 4, "fid": 1}\n'
