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


def test_pace_skips_the_warm_up_and_converges_on_the_steady_rate():
    from core.progress import Pace

    pace = Pace(step=0, elapsed=0.0, warmup=3.0)
    # a slow start (0.5 s per step for 3 s) that a first-seconds estimate would take for the rate, then 100 steps/s
    step, elapsed = 0, 0.0
    for _ in range(6):
        step, elapsed = step + 1, elapsed + 0.5
        pace.update(step, elapsed)
    assert pace.rate is None, "no rate is claimed during the warm-up"
    for _ in range(1000):
        step, elapsed = step + 1, elapsed + 0.01
        pace.update(step, elapsed)
    assert abs(pace.rate - 100) < 1 and abs(pace.measured_for - 10) < 0.1


def test_with_a_time_budget_the_end_and_the_time_left_follow_the_budget():
    """A 3-minute quick look planned for 5 epochs: the ETA is the budget's, not the 5 epochs' (issue seen: '2 h 57
    min left' during a 3-minute run)."""
    from core.progress import Pace

    pace = Pace(step=0, elapsed=0.0, budget=180.0, warmup=1.0)
    for step in range(1, 2001):
        pace.update(step, step / 10)  # 10 steps per second
    total = 9375  # 5 epochs of 1,875 steps
    assert pace.end_step(1000, 100.0, total) == 1000 + 800  # 80 s of budget left at 10 steps/s
    assert abs(pace.seconds_left(1000, 100.0, total) - 80.0) < 1
    assert Pace(0, 0.0).end_step(5, 1.0, total) == total, "without a budget the run ends at its step count"
