"""Images from an exported generator, scriptable: `python -m inference.generate` (see --help).

The counterpart of stylegan2-ada's generate.py for our small models, torch-free (ONNX Runtime):
one PNG per seed plus a grid, interpolations between seeds or projected real images as a GIF or
MP4, and sweeps along the latent directions stored beside the model.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from core import latent
from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import atomic_write, file_part
from core.images import BadImage, gif_bytes, grid, png_bytes, upscale
from core.targets import locate

from .latent_space import PROJECT_SECONDS, load_explore, project, read_target
from .runtime import OnnxGenerator, RuntimeErrorForUser

EVERY_CLASS = "all"  # --class all: every class for every seed

EXAMPLES = """examples:
  python -m inference.generate --seeds 0-63 --out out/                 the newest run's G: 64 PNGs and grid.png
  python -m inference.generate checkpoints/<run> --seeds 0-7,42 --truncation 0.7 --out out/
  python -m inference.generate checkpoints/<run>/generator_ema.onnx --seeds 0-15 --out out/
  python -m inference.generate --interpolate 3,17 --frames 48 --out out/            a slerp GIF from seed 3 to 17
  python -m inference.generate --interpolate shirt.png,boot.png --path lerp --format mp4 --out out/
                                                                   between two projected real images
  python -m inference.generate --direction "towards Sneaker" --seeds 0-7 --strengths=-3:3:7 --out out/
  python -m inference.generate --list-directions                      what the model's explore data holds
  python -m inference.generate <conditional run> --class Sneaker --seeds 0-15 --out out/     a class on request
  python -m inference.generate <conditional run> --class all --seeds 0-7 --out out/    one row per class, same z
  python -m inference.generate <conditional run> --interpolate 3,3 --class Sandal,Sneaker --out out/
                                                                   one seed walking from one class to another
"""
MAX_SEEDS = 1024
MAX_FRAMES = 600


def parse_seeds(text: str) -> list[int]:
    """'0-63', '1,5,9', '0-3,10' -> seeds (at most MAX_SEEDS)."""
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise argparse.ArgumentTypeError(f"expected seeds like 0-63 or 1,5,9; got {text!r}")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise argparse.ArgumentTypeError(f"range {part.strip()!r} runs backwards")
        seeds.extend(range(first, last + 1))
        if len(seeds) > MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"at most {MAX_SEEDS} seeds per call")
    return seeds


def parse_strengths(text: str) -> np.ndarray:
    """'-3:3:7' (from:to:count) or '-2,0,2' -> strengths."""
    try:
        if ":" in text:
            lo, hi, count = text.split(":")
            if not 2 <= int(count) <= 64:
                raise ValueError
            return np.linspace(float(lo), float(hi), int(count), dtype=np.float32)
        return np.array([float(v) for v in text.split(",")], dtype=np.float32)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected strengths like -3:3:7 (2-64 steps) or -2,0,2; got {text!r}") from None


def positive(kind, upper):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"must be in (0, {upper}], got {text}")
        return value
    return parse


def parse_args(argv):
    parser = ArgumentParser(prog="python -m inference.generate", description=summary(__doc__),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="exported model (.onnx) or run folder (its generator.onnx); "
                        "default: the newest run under --runs")
    parser.add_argument("--runs", default="checkpoints", help="folder of run folders (default: checkpoints)")
    parser.add_argument("--ema", action="store_true", help="in a run folder, use generator_ema.onnx")
    parser.add_argument("--out", help="output folder (made if missing)")
    parser.add_argument("--seeds", type=parse_seeds, help="seeds, e.g. 0-63 or 1,5,9 (one PNG each, and a grid)")
    parser.add_argument("--truncation", type=positive(float, 4.0), default=1.0,
                        help="scale of z: below 1 trades variety for typicality (default 1)")
    parser.add_argument("--interpolate", metavar="A,B", help="two endpoints: seeds, or image files to project first")
    parser.add_argument("--frames", type=positive(int, MAX_FRAMES), default=48, help="interpolation frames (default 48)")
    parser.add_argument("--path", choices=("slerp", "lerp"), default="slerp", help="interpolation path (default slerp)")
    parser.add_argument("--format", choices=("gif", "mp4"), default="gif", help="animation format (default gif)")
    parser.add_argument("--direction", help="a direction's name from --list-directions, swept over --strengths")
    parser.add_argument("--strengths", type=parse_strengths, default=parse_strengths("-3:3:7"),
                        help="from:to:count or a list; write --strengths=-3:3:7 (with =) when it starts with a minus (default -3:3:7)")
    parser.add_argument("--class", dest="class_names", metavar="NAME[,NAME]",
                        help="for a class-conditional model: the class to draw (default: each class in turn); "
                        "with --interpolate, two classes walk from the first to the second; with --seeds, all draws "
                        "every class for every seed (grid.png: one row per class)")
    parser.add_argument("--list-directions", action="store_true", help="print the stored directions and their effects")
    parser.add_argument("--project-seconds", type=positive(float, 120.0), default=PROJECT_SECONDS,
                        help=f"time to spend projecting each image endpoint (default {PROJECT_SECONDS:g})")
    return parser.parse_args(argv)


def load(args) -> OnnxGenerator:
    target = locate(args.model, Path(args.runs), accept=("onnx",), command="python -m inference.generate",
                    want="generator_ema.onnx" if args.ema else None, want_flag="--ema")
    if not args.ema and target.onnx.stem.endswith("_ema") and Path(args.model or "").suffix != ".onnx":
        print(f"using {target.onnx.name}, the EMA of G: the only generator {target.run_dir.name} has exported")
    try:
        return OnnxGenerator(target.onnx)
    except RuntimeErrorForUser as exc:
        raise UserError(str(exc)) from None


def endpoint(text: str, gen: OnnxGenerator, seconds: float) -> tuple[np.ndarray, str]:
    """A seed's latent, or the projection of an image file."""
    text = text.strip()
    if text.isdigit():
        return gen.latents(int(text), 1)[0], f"seed{text}"
    path = Path(text)
    if not path.is_file():
        raise UserError(f"interpolation endpoint {text!r} is neither a seed nor an image file")
    try:
        target = read_target(path.read_bytes(), gen)
    except BadImage as exc:
        raise UserError(f"{path} {exc}") from None
    found = project(gen, target, seconds=seconds, explore=load_explore(gen)[0])
    print(f"projected {path.name}: mean squared pixel distance {found.distance:.4f} ({found.evaluations} images tried "
          f"in {found.seconds:.1f} s)")
    return found.z, path.stem


