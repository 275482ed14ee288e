"""Give an exported generator's explore data the projection's encoder: `python -m export.add_encoder MODEL.onnx`.

Explore data written before version 3 has no encoder, so projecting a picture onto such a model
starts from random latents and needs about three seconds to get where the encoder's first guess
gets in one (docs/performance.md). The encoder is a ridge regression from G's images back to their
latents (inference/latent_space.fit_encoder), so the exported model alone is enough to fit it, with
no checkpoint: this makes the same number of images the exporter uses, with ONNX Runtime, fits the
regression and writes the new explore file together with the model's record of its checksum (a
failure leaves both as they were). Nothing else in either file changes.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import remove_stale_temps, write_all
from core.formats.explore_npz import DIGEST_KEY, EXPLORE_KEY, to_bytes
from core.progress import progress
from inference.latent_space import ENCODER_IMAGES, ENCODER_SEED, fit_encoder, load_explore
from inference.runtime import OnnxGenerator, RuntimeErrorForUser, parse_model

BATCH = 64


def add_encoder(path: Path, count: int = ENCODER_IMAGES) -> str:
    """Fit and store the encoder of one model; returns what was done, as one line."""
    try:
        gen = OnnxGenerator(path, device="cpu")
    except RuntimeErrorForUser as exc:
        raise UserError(str(exc)) from None
    if gen.info.spec.conditional:
        raise UserError(f"{path} is class-conditional: its projection has no encoder to add (each class would "
                        "need its own)")
    data, why = load_explore(gen)
    if data is None:
        raise UserError(why)
    if data.has_encoder:
        return f"{path} already has an encoder: left as it is"
    z = gen.latents(ENCODER_SEED, count)
    size = int(np.prod(gen.info.spec.image_shape))
    images = np.empty((count, size), np.float64)
    bar = progress(count, desc=f"{path.name}: images for the encoder", unit="img")
    try:
        for start in range(0, count, BATCH):
            # as the encoder sees them: HWC order, 0-1, not rounded to 8 bits (for a float model), as the exporter's
            images[start:start + BATCH] = gen.unit(z[start:start + BATCH]).transpose(0, 2, 3, 1).reshape(-1, size)
            bar.update(len(z[start:start + BATCH]))
    finally:
        bar.close()
    weight, bias = fit_encoder(images, z.astype(np.float64))
    explore_bytes, digest = to_bytes(dataclasses.replace(data, encoder_weight=weight, encoder_bias=bias))
    model = parse_model(path.read_bytes(), str(path))
    meta = {p.key: p for p in model.metadata_props}
    meta[DIGEST_KEY].value = digest
    explore_path = path.parent / Path(meta[EXPLORE_KEY].value).name
    remove_stale_temps(path.parent)
    write_all({explore_path: explore_bytes, path: model.SerializeToString()})  # the file named before its namer
    return (f"{path}: encoder fitted on {count:,} of its images; wrote {explore_path.name} and the model's "
            "checksum of it")


EXAMPLES = """examples:
  python -m export.add_encoder pretrained/dcgan-book-50ep/generator_ema.onnx
  python -m export.add_encoder checkpoints/<run>/*.onnx
"""


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m export.add_encoder", description=summary(__doc__),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="exported generators (.onnx) whose explore data "
                        "predates the encoder")
    parser.add_argument("--images", type=int, default=ENCODER_IMAGES, metavar="N",
                        help=f"images to fit the encoder on (default: {ENCODER_IMAGES:,}, as the exporter)")
    args = parser.parse_args(argv)
    if args.images < 64:
        raise UserError("--images must be at least 64")
    for path in args.models:
        try:
            print(add_encoder(path, args.images), flush=True)
        except RuntimeErrorForUser as exc:
            raise UserError(str(exc)) from None
    return 0


if __name__ == "__main__":
    run_main(main)
