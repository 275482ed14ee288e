"""A run's generator as a static web page anyone can open: `python -m inference.web RUN [--out DIR]`.

Writes a self-contained folder: index.html and its script (inference/web/), the ONNX model, its
latent directions as JSON, the run's facts, the model card, and ONNX Runtime Web's JavaScript and
WebAssembly files (the npm package pinned in inference/web/package.json, which the project's set-up
installs: `npm ci --prefix inference/web`; nothing is fetched from a CDN). It works from
`python -m http.server` or any static host: single-threaded WebAssembly needs no special headers.
The page turns seeds into latents exactly as the Python tools do (inference/web/latent.js), so a
seed shows the same image everywhere.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import UnsafeFile, read_bounded
from core.formats import config_json, eval_json
from core.runs import MAX_ONNX_BYTES, open_run
from core.spec import PRESETS
from core.targets import best_exported, exported_generators, locate

from . import model_card
from .latent_space import load_explore
from .runtime import OnnxGenerator, RuntimeErrorForUser

PAGE = Path(__file__).resolve().parent / "web"
PAGE_FILES = ("index.html", "app.js", "latent.js", "style.css")
ORT_DIST = PAGE / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
LARGE_MODEL_BYTES = 8 << 20  # above this, the page takes the run's fp16 export where there is one
SITE_BUDGET_BYTES = 32 << 20  # what a site may weigh: ONNX Runtime Web's 14 MB of WebAssembly, the model, JSON
EXAMPLES = """examples:
  python -m inference.web checkpoints/<run>                  writes checkpoints/<run>/web/
  python -m inference.web pretrained/dcgan-book-50ep --out site/
  python -m http.server --directory site/ 8000               then open http://localhost:8000
"""


def ort_files() -> list[Path]:
    """ONNX Runtime Web's files, or one line on how to install them."""
    missing = [name for name in ORT_FILES if not (ORT_DIST / name).is_file()]
    if missing:
        raise UserError(f"ONNX Runtime Web is not installed ({', '.join(missing)} missing); install it with: "
                        "npm ci --prefix inference/web")
    return [ORT_DIST / name for name in ORT_FILES]


def pick_model(run: Path, model: Path | None) -> Path:
    """The model the page runs: the one named, else the run's best, in fp16 where the fp32 file is large."""
    chosen = model or best_exported(run)
    if chosen is None:
        raise UserError(f"{run} holds no exported generator; export one first: python -m export.to_onnx {run}")
    if model is None and chosen.stat().st_size > LARGE_MODEL_BYTES and "_fp16" not in chosen.stem:
        half = run / f"generator_fp16{'_ema' if chosen.stem.endswith('_ema') else ''}.onnx"
        chosen = half if half.is_file() else chosen
    return chosen


def facts(run: Path, gen: OnnxGenerator, directions: bool) -> dict:
    """What the page says of the model: its title, one line of facts, and its quality with the space named."""
    meta, spec = gen.info.metadata, gen.info.spec
    preset = PRESETS.get(spec.preset)
    found = open_run(run.parent, run.name)
    step = int(meta["step"]) if str(meta.get("step", "")).isdigit() else None
    trained = found.trained(step) if found is not None else (f"{step:,} steps" if step else "length unknown")
    config, _ = config_json.read(run / config_json.CONFIG, run)
    recipe = ((config or {}).get(config_json.TRAIN) or {}).get("recipe", "book")
    weights = "the EMA of G" if meta.get("weights", "").endswith("ema") else "G"
    data = spec.dataset or "its images"
    report, _ = eval_json.read(run / eval_json.EVAL, run)
    row = (report or {}).get("generators", {}).get(meta.get("weights", "generator"))
    quality = {"generator": meta.get("weights", "generator"), "features": report.get("features", "?"),
               "metrics": row} if row else None
    line = f"{spec.preset} on {data}, {recipe} recipe, {trained}; showing {weights}"
    if row and "fid" in row:
        line += f"; FID {row['fid']:.1f} ({report.get('features', 'classifier features')})"
    return {"title": f"{run.name}: {preset.source if preset else spec.preset}", "line": line,
            "summary": f"The {spec.preset} generator of run {run.name}, trained on {data} with the {recipe} "
                       f"recipe for {trained}.", "quality": quality,
            "model": gen.path.name, "precision": meta.get("precision", "fp32"), "output": gen.info.output,
            "latent_dim": spec.latent_dim, "image_shape": list(spec.image_shape),
            "pixel_range": list(spec.pixel_range), "directions": "directions.json" if directions else None,
            "classes": list(gen.class_names)}


def site_files(run: Path, model: Path | None = None) -> dict[str, bytes]:
    """Every file of the page, by name: what `write` puts in a folder and the dashboard in a zip."""
    path = pick_model(run, model)
    try:
        gen = OnnxGenerator(path, root=run)
        raw = read_bounded(path, MAX_ONNX_BYTES, run)
    except (RuntimeErrorForUser, UnsafeFile) as exc:
        raise UserError(str(exc)) from None
    explore, _ = load_explore(gen, run)
    files = {name: (PAGE / name).read_bytes() for name in PAGE_FILES}
    files.update({p.name: p.read_bytes() for p in ort_files()})
    files[path.name] = raw
    if explore is not None and len(explore.names):
        files["directions.json"] = json.dumps({"names": explore.names, "kinds": explore.kinds,
                                               "effects": explore.effects,
                                               "vectors": explore.vectors.round(7).tolist()}).encode()
    files["facts.json"] = json.dumps(facts(run, gen, "directions.json" in files), indent=1).encode()
    files[model_card.CARD] = model_card.card(run, {k: (p.name, p.read_bytes()) for k, p in
                                                   exported_generators(run).items()}).encode()
    total = sum(map(len, files.values()))
    if total > SITE_BUDGET_BYTES:
        raise UserError(f"the page would weigh {total / 2**20:.0f} MB, over its {SITE_BUDGET_BYTES >> 20} MB budget: "
                        f"export an fp16 model (python -m export.to_onnx {run} --fp16)")
    return files


def write(run: Path, out: Path, model: Path | None = None) -> dict[str, bytes]:
    """The page in folder `out`, replaced whole (written beside it, then renamed into place)."""
    files = site_files(run, model)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    staging.chmod(0o755)  # a folder to serve: readable by the web server, as mkdtemp does not make it
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if out.exists():
            if not (out / "facts.json").is_file():
                raise UserError(f"{out} exists and is not a page of this tool; choose another --out")
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def zipped(files: dict[str, bytes], folder: str) -> bytes:
    """The page as one zip (the dashboard's download), its files inside `folder/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m inference.web", description=summary(__doc__),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", help="run folder or exported model (.onnx); default: the newest run")
    parser.add_argument("--runs", default="checkpoints", help="folder of run folders (default: checkpoints)")
    parser.add_argument("--out", help="folder to write the page into (default: <run>/web)")
    args = parser.parse_args(argv)
    target = locate(args.run, Path(args.runs), accept=("onnx",), command="python -m inference.web")
    named = target.onnx if args.run and Path(args.run).suffix == ".onnx" else None
    out = Path(args.out) if args.out else target.run_dir / "web"
    files = write(target.run_dir, out, named)
    model = next(name for name in files if name.endswith(".onnx"))
    print(f"wrote {out}/ ({len(files)} files, {sum(map(len, files.values())) / 2**20:.1f} MB; model {model})")
    print(f"serve it with: python -m http.server --directory {out} 8000   then open http://localhost:8000")
    return 0


if __name__ == "__main__":
    run_main(main)