def animation(frames: list[np.ndarray], fmt: str) -> bytes:
    if fmt == "gif":
        return gif_bytes(frames, duration_ms=60)
    try:
        import imageio.v3 as iio
    except ImportError:
        raise UserError("MP4 output needs imageio with its ffmpeg plugin (pip install imageio imageio-ffmpeg); "
                        "or use --format gif") from None
    rgb = [np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f for f in frames]
    try:
        return iio.imwrite("<bytes>", np.stack(rgb), extension=".mp4", fps=24, codec="libx264",
                           macro_block_size=8)
    except Exception as exc:  # noqa: BLE001 - ffmpeg missing or failing
        raise UserError(f"MP4 encoding failed ({str(exc).splitlines()[0][:120]}); use --format gif") from None


def asks_every_class(text: str | None) -> bool:
    return text is not None and text.strip().lower() == EVERY_CLASS


def requested_classes(gen: OnnxGenerator, text: str | None) -> list[int] | None:
    """--class NAME[,NAME] as class indices (None: not given); a bad name or an unconditional model is one line."""
    if text is None:
        return None
    if asks_every_class(text):
        return [gen.class_index(name) for name in gen.class_names] or [gen.class_index(text)]
    names = [n.strip() for n in text.split(",")]
    if len(names) > 2 or not all(names):
        raise UserError(f"--class takes one class name, or two separated by a comma, got {text!r}")
    return [gen.class_index(n) for n in names]


def class_path(gen: OnnxGenerator, indices: list[int] | None, count: int, default: int = 0) -> np.ndarray | None:
    """One-hot rows for `count` frames of a conditional model: one class throughout (`default` when no --class), or
    a straight walk from the first class to the second. A path never changes class unless asked to."""
    if not gen.class_names:
        return None
    indices = indices or [default % len(gen.class_names)]
    a, b = gen.class_rows(1, indices[0])[0], gen.class_rows(1, indices[-1])[0]
    return latent.lerp(a, b, count)


