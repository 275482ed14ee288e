"""Run a command as it would run on a slower, AVX2-only machine: the nearest we have to the 2-core AVX2 EPYC
that issue #28's figures came from, which no session can borrow.

    sudo python -m benchmarks.slow_machine --avx2 --speed 0.40 -- python -m benchmarks.dashboard_latency ...
    sudo python -m benchmarks.slow_machine --avx2 --speed 0.69 --calibrate

Two independent pieces, each optional:
- `--avx2` preloads benchmarks/cpuid_avx2.c (compiled with gcc on first use) into the command and every process
  it starts. Through Linux's CPUID faulting it hides AVX-512, AMX and AVX-VNNI, so ONNX Runtime, oneDNN and
  PyTorch choose the AVX2 kernels they would choose there. Needs the `cpuid_fault` CPU flag.
- `--speed F` leaves the command a fraction F of each core: one real-time process per core spins for the rest of
  every 2 ms. Unlike a cgroup quota, which lets one thread run at full speed while the other core's share goes
  unused, this slows single- and multi-threaded work alike, the browser included, as a slower CPU would. Needs
  root (SCHED_FIFO).

`--calibrate` prints what the simulated machine does in the two measurements issue #28 gives for its AVX2 machine
(a 64-frog grid of the shipped generator through ONNX Runtime: 7.2 s; a 1024x1024 fp32 matrix product: ~69
GFLOPS), so --speed can be set to match them: 0.40 matches both on our AMD EPYC, and about 0.6–0.69 matches instead
its small-model training step (docs/performance.md). The command sees GAN_WORKBENCH_SIMULATED_CPU, so every figure it
prints names the simulation (core.machine). At 0.40 compute-bound work is matched; scalar Python, memory and
the browser are slowed by the same factor, which is pessimistic for them (an older core loses less there).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from core.errors import summary
from core.machine import AVX512_HIDDEN, SIMULATED_ENV, cpu

ROOT = Path(__file__).resolve().parent.parent
SHIM_SOURCE = Path(__file__).with_name("cpuid_avx2.c")
PERIOD_S = 0.002


class CannotSimulate(Exception):
    """This machine or user cannot run the simulation asked for; the message says why in one line."""


def build_shim(folder: Path) -> Path:
    """The CPUID-masking library, compiled from benchmarks/cpuid_avx2.c into `folder`."""
    if "cpuid_fault" not in cpu().flags:
        raise CannotSimulate("this CPU (or its hypervisor) has no CPUID faulting (flag cpuid_fault), "
                             "so AVX-512 cannot be hidden from a process here")
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise CannotSimulate("--avx2 compiles a small C library and needs gcc (apt-get install gcc)")
    library = folder / "cpuid_avx2.so"
    done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(SHIM_SOURCE), "-ldl"],
                          capture_output=True, text=True)
    if done.returncode:
        raise CannotSimulate(f"gcc could not build {SHIM_SOURCE.name}: {done.stderr.strip().splitlines()[-1:]}")
    probe = subprocess.run(["true"], env={**os.environ, "LD_PRELOAD": str(library)}, capture_output=True, text=True)
    if probe.returncode:
        raise CannotSimulate(probe.stderr.strip().splitlines()[-1] if probe.stderr.strip()
                             else "CPUID faulting could not be enabled here")
    return library


# A spinner ends with its parent, even one killed with SIGKILL: a real-time spinner left behind would slow the
# machine for good.
HOG = """
import os, sys, time
cpu, busy, period, parent = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
os.sched_setaffinity(0, {cpu})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
print("ready", flush=True)
due = time.perf_counter()
while os.getppid() == parent:
    stop = due + busy * period
    while time.perf_counter() < stop:
        pass
    due += period
    rest = due - time.perf_counter()
    if rest > 0:
        time.sleep(rest)
    else:
        due = time.perf_counter()
"""


@contextmanager
def slowed_cores(speed: float):
    """While inside, every core gives other processes only `speed` of its time."""
    if not 0 < speed <= 1:
        raise CannotSimulate(f"--speed must be in (0, 1], got {speed}")
    if speed == 1:
        yield
        return
    if os.geteuid() != 0:
        raise CannotSimulate("--speed needs root: its per-core spinners run as real-time (SCHED_FIFO) processes")
    hogs = []
    try:
        for core in sorted(os.sched_getaffinity(0)):
            hog = subprocess.Popen([sys.executable, "-c", HOG, str(core), str(1 - speed), str(PERIOD_S), str(os.getpid())],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            hogs.append(hog)
            if hog.stdout.readline().strip() != "ready":
                raise CannotSimulate(f"a core spinner did not start: {hog.stderr.read().strip()[-200:]}")
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def describe(avx2: bool, speed: float) -> str:
    parts = ([f"{AVX512_HIDDEN}, AVX2 kernels"] if avx2 else []) + ([f"cores at {speed:.0%}"] if speed < 1 else [])
    return "simulated: " + ", ".join(parts) if parts else ""


CALIBRATION = """
import time
import numpy as np
from pathlib import Path
from core.machine import cpu
from inference.runtime import OnnxGenerator

print(f"machine: {cpu().describe()}")
pretrained = Path(ROOT) / "pretrained"
model = next((pretrained / "frog-modern-10k").glob("generator*.onnx"))
gen = OnnxGenerator(str(model), root=str(pretrained))
z = gen.latents(0, 64)
gen.images(z[:4])
times = []
for _ in range(3):
    start = time.perf_counter()
    gen.images(z)
    times.append(time.perf_counter() - start)
print(f"  64 frogs through ONNX Runtime ({model.name}), best of 3: {min(times):6.2f} s   (issue #28's AVX2 EPYC: 7.2 s)")
a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
a @ a
start = time.perf_counter()
for _ in range(20):
    a @ a
seconds = (time.perf_counter() - start) / 20
print(f"  1024x1024 fp32 matrix product (NumPy):        {2 * 1024 ** 3 / seconds / 1e9:6.0f} GFLOPS (issue #28's: ~69)")
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slow_machine", description=summary(__doc__))
    parser.add_argument("--avx2", action="store_true", help="hide AVX-512 from the command (CPUID faulting)")
    parser.add_argument("--speed", type=float, default=1.0, help="fraction of each core the command keeps (root)")
    parser.add_argument("--calibrate", action="store_true",
                        help="instead of a command, print the two figures issue #28 measured on its AVX2 machine")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.calibrate:
        command = [sys.executable, "-c", f"ROOT = {str(ROOT)!r}\n" + CALIBRATION]
    if not command:
        parser.error("give a command after --, or --calibrate")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    label = describe(args.avx2, args.speed)
    if label:
        env[SIMULATED_ENV] = label
    try:
        with ExitStack() as stack:
            if args.avx2:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                env["LD_PRELOAD"] = " ".join(filter(None, [str(build_shim(folder)), env.get("LD_PRELOAD")]))
            stack.enter_context(slowed_cores(args.speed))
            shown = "the calibration" if args.calibrate else " ".join(command)
            print(f"slow_machine: {label or 'no simulation asked for'}; running {shown}",
                  file=sys.stderr, flush=True)
            started = time.perf_counter()
            code = subprocess.call(command, env=env)
            print(f"slow_machine: the command took {time.perf_counter() - started:.1f} s and exited {code}",
                  file=sys.stderr, flush=True)
            return code
    except CannotSimulate as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
