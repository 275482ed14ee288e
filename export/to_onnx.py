"""Export a run's generator to ONNX: `python -m export.to_onnx [RUN | CHECKPOINT]` (see --help).

Writes `<run>/generator.onnx` (and `generator_ema.onnx` when the run kept an EMA of G), after
proving on the spot that ONNX Runtime reproduces PyTorch for batches 1, 7 and 64, with their
explore data and the run's model card (README.md, never over a README of the user's). The set is
written together: a failure anywhere (a failed proof, a full disk) leaves the previous set whole.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import onnx
import torch

from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import remove_stale_temps, write_all
from core.targets import locate
from gan import checkpoint

from core.formats.explore_npz import DIGEST_KEY, EXPLORE_KEY, file_name as explore_name

from .explorer import Explorer
from .onnx_export import ExportOptions, export_generator, parity, tolerance
from inference import model_card
from inference.runtime import cuda_usable, pick_providers, read_metadata

EXAMPLES = """examples:
  python -m export.to_onnx                              newest run under checkpoints/
  python -m export.to_onnx checkpoints/<run>            a given run (its last.pt)
  python -m export.to_onnx checkpoints/<run>/step_0001000.pt --output g1000.onnx
  python -m export.to_onnx --output-range 0-255         bake scaling, clamping and uint8 into the graph
  python -m export.to_onnx --fp16                       half-precision weights (inputs/outputs stay fp32)
