"""core/progress.py: plain periodic lines where there is no terminal, and the end said once."""
import io

from core.progress import PlainProgress, duration, progress


def test_plain_lines_say_where_the_work_is_and_the_end_is_said_once():
    out = io.StringIO()
    bar = PlainProgress(total=4, desc="epoch 1/1", unit="step", interval=0.0, stream=out)
    for _ in range(4):
        bar.update(1)  # the interval has always elapsed, even on the last step
    bar.set_postfix({"g": "1.0"})
    bar.close()
    bar.close()
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch 1/1: 1/4 step (25.0 %)", "epoch 1/1: 2/4 step (50.0 %)",
                                                      "epoch 1/1: 3/4 step (75.0 %)", "epoch 1/1: 4/4 step (100.0 %)"]
    assert "left" in lines[0] and lines[-1].endswith("g 1.0") and "left" not in lines[-1]


def test_no_terminal_gives_plain_lines_and_durations_read_naturally(capsys):
    assert isinstance(progress(10), PlainProgress)  # pytest's captured stderr is not a terminal
    assert [duration(s) for s in (45, 720, 7500)] == ["45 s", "12 min", "2 h 05 min"]
