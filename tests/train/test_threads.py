"""train/threads.py: the thread count follows what is measured fastest, on a simulated shared machine."""
from train.threads import MARGIN, PROBE_AFTER_S, PROBE_EVERY_S, ThreadTuner


class Machine:
    """A simulated CPU: seconds of one workload call by thread count, which a test changes as another program
    starts or stops; a clock that only the workload advances."""

    def __init__(self, seconds: dict[int, float]):
        self.seconds, self.threads, self.now = seconds, 2, 0.0
        self.switches, self.decisions, self.calls = [], [], 0

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.switches.append(count)

    def workload(self) -> None:
        self.calls += 1
        self.now += self.seconds[self.threads]

    def tuner(self) -> ThreadTuner:
        return ThreadTuner(2, self.set_threads, self.workload, lambda *change: self.decisions.append(change),
                           clock=lambda: self.now)

    def train(self, tuner: ThreadTuner, training_seconds: float, step: float = 0.05) -> None:
        """Steps of `step` seconds; what the threads were during each step is recorded."""
        self.step_threads = set()
        end = tuner.elapsed + training_seconds
        while tuner.elapsed < end:
            self.step_threads.add(self.threads)
            tuner.observe(step)


def test_alone_it_keeps_every_core_and_probes_every_few_minutes():
    machine = Machine({2: 0.010, 1: 0.016})
    tuner = machine.tuner()
    machine.train(tuner, PROBE_AFTER_S - 1)
    assert machine.calls == 0, "no probe in a run's first minute (short runs and tests are never probed)"
    machine.train(tuner, 3600)
    assert machine.threads == 2 and machine.decisions == [] and machine.step_threads == {2}
    assert len(tuner.history) == int((3600 - 1) // PROBE_EVERY_S) + 1
    assert machine.now / 3600 < 0.01, "probing costs under 1 % of the training time"


def test_beside_a_busy_program_it_drops_to_one_thread_and_comes_back_after():
    machine = Machine({2: 0.010, 1: 0.016})
    tuner = machine.tuner()
    machine.train(tuner, 100)
    machine.seconds = {2: 0.038, 1: 0.017}  # the EPYC's ratio beside a single-threaded run
    machine.train(tuner, 400)
    assert machine.threads == 1 and machine.decisions == [(2, 1)]
    machine.seconds = {2: 0.010, 1: 0.016}  # the other program ended
    machine.train(tuner, 400)
    assert machine.threads == 2 and machine.decisions == [(2, 1), (1, 2)]


def test_a_gain_within_the_margin_changes_nothing():
    machine = Machine({2: 0.010, 1: 0.010 / MARGIN * 1.01})
    tuner = machine.tuner()
    machine.train(tuner, 1000)
    assert machine.threads == 2 and machine.decisions == [] and tuner.history


def test_the_first_call_after_a_switch_is_not_counted():
    """The call that wakes the threads is slow; it must not decide the probe."""
    machine = Machine({2: 0.010, 1: 0.016})
    tuner = machine.tuner()
    warm: set[int] = set()
    real = machine.workload

    def cold_then_warm():
        real()
        if machine.threads not in warm:
            warm.add(machine.threads)
            machine.now += 1.0 if machine.threads == 2 else 0.0

    tuner.workload = cold_then_warm
    machine.train(tuner, PROBE_AFTER_S + 1)
    assert tuner.history and machine.threads == 2 and machine.decisions == []


def test_a_costly_probe_waits_longer_for_the_next():
    machine = Machine({2: 0.5, 1: 0.9})  # a frog-sized forward pass
    tuner = machine.tuner()
    machine.train(tuner, 7200, step=2.0)
    assert 2 <= len(tuner.history) <= 30
    assert machine.now / 7200 <= 0.011, "about 1 % of the training time, whatever a probe costs"


def test_one_core_has_nothing_to_tune():
    machine = Machine({1: 0.1})
    machine.threads = 1
    tuner = ThreadTuner(1, machine.set_threads, machine.workload)
    machine.train(tuner, 1000)
    assert not tuner.enabled and machine.switches == [] and machine.calls == 0
