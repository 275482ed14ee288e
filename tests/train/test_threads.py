"""train/threads.py: the thread count follows what is measured fastest, on a simulated shared machine."""
from train import threads
from train.threads import PROBE_AFTER_S, ThreadTuner


class Machine:
    """Step seconds by thread count, which a test changes as another program starts or stops."""

    def __init__(self, seconds: dict[int, float]):
        self.seconds, self.threads, self.switches, self.decisions = seconds, 2, [], []

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.switches.append(count)

    def train(self, tuner: ThreadTuner, training_seconds: float) -> None:
        end = tuner.elapsed + training_seconds
        while tuner.elapsed < end:
            tuner.observe(self.seconds[self.threads])


def tuner_on(machine: Machine) -> ThreadTuner:
    return ThreadTuner(2, machine.set_threads, lambda before, after: machine.decisions.append((before, after)))


def test_alone_it_keeps_every_core_and_probes_rarely():
    machine = Machine({2: 0.05, 1: 0.08})
    tuner = tuner_on(machine)
    machine.train(tuner, PROBE_AFTER_S - 1)
    assert machine.switches == [], "nothing changes before the first probe (short runs and tests stay put)"
    machine.train(tuner, 3600)
    assert machine.threads == 2 and machine.decisions == []
    probes = len(tuner.history)
    assert 10 <= probes <= 25, "a probe every few minutes, not every step"
    probe_cost = probes * (tuner.steps + 1) * (0.08 - 0.05)
    assert probe_cost / 3600 < 0.01, "probing costs under 1 % of the run when alone"


def test_beside_a_busy_program_it_drops_to_one_thread_and_comes_back_after():
    machine = Machine({2: 0.05, 1: 0.08})
    tuner = tuner_on(machine)
    machine.train(tuner, 100)
    machine.seconds = {2: 0.19, 1: 0.086}  # the EPYC's figures beside a single-threaded run
    machine.train(tuner, 400)
    assert machine.threads == 1 and machine.decisions == [(2, 1)]
    machine.seconds = {2: 0.05, 1: 0.08}  # the other program ended
    machine.train(tuner, 400)
    assert machine.threads == 2 and machine.decisions == [(2, 1), (1, 2)]


def test_a_gain_within_the_margin_changes_nothing():
    machine = Machine({2: 0.050, 1: 0.048})
    tuner = tuner_on(machine)
    machine.train(tuner, 1000)
    assert machine.threads == 2 and machine.decisions == [] and tuner.history


def test_the_first_step_after_a_switch_is_not_counted():
    """A switch's first step pays for waking threads; a slow first step must not decide the probe."""
    machine = Machine({2: 0.05, 1: 0.08})
    tuner = tuner_on(machine)
    machine.train(tuner, PROBE_AFTER_S)
    warm: set[int] = set()
    for _ in range(200):
        cold = machine.threads not in warm
        warm.add(machine.threads)
        tuner.observe(5.0 if cold else machine.seconds[machine.threads])
    assert tuner.history and machine.threads == 2 and machine.decisions == []


def test_slow_steps_are_probed_with_few_steps_and_seldom():
    machine = Machine({2: 1.8, 1: 3.0})  # a frog step
    tuner = tuner_on(machine)
    machine.train(tuner, 3600)
    assert tuner.steps == threads.MIN_PROBE_STEPS
    assert 2 <= len(tuner.history) <= 8


def test_one_core_has_nothing_to_tune():
    machine = Machine({1: 0.1})
    machine.threads = 1
    tuner = ThreadTuner(1, machine.set_threads)
    machine.train(tuner, 1000)
    assert not tuner.enabled and machine.switches == [] and tuner.history == []