"""


def parse_args(argv):
    parser = ArgumentParser(prog="python -m export.to_onnx", description=summary(__doc__),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="run folder or checkpoint file (default: newest run under --runs)")
    parser.add_argument("--runs", default="checkpoints", help="folder of run folders (default: checkpoints)")
    parser.add_argument("--output", help="output .onnx file for G (default: <run>/generator.onnx; EMA beside it)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset version (default: 18)")
    parser.add_argument("--fp16", action="store_true", help=f"store weights in float16; parity bound "
                        f"{tolerance(ExportOptions(fp16=True))} instead of {tolerance(ExportOptions())}")
    parser.add_argument("--keep-deconv", action="store_true", help="export ConvTranspose as is instead of the faster, "
                        "equivalent Conv + DepthToSpace (sub-pixel) form")
    parser.add_argument("--no-fold", action="store_true", help="export G's leading affine layers (e.g. DCGAN's Dense, "
                        "BatchNorm, ConvTranspose) as they are instead of as the one equivalent, cheaper matrix")
    parser.add_argument("--output-range", choices=("model", "0-255"), default="model",
                        help="model: G's own output range (default); 0-255: uint8 pixels from the graph")
    parser.add_argument("--no-explore", action="store_true", help="skip the latent-space directions and projection "
                        "examples stored beside the model (<model>.explore.npz) for the dashboard and inference.generate")
    parser.add_argument("--explore-images", type=int, metavar="N", help="images G may make for the explore data "
                        "(default: what 10^12 multiply-adds allow, at most 4,096 per measurement; fewer is quicker "
                        "and coarser)")
    return parser.parse_args(argv)


def output_paths(run_dir: Path, args, has_ema: bool) -> dict[str, Path]:
    """generator[_fp16][_u8].onnx in the run folder (or --output), the EMA copy with `_ema` added."""
    suffix = ("_fp16" if args.fp16 else "") + ("_u8" if args.output_range == "0-255" else "")
    main = Path(args.output) if args.output else run_dir / f"generator{suffix}.onnx"
    paths = {"generator": main}
    if has_ema:
        paths["generator_ema"] = main.with_name(main.stem + "_ema" + main.suffix)
    return paths


def check_targets(paths: dict[str, Path]) -> None:
    """Only .onnx files are written, and never over a file that is not one of our ONNX models."""
    for path in paths.values():
        if path.suffix.lower() != ".onnx":
            raise UserError(f"--output {path} must end in .onnx: the exporter writes only ONNX files")
        if path.is_dir():
            raise UserError(f"--output {path} is a folder; name an .onnx file")
        if not path.parent.is_dir():
            raise UserError(f"cannot write {path}: {path.parent} is not a folder")
        if path.exists() and "preset" not in _metadata_or_empty(path):
            raise UserError(f"{path} exists and is not an exported generator; refusing to overwrite it")
        remove_stale_temps(path.parent)


def _metadata_or_empty(path: Path) -> dict:
    try:
        return read_metadata(path.read_bytes(), str(path))
    except Exception:  # noqa: BLE001 - anything unreadable is "not ours" here
        return {}


@cli_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.opset < 18:
        raise UserError(f"--opset {args.opset} is too old for the exporter; use 18 or newer")
    ckpt_path = locate(args.source, Path(args.runs), command="python -m export.to_onnx").checkpoint
    state = checkpoint.load(ckpt_path)
    spec = checkpoint.spec_of(state)
    generator, ema = checkpoint.build_generators(state)
    options = ExportOptions(opset=args.opset, fp16=args.fp16, uint8_output=args.output_range == "0-255",
                            subpixel=not args.keep_deconv, fold=not args.no_fold)
    metadata = {
        "run": ckpt_path.parent.name, "epoch": state["epoch"], "step": state["step"], "checkpoint": ckpt_path.name,
        "checkpoint_sha256": hashlib.sha256(ckpt_path.read_bytes()).hexdigest(),
        "torch_version": torch.__version__, "onnx_version": onnx.__version__, "opset": args.opset,
    }
    targets = output_paths(ckpt_path.parent, args, ema is not None)
    check_targets(targets)
    if args.explore_images is not None and args.explore_images < 64:
        raise UserError("--explore-images must be at least 64")
    bound = tolerance(options)
    explorer = None if args.no_explore else Explorer(state, spec, args.explore_images)
    files: dict[Path, bytes] = {}  # written together at the end: a failure leaves the previous set whole
    exported: dict[str, tuple[str, bytes]] = {}
    for kind, module in (("generator", generator), ("generator_ema", ema)):
        if module is None:
            continue
        print(f"exporting {kind} of {ckpt_path} (step {state['step']}) ...", flush=True)
        extra = {"weights": kind}
        if explorer is not None:
            explore_bytes, digest, summary = explorer.run(module)
            extra.update({EXPLORE_KEY: explore_name(targets[kind]), DIGEST_KEY: digest})
            files[targets[kind].with_name(explore_name(targets[kind]))] = explore_bytes
            print(f"  {summary}")
        model_bytes = export_generator(module, spec, {**metadata, **extra}, options)
        folded = read_metadata(model_bytes, kind)["folded_layers"]
        if folded != "none":
            print(f"  folded {folded} into one equivalent matrix (--no-fold keeps them)")
        checks = [["CPUExecutionProvider"]] + ([pick_providers("cuda")] if cuda_usable() else [])
        for providers in checks:
            proof = parity(model_bytes, module, spec, options, providers)
            report = ", ".join(f"batch {b}: {e:.2e}" for b, e in proof.errors.items())
            print(f"  parity vs PyTorch on {proof.provider}: max |diff| {report} (bound {bound:g})")
            if not proof.worst <= bound:
                what = "non-finite (NaN/inf) images" if proof.worst == float("inf") else f"{proof.worst:.3g}"
                raise UserError(f"ONNX Runtime output differs from PyTorch ({what}; bound {bound:g}) on "
                                f"{proof.provider}; nothing was written")
        files[targets[kind]] = model_bytes
        exported[kind] = (targets[kind].name, model_bytes)
    card_path = targets["generator"].parent / model_card.CARD
    if not card_path.exists() or model_card.ours(card_path):
        files[card_path] = model_card.card(ckpt_path.parent, exported).encode()
    else:
        print(f"  {card_path} is not a model card of this tool: left as it is")
    write_all(files)
    for path, data in files.items():
        print(f"  wrote {path} ({len(data) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    run_main(main)