@cli_entry
def main(argv=None) -> int:
    try:
        return generate(parse_args(argv))
    except RuntimeErrorForUser as exc:
        raise UserError(str(exc)) from None


def generate(args) -> int:
    gen = load(args)
    classes = requested_classes(gen, args.class_names)
    every_class = asks_every_class(args.class_names)
    if every_class and (args.interpolate or args.direction or not args.seeds):
        raise UserError("--class all is for --seeds (one row per class); give one class for --interpolate or "
                        "--direction")
    if not every_class and classes is not None and len(classes) == 2 and not args.interpolate:
        raise UserError("two classes in --class are for --interpolate; give one class for --seeds or --direction")
    single = None if classes is None else classes[0]
    if args.list_directions or args.direction:
        explore, problem = load_explore(gen)
        if explore is None:
            raise UserError(problem)
        if args.list_directions:
            for name, effect in zip(explore.names, explore.effects):
                print(f"{name:24} {effect}")
            if not (args.seeds or args.interpolate or args.direction):
                return 0
    if not (args.seeds or args.interpolate or args.direction):
        raise UserError("nothing to do: give --seeds, --interpolate A,B or --direction NAME (see --help)")
    if not args.out:
        raise UserError("--out DIR is needed to write images")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out} ({exc.strerror})") from None
    written = []
    if args.seeds and not args.direction:
        z = np.concatenate([gen.latents(s, 1, args.truncation) for s in args.seeds])
        names, picked, ncols = [f"seed{seed:04d}.png" for seed in args.seeds], single, min(8, len(z))
        if every_class:  # the same z down each column: the class input chooses what is drawn, z how
            names = [f"seed{seed:04d}-{file_part(c)}.png" for c in gen.class_names for seed in args.seeds]
            picked, ncols = np.repeat(np.arange(len(classes)), len(z)), len(z)
            z = np.tile(z, (len(classes), 1))
        rows = gen.class_rows(len(z), picked) if gen.class_names else None
        parts = np.array_split(np.arange(len(z)), max(1, len(z) // 256))
        images = np.concatenate([gen.images(z[i], None if rows is None else rows[i]) for i in parts])
        for name, image in zip(names, images):
            atomic_write(out / name, png_bytes(image))
        atomic_write(out / "grid.png", png_bytes(upscale(grid(images, ncols=ncols), 1024)))
        written.append(f"{len(images)} PNGs and grid.png" + (" (one row per class)" if every_class else ""))
    if args.interpolate:
        ends = args.interpolate.split(",")
        if len(ends) != 2:
            raise UserError(f"--interpolate takes two endpoints separated by a comma, got {args.interpolate!r}")
        (z_a, name_a), (z_b, name_b) = (endpoint(e, gen, args.project_seconds) for e in ends)
        path = (latent.slerp if args.path == "slerp" else latent.lerp)(z_a, z_b, args.frames)
        frames = [upscale(f, 256) for f in gen.images(path, class_path(gen, classes, len(path)))]
        name = f"interpolate_{name_a}_{name_b}.{args.format}"
        atomic_write(out / name, animation(frames, args.format))
        written.append(name)
    if args.direction:
        if args.direction not in explore.names:
            raise UserError(f"no direction named {args.direction!r}; the model has: {', '.join(explore.names)}")
        v = explore.vectors[explore.index(args.direction)]
        seeds = args.seeds or list(range(4))
        rows = [gen.images(gen.latents(s, 1, args.truncation)[0] + args.strengths[:, None] * v[None],
                           class_path(gen, classes, len(args.strengths), default=row))
                for row, s in enumerate(seeds)]  # without --class, row r draws class r, as the seed grid does
        sweep = grid(np.concatenate(rows), ncols=len(args.strengths))
        slug = re.sub(r"[^A-Za-z0-9]+", "-", args.direction).strip("-")
        atomic_write(out / f"direction_{slug}.png", png_bytes(upscale(sweep, 1024)))
        written.append(f"direction_{slug}.png (rows: seeds {seeds[0]}…{seeds[-1]}; columns: strengths "
                       f"{args.strengths[0]:g}…{args.strengths[-1]:g}; {explore.effects[explore.index(args.direction)]})")
    print(f"wrote to {out}: " + "; ".join(written))
    return 0


if __name__ == "__main__":
    run_main(main)
