"""core/formats/metrics_jsonl.py: good records kept, bad lines counted, incremental reads in bounded memory."""
import json

from core.formats.metrics_jsonl import MetricsReader, read_metrics, split_metrics, truncate_metrics


def test_keeps_good_records_and_counts_bad_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "g_loss": 0.5}\nnot json\n[1]\n{"step": "two"}\n{"step": NaN}\n{"step": 3}\n')
    records, bad, problem = read_metrics(path, tmp_path)
    assert [r["step"] for r in records] == [1, 3] and bad == 4 and problem is None


def test_values_no_chart_can_hold_are_dropped_and_the_record_kept(tmp_path):
    """An integer past 2**53 (or past float64) used to reach pandas, which could not convert it."""
    path = tmp_path / "metrics.jsonl"
    lines = [{"step": 10**30, "g_loss": 1.0}, {"step": 2, "g_loss": 10**400, "d_loss_real": 0.5, "note": "x"},
             {"step": 4, "fid": 10**30, "recall": 0.2}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    reader = MetricsReader(path, tmp_path).update()
    assert reader.bad == 1
    assert reader.training == [{"step": 2, "d_loss_real": 0.5}] and reader.quality == [{"step": 4, "recall": 0.2}]


def test_reads_only_what_was_appended_and_waits_for_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "g_loss": 1}\n{"step": 2, "g_lo')
    reader = MetricsReader(path, tmp_path).update()
    assert [r["step"] for r in reader.records] == [1] and reader.bad == 0
    with open(path, "a") as f:
        f.write('ss": 2}\n{"step": 2, "fid": 9.5}\n')
    reader.update()
    assert [(r["step"], "fid" in r) for r in reader.records] == [(1, False), (2, False), (2, True)]
    truncate_metrics(path, 1)  # a resume cut the file back: read again from the start
    assert [r["step"] for r in reader.update().records] == [1]


def test_memory_stays_bounded_on_a_huge_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with open(path, "w") as f:
        for step in range(1, 100_001):
            f.write(json.dumps({"step": step, "g_loss": 1.0, "d_loss_real": 0.5}) + "\n")
            if step % 1000 == 0:
                f.write(json.dumps({"step": step, "fid": 50.0}) + "\n")
    reader = MetricsReader(path, tmp_path, max_training=5000).update()
    assert 2500 <= len(reader.training) <= 5000 and len(reader.quality) == 100
    steps = [r["step"] for r in reader.training]
    assert steps[0] == 1 and steps[-1] >= 100_000 - reader.stride and steps == sorted(steps)


def test_split_keeps_whole_records_up_to_a_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"ste')
    kept, later = split_metrics(path, 2)
    assert [json.loads(x)["step"] for x in kept] == [1, 2] and [json.loads(x)["step"] for x in later] == [3]
