"""The slower-machine simulation behind the AVX2-only figures: CPUID masking, the per-core slow-down, the label."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks import slow_machine
from core import machine


def can_mask() -> bool:
    """AVX-512 to hide, and the mask builds and works here (CPUID faulting, gcc)."""
    if "avx512f" not in machine.cpu().flags:
        return False
    with tempfile.TemporaryDirectory() as folder:
        try:
            slow_machine.build_shim(Path(folder))
        except slow_machine.CannotSimulate:
            return False
    return True


CAN_MASK = can_mask()
CAPABILITY = "import torch; print(torch.backends.cpu.get_cpu_capability())"
# The per-core slow-down runs real-time processes: root, and a kernel or container that allows SCHED_FIFO.
CAN_SPIN = os.geteuid() == 0 and subprocess.run(
    [sys.executable, "-c", "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))"]).returncode == 0
NO_SPIN = "the per-core slow-down needs root and SCHED_FIFO, which this machine does not allow"


@pytest.mark.skipif(not CAN_MASK, reason="needs a CPU with AVX-512 (something to hide), CPUID faulting and gcc")
def test_avx2_hides_avx512_from_the_libraries_that_choose_kernels(capfd):
    unmasked = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", machine.SIMULATED_ENV)}
    assert subprocess.run([sys.executable, "-c", CAPABILITY], capture_output=True, text=True, env=unmasked) \
        .stdout.strip().startswith("AVX512"), "without the mask (even when this suite runs under it)"
    code = slow_machine.main(["--avx2", "--", sys.executable, "-c", CAPABILITY + "; from core.machine import cpu; "
                              "print(cpu().describe())"])
    out, err = capfd.readouterr()
    assert code == 0
    capability, described = out.strip().splitlines()
    assert capability == "AVX2", "PyTorch chose its kernels as on an AVX2-only CPU"
    assert "AVX2 only" in described and "simulated: AVX-512 hidden" in described, "every figure names the simulation"
    assert "exited 0" in err


@pytest.mark.skipif(not CAN_MASK, reason="needs a CPU with AVX-512 (something to hide), CPUID faulting and gcc")
def test_a_real_crash_under_the_mask_still_ends_the_process_as_a_crash():
    """The mask's SIGSEGV handler steps over CPUID only: any other fault reaches the program's own handler
    (here Python's faulthandler) and ends the process as it would without the mask."""
    crash = "import faulthandler, ctypes; faulthandler.enable(); ctypes.string_at(0)"
    code = slow_machine.main(["--avx2", "--", sys.executable, "-c", crash])
    assert code == -11  # SIGSEGV


def test_the_label_hides_the_flags_an_avx2_machine_lacks(monkeypatch):
    monkeypatch.setenv(machine.SIMULATED_ENV, slow_machine.describe(True, 0.4))
    machine.cpu.cache_clear()
    try:
        simulated = machine.cpu()
        assert not any(f.startswith(("avx512", "amx_")) for f in simulated.flags)
        assert not simulated.native_bf16
        assert simulated.describe().endswith("(simulated: AVX-512 hidden, AVX2 kernels, cores at 40%)")
    finally:
        machine.cpu.cache_clear()


def test_a_slow_down_alone_keeps_the_flags(monkeypatch):
    monkeypatch.delenv(machine.SIMULATED_ENV, raising=False)
    machine.cpu.cache_clear()
    real = machine.cpu()
    monkeypatch.setenv(machine.SIMULATED_ENV, slow_machine.describe(False, 0.5))
    machine.cpu.cache_clear()
    try:
        assert machine.cpu().flags == real.flags
        assert machine.cpu().describe() == f"{real.describe()} (simulated: cores at 50%)"
    finally:
        machine.cpu.cache_clear()


@pytest.mark.parametrize("argv, message", [
    (["--speed", "0", "--", "true"], "--speed must be in (0, 1]"),
    (["--speed", "1.5", "--", "true"], "--speed must be in (0, 1]"),
    (["--", "no-such-command-here"], "cannot run no-such-command-here"),
])
def test_bad_requests_get_one_line_and_exit_2(argv, message, capsys):
    assert slow_machine.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        slow_machine.main(["--avx2"])
    assert exit_.value.code == 2 and "give a command" in capsys.readouterr().err


def spinners() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"SCHED_FIFO" in open(f"/proc/{pid}/cmdline", "rb").read():
                found.append(pid)
        except OSError:
            pass  # ended meanwhile
    return found


@pytest.mark.skipif(not CAN_SPIN, reason=NO_SPIN)
def test_the_slow_down_leaves_no_spinner_behind():
    before = set(spinners())
    assert slow_machine.main(["--speed", "0.5", "--", sys.executable, "-c", "print('ran')"]) == 0
    assert set(spinners()) - before == set()


@pytest.mark.skipif(not CAN_SPIN, reason=NO_SPIN)
def test_spinners_end_with_a_killed_parent():
    """A real-time spinner left behind would slow the machine for good: killed with SIGKILL, the wrapper cannot
    clean up, so each spinner watches its parent."""
    before = set(spinners())
    marker = f"slow-machine-test-{os.getpid()}-{time.time_ns()}"
    command = [sys.executable, "-c", f"import time; time.sleep(30)  # {marker}"]
    wrapper = subprocess.Popen([sys.executable, "-m", "benchmarks.slow_machine", "--speed", "0.5", "--", *command],
                               stderr=subprocess.PIPE, text=True)
    try:
        assert marker in wrapper.stderr.readline()  # "running …", printed once the spinners are up
        assert len(set(spinners()) - before) == len(os.sched_getaffinity(0))
    finally:
        wrapper.kill()
        wrapper.wait()
    deadline = time.monotonic() + 5
    while set(spinners()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(spinners()) - before == set()
    subprocess.run(["pkill", "-f", marker])  # the orphaned command itself is not the spinners' business


def test_without_root_the_slow_down_says_why(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert slow_machine.main(["--speed", "0.5", "--", "true"]) == 2
    assert "needs root" in capsys.readouterr().err
