"""Training where users run it: beside the dashboard and beside other programs, side by side in one run.

    python -m benchmarks.colocation [--seconds 15] [--rounds 3] [--variants ours,fixed,defaults] [--precision bf16]

For each variant it measures, each in separate processes started by this one:
  1. training images/s alone (the trainer's step: the book DCGAN, batch 32, --precision, on random pixels);
  2. the same beside the dashboard's generation loop (a process making a 64-image DCGAN grid with
     ONNX Runtime every 50 ms);
  3. the same beside one busy single-threaded process;
  4. the dashboard's 64-image grid latency alone (median), and
  5. beside a training run.
Variants: `ours` is what the product does (ONNX Runtime's threads never spin, `inference/runtime.py`;
training's OpenMP threads spin 3,000 times, then sleep, `train/__init__.py`; its thread count follows
what is measured faster, `train/threads.py`); `fixed` is ours with one thread per core throughout; `defaults` is ONNX
Runtime's and libgomp's own defaults (both spin-wait, libgomp 300,000 times); `passive` never
spins; `spin=N` spins N times. Prints each figure and its ratio to the alone figure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.errors import summary

GRID, EVERY = 64, 0.05


def train_role(seconds: float, precision: str, tuned: bool) -> None:
    import train  # noqa: F401 - first, as in `python -m train.dcgan`: it sets how OpenMP waits before torch starts
    import torch

    from benchmarks.train_speed import our_options, our_runner
    from core.spec import PRESETS
    from train import threads

    run = our_runner("dcgan", 32, torch.device("cpu"), our_options(PRESETS["dcgan"], precision))
    run(20)  # warm-up
    # the trainer's tuner (train/threads.py), its first probe after 2 s instead of a minute so that a window of
    # seconds shows where it settles; its probes' cost is inside the figure
    threads.PROBE_AFTER_S = 2.0
    workload = threads.forward_pass(run.generator, torch.randn(32, PRESETS["dcgan"].latent_dim), bf16=precision == "bf16")
    tuner = threads.ThreadTuner(torch.get_num_threads(), torch.set_num_threads, workload) if tuned else None
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        run(1)
        steps += 1
        if tuner is not None:
            tuner.observe(time.perf_counter() - began)
    print(f"{steps * 32 / (time.perf_counter() - start):.1f}", flush=True)


def grids_role(model: str, seconds: float, spinning: bool) -> None:
    """The dashboard's loop: a 64-image grid every 50 ms; prints the median latency in ms."""
    import onnxruntime as ort

    from inference import runtime

    options = runtime.session_options()
    if spinning:  # ONNX Runtime's default: worker threads spin while they wait
        options = ort.SessionOptions()
    session = ort.InferenceSession(Path(model).read_bytes(), sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    latencies, start = [], time.perf_counter()
    while seconds <= 0 or time.perf_counter() - start < seconds:
        z = runtime.latents(len(latencies), GRID, 100)
        t = time.perf_counter()
        session.run(None, {name: z})
        latencies.append((time.perf_counter() - t) * 1000)
        time.sleep(EVERY)
    print(f"{statistics.median(latencies):.2f}", flush=True)


def busy_role() -> None:
    while True:
        pass


def spawn(role: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.colocation", "--role", *role], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen) -> float:
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"a measuring process failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    return float(out.strip().splitlines()[-1])


def beside(measured: list[str], companion: list[str] | None, env: dict, settle: float = 3.0) -> float:
    other = spawn(companion, env) if companion else None
    try:
        if other is not None:
            time.sleep(settle)
        return result(spawn(measured, env))
    finally:
        if other is not None:
            other.kill()
            other.wait()


def export_dcgan(folder: Path) -> Path:
    import torch

    from core.spec import ModelSpec
    from export.onnx_export import ExportOptions, export_generator
    from gan.models import build_from_spec

    spec = ModelSpec.of_preset("dcgan")
    torch.manual_seed(0)
    path = folder / "dcgan.onnx"
    path.write_bytes(export_generator(build_from_spec(spec)[0], spec, {}, ExportOptions()))
    return path


def measure(variant: str, model: Path, seconds: float, precision: str) -> dict[str, float]:
    """`variant`: ours (the product's settings: thread count tuned), fixed (ours with the thread count fixed at
    one per core), defaults (ONNX Runtime's and libgomp's own: 300,000 spins, count fixed), passive (OpenMP
    threads never spin), or spin=N (OpenMP threads spin N times before they sleep)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    spinning = variant == "defaults"
    if spinning:
        env["GOMP_SPINCOUNT"] = "300000"  # libgomp's default, which train/__init__.py would otherwise replace
    elif variant == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif variant.startswith("spin="):
        env["GOMP_SPINCOUNT"] = variant.split("=", 1)[1]
    train = ["train", str(seconds), precision] + (["tuned"] if variant == "ours" else [])
    grids = ["grids", str(model), str(seconds)] + (["--spinning"] if spinning else [])
    endless_grids = ["grids", str(model), "0"] + (["--spinning"] if spinning else [])
    return {
        "train alone": beside(train, None, env),
        "train beside the dashboard's grids": beside(train, endless_grids, env),
        "train beside one busy process": beside(train, ["busy"], env),
        "grid alone": beside(grids, None, env),
        "grid beside training": beside(grids, ["train", "100000", *train[2:]], env, settle=8.0),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.colocation", description=summary(__doc__))
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per figure")
    parser.add_argument("--variants", default="ours,fixed,defaults")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="the training step's")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, variants alternating; medians are printed "
                        "(single figures on a shared machine move by 20 %% and more)")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--spinning", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        role, *rest = args.role
        {"train": lambda: train_role(float(rest[0]), rest[1], "tuned" in rest), "grids": lambda: grids_role(rest[0], float(rest[1]), args.spinning),
         "busy": busy_role}[role]()
        return 0
    from core.machine import cpu

    print(f"machine: {cpu().describe()}; {args.precision} DCGAN step; {args.seconds:g} s per figure, medians of "
          f"{args.rounds} rounds; variants {args.variants}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        model = export_dcgan(Path(folder))
        variants = args.variants.split(",")
        rounds = [{variant: measure(variant, model, args.seconds, args.precision) for variant in variants}
                  for _ in range(args.rounds)]
        for variant in variants:
            figures = {name: statistics.median(r[variant][name] for r in rounds) for name in rounds[0][variant]}
            alone_train, alone_grid = figures["train alone"], figures["grid alone"]
            print(f"\n{variant}:")
            for name, value in figures.items():
                if name.startswith("train"):
                    print(f"  {name:38} {value:8.0f} img/s   {value / alone_train:6.0%} of alone")
                else:
                    print(f"  {name:38} {value:8.1f} ms      {value / alone_grid:6.2f}x alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
