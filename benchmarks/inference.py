"""ONNX Runtime vs eager PyTorch for a book generator, measured side by side in one run.

    python -m benchmarks.inference [--model dcgan] [--run checkpoints/<run>] [--repeats 50]

Prints ms per call and images/s for batch 1, 64 and 256, and the ORT/PyTorch speed ratio.
Weights do not change the arithmetic, so without --run a freshly built G is used.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import onnxruntime as ort
import torch

from core.errors import summary
from core.spec import PRESETS, ModelSpec
from inference import runtime
from export.onnx_export import ExportOptions, export_generator
from gan import checkpoint
from gan.models import build_from_spec


def time_pair(fn_a, fn_b, repeats: int, blocks: int = 10) -> tuple[float, float]:
    """Median ms per call of two functions, measured in alternating blocks so that both see the
    same machine (this shared 2-core box drifts); a pause between blocks lets the other library's
    spinning worker threads go idle first."""
    samples: tuple[list, list] = ([], [])
    for fn in (fn_a, fn_b):
        for _ in range(3):
            fn()
    per_block = max(1, repeats // blocks)
    for _ in range(blocks):
        for fn, out in ((fn_a, samples[0]), (fn_b, samples[1])):
            time.sleep(0.05)
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                out.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=summary(__doc__))
    parser.add_argument("--model", choices=sorted(PRESETS), default="dcgan")
    parser.add_argument("--run", help="use this run's trained G instead of a fresh one")
    parser.add_argument("--batches", default="1,64,256")
    parser.add_argument("--keep-deconv", action="store_true", help="export ConvTranspose as is (no sub-pixel rewrite)")
    parser.add_argument("--no-fold", action="store_true", help="export the leading affine layers as they are")
    parser.add_argument("--repeats", type=int, default=200, help="calls per runtime and batch size")
    args = parser.parse_args(argv)
    if args.run:
        state = checkpoint.load(checkpoint.resolve(args.run))
        generator, spec = checkpoint.build_generators(state)[0], checkpoint.spec_of(state)
    else:
        spec = ModelSpec.of_preset(args.model)
        generator = build_from_spec(spec)[0].eval()
    session = ort.InferenceSession(export_generator(generator, spec, {}, ExportOptions(subpixel=not args.keep_deconv,
                                                                          fold=not args.no_fold)),
                                   providers=runtime.pick_providers("auto"))
    device = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
    generator.to(device)
    print(f"{spec.preset} generator; machine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, ORT provider {session.get_providers()[0]}, torch {torch.__version__}, "
          f"onnxruntime {ort.__version__}")
    print(f"{'batch':>5} | {'PyTorch ms':>10} | {'ORT ms':>8} | {'PyTorch img/s':>13} | {'ORT img/s':>10} | ORT speed-up")
    for batch in (int(b) for b in args.batches.split(",")):
        z = runtime.latents(0, batch, spec.latent_dim)
        zt = torch.from_numpy(z).to(device)

        def torch_call():
            with torch.inference_mode():
                out = generator(zt)
            if device == "cuda":
                torch.cuda.synchronize()
            return out

        torch_ms, ort_ms = time_pair(torch_call, lambda: session.run(None, {"z": z}), args.repeats)
        print(f"{batch:>5} | {torch_ms:>10.3f} | {ort_ms:>8.3f} | {batch / torch_ms * 1000:>13,.0f} | "
              f"{batch / ort_ms * 1000:>10,.0f} | {torch_ms / ort_ms:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
