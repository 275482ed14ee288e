"""A model card for an exported run: `README.md` beside the models, in the Hugging Face Hub's format.

YAML front matter (license, library, tags, datasets, pipeline tag, and a model-index with the
measured metrics) and a body: what the model is and which book it comes from, how it was trained
(recipe, length, machine, time), the evaluation with its feature space named and the reference
rows, a sample grid, intended use and limits, and how to load it. Everything comes from the run's
own files (config.json, metrics.jsonl, eval.json, the models' metadata), so the card is rebuilt the
same from the same files: `python -m inference.model_card RUN` (the exporter writes it too).
Torch-free: the dashboard offers the card for download.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.errors import ArgumentParser, UserError, cli_entry, run_main
from core.files import atomic_write
from core.formats import config_json, eval_json
from core.formats.metrics_jsonl import METRICS, read_metrics
from core.progress import duration
from core.runs import SAMPLES, fixed_seed_grids, grid_step
from core.spec import PRESETS
from core.targets import exported_generators

from .runtime import RuntimeErrorForUser, inspect_model, parse_model

CARD = "README.md"
MARKER = "<!-- gan-workbench model card -->"  # a README.md without it is the user's: never overwritten
DATASETS = {"fashion-mnist": ("fashion_mnist", "Fashion-MNIST", "MIT-licensed images by Zalando Research"),
            "cifar10": ("cifar10", "CIFAR-10", "images collected by Krizhevsky, Nair and Hinton")}
METRIC_WORDS = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
                "classes_covered": "classes covered", "kl_uniform": "KL from uniform", "in_classes": "in the run's classes",
                "near_copy_share": "near-copy share", "class_agreement": "class agreement"}


def ours(path: Path) -> bool:
    """Whether an existing README.md is a card this tool wrote (and may rewrite)."""
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False


def card(run: Path, exported: dict[str, tuple[str, bytes]] | None = None) -> str:
    """The card's text for a run folder: of its exported generators, or of `exported` (kind -> (file name,
    model bytes)), the models an export is about to write beside it."""
    config, _ = config_json.read(run / config_json.CONFIG, run)
    config = config or {}
    train = config.get(config_json.TRAIN) if isinstance(config.get(config_json.TRAIN), dict) else {}
    if exported is None:
        exported = {kind: (path.name, path.read_bytes()) for kind, path in exported_generators(run).items()}
    models = {kind: Path(name) for kind, (name, _) in exported.items()}
    metadata = {kind: _metadata(raw, name) for kind, (name, raw) in exported.items()}
    first = next(iter(metadata.values()), {})
    preset_name = str(first.get("preset") or config_json.facts(config).preset)
    preset = PRESETS.get(preset_name)
    dataset = str(first.get("dataset") or train.get("dataset") or "")
    hub_id, data_name, data_words = DATASETS.get(dataset, ("", "an image folder", "the images it was trained on"))
    report, _ = eval_json.read(run / eval_json.EVAL, run)
    records, _, _ = read_metrics(run / METRICS, run)
    step = first.get("step")
    step = int(step) if isinstance(step, str) and step.isdigit() else step  # ONNX metadata holds text
    trained_s = _training_seconds(records, step)
    classes = first.get("num_classes", 0)  # a conditional model's classes (0: unconditional)
    conditional = classes > 0
    front = _front_matter(run.name, preset_name, hub_id, data_name, report, conditional)
    title = f"# {run.name}: {preset.source if preset else preset_name}"
    lines = [front, MARKER, title, ""]
    lines += [f"A generative adversarial network from the GAN workbench: the `{preset_name}` preset "
              f"({preset.source if preset else 'a custom preset'}), trained on {data_name} ({data_words})"
              + (f", classes: {', '.join(first.get('class_names', '').split(','))}" if first.get("class_names") else "")
              + (". Exported to ONNX: it maps a latent vector `z` and a class (input `class`, one-hot rows in the order "
                 "above; mix two rows to walk between classes) to an image of that class" if conditional else
                 ". Exported to ONNX: it maps a latent vector `z` to an image")
              + ", and runs with ONNX Runtime on any machine, in Python or in a browser.", ""]
    lines += ["## Training", ""] + _training_rows(train, config, step, trained_s) + [""]
    lines += ["## Evaluation", ""] + _evaluation(report) + [""] + _per_class(report)
    grid, caption = _grid_of(run, step, config.get(config_json.STEPS_PER_EPOCH))
    if grid is not None:
        lines += ["## Samples", "", f"![{caption}]({SAMPLES}/{grid.name})", "",
                  "The grids of the same 64 latent vectors over training are in `samples/`.", ""]
    lines += ["## Files", ""] + [f"- `{p.name}`: {'the exponential moving average of G' if kind.endswith('ema') else 'G'}"
                                 f" ({_precision(metadata[kind])}, output {metadata[kind].get('output', 'float')})"
                                 for kind, p in models.items()] + [""]
    lines += ["## Intended use and limits", "",
              "For learning and exploring GANs: sampling, interpolation, latent arithmetic and directions, as in "
              "the books' chapters. The images are small and the models are the books' small architectures; they "
              "are not photorealistic and not meant to stand in for real data. The quality figures above are "
              "distances in the project's own classifier's feature space: compare them with other runs of this "
              "project, never with published Inception-FID numbers. Generated images can resemble training images; "
              "the near-copy share above measures how often.", ""]
    lines += ["## How to load it", "", "```python", "import numpy as np, onnxruntime as ort",
              f"session = ort.InferenceSession(\"{next(iter(models.values())).name if models else 'generator.onnx'}\")",
              f"z = np.random.default_rng(0).standard_normal((16, {first.get('latent_dim', 'LATENT')}))"
              ".astype(np.float32)",
              *([f"classes = np.eye({classes}, dtype=np.float32)[np.arange(16) % {classes}]  # one-hot rows: "
                 "each class in turn",
                 "images = session.run(None, {\"z\": z, \"class\": classes})[0]  # (16, C, H, W), in the pixel "
                 "range below"] if conditional else
                ["images = session.run(None, {\"z\": z})[0]  # (16, C, H, W), in the pixel range below"]), "```", "",
              f"Pixel range: {first.get('pixel_range', '?')}. With the GAN workbench: `python -m inference.generate "
              f"{run.name} --seeds 0-63 --out out/`" + (" (`--class NAME` for one class)" if conditional else "")
              + " (the same seed gives the same image there, in the dashboard and on the web page of "
              "`python -m inference.web`).", ""]
    return "\n".join(lines)


def _metadata(raw: bytes, name: str) -> dict:
    try:
        info = inspect_model(parse_model(raw, name), name)
    except RuntimeErrorForUser:
        return {}
    return {**info.metadata, "latent_dim": info.spec.latent_dim, "pixel_range": list(info.spec.pixel_range),
            "num_classes": info.spec.num_classes}


def _precision(meta: dict) -> str:
    return "fp16 weights" if meta.get("precision") == "fp16" else "fp32 weights"


def _front_matter(name: str, preset: str, hub_id: str, data_name: str, report: dict | None,
                  conditional: bool = False) -> str:
    tags = ["gan", "onnx", "image-generation", preset, "gan-workbench"] + (["class-conditional"] if conditional else [])
    lines = ["---", "license: other", "license_name: unspecified", "library_name: onnx"]
    lines += [] if conditional else ["pipeline_tag: unconditional-image-generation"]  # the Hub has no class-conditional task
    lines += ["tags:"] + [f"- {t}" for t in tags]
    if hub_id:
        lines += ["datasets:", f"- {hub_id}"]
    rows = (report or {}).get("generators", {})
    if rows:
        lines += ["model-index:", f"- name: {name}", "  results:", "  - task:",
                  f"      type: {'image-generation' if conditional else 'unconditional-image-generation'}",
                  "    dataset:", f"      name: {data_name}", f"      type: {hub_id or 'imagefolder'}", "      split: test",
                  "    metrics:"]
        for generator, row in rows.items():
            for metric in ("fid", "kid", "precision", "recall", "class_agreement"):
                if metric in row:
                    lines += [f"    - type: {metric}", f"      value: {row[metric]:.4g}",
                              f"      name: {json.dumps(f'{METRIC_WORDS[metric]} of {generator} (classifier features)')}"]
    return "\n".join(lines + ["---"])


def _training_seconds(records: list[dict], step) -> float | None:
    """The training time up to the exported step: a run can go on past the checkpoint that ships (the best
    one kept, not the last), and its card must not claim the whole run's time."""
    timed = [r for r in records if isinstance(r.get("time"), (int, float))]
    if isinstance(step, int):
        timed = [r for r in timed if isinstance(r.get("step"), int) and r["step"] <= step] or timed
    return max((r["time"] for r in timed), default=None)


def _grid_of(run: Path, step, steps_per_epoch) -> tuple[Path | None, str]:
    """The fixed-seed grid of the exported model: the last one drawn at or before its step, since a run can go
    on past the checkpoint that ships."""
    grids = fixed_seed_grids(run, run, steps_per_epoch)
    if not grids:
        return None, ""
    if isinstance(step, int):
        drawn = [(grid_step(g, steps_per_epoch), g) for g in grids]
        earlier = [(at, g) for at, g in drawn if at is not None and at <= step]
        if earlier and earlier[-1][1] != grids[-1]:
            at, grid = earlier[-1]
            return grid, f"the fixed-seed grid at step {at:,}" + ("" if at == step else f" (the model: step {step:,})")
    return grids[-1], "the fixed-seed grid at the end of training"


def _training_rows(train: dict, config: dict, step, seconds) -> list[str]:
    spe = config.get(config_json.STEPS_PER_EPOCH)
    rows = ["| | |", "|---|---|", f"| recipe | `{train.get('recipe', 'book')}` |"]
    if isinstance(step, int):
        rows.append(f"| length | {step:,} steps" + (f" ({step / spe:.1f} epochs)" if isinstance(spe, int) and spe else "")
                    + " |")
    for key, words in (("batch_size", "batch"), ("precision", "precision"), ("seed", "seed")):
        if key in train:
            rows.append(f"| {words} | {train[key]} |")
    for key, words in (("spectral_norm", "spectral norm on D"), ("class_loss", "class loss (AC-GAN) weight")):
        if train.get(key) not in (None, "off", 0, 0.0):  # shown only where the run used it
            rows.append(f"| {words} | {train[key]} |")
    if seconds:
        rows.append(f"| training time | {duration(seconds)} |")
    rows.append(f"| machine | {config.get('machine') or 'not recorded'} |")
    rows.append(f"| torch | {config.get(config_json.TORCH, '?')} |")
    return rows


def _evaluation(report: dict | None) -> list[str]:
    if not report:
        return ["Not evaluated yet: `python -m evaluation.evaluate RUN` measures it, then re-export or "
                "`python -m inference.model_card RUN`."]
    rows = {**report.get("generators", {}), **{f"reference: {k}": v for k, v in report.get("reference", {}).items()}}
    columns = [c for c in eval_json.REPORTED if any(c in r for r in rows.values())]
    arrow = {c: "↓" if eval_json.LOWER_IS_BETTER.get(c) else "↑" for c in columns}
    table = ["| | " + " | ".join(f"{METRIC_WORDS[c]} {arrow[c]}" for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        table.append(f"| {name} | " + " | ".join(f"{row[c]:.4g}" if c in row else "" for c in columns) + " |")
    where = f"step {report.get('step')}, {report.get('samples')} samples"
    return [f"Measured by `python -m evaluation.evaluate` ({where}) in the **{report.get('features', '?')}**: "
            "distances in the project's own classifier's features, not Inception FID. The reference rows bracket "
            "it: real training images against real test images (the best possible) and an untrained generator.",
            ""] + table


def _per_class(report: dict | None) -> list[str]:
    """A conditional model's agreement with the class asked for, and its FID against that class's test images."""
    per_class = (report or {}).get("per_class") or {}
    lines = []
    for generator, classes in per_class.items():
        lines += [f"Per class, {generator} (agreement: the share of its images the classifier labels as the class "
                  "asked for; FID against that class's real test images):", "", "| class | agreement ↑ | FID ↓ |",
                  "|---|---|---|"]
        lines += [f"| {name} | {row.get('class_agreement', float('nan')):.1%} | {row.get('fid', float('nan')):.4g} |"
                  for name, row in classes.items()] + [""]
    return lines


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m inference.model_card", description="Write the model card (README.md) "
                            "of a run folder's exported generators, from its own files.")
    parser.add_argument("run", help="run folder with exported generators")
    parser.add_argument("--stdout", action="store_true", help="print the card instead of writing README.md")
    args = parser.parse_args(argv)
    run = Path(args.run)
    if not run.is_dir() or not exported_generators(run):
        raise UserError(f"{run} holds no exported generator; export one first: python -m export.to_onnx {run}")
    text = card(run)
    if args.stdout:
        print(text)
        return 0
    if (run / CARD).exists() and not ours(run / CARD):
        raise UserError(f"{run / CARD} exists and is not a model card of this tool; not overwriting it")
    atomic_write(run / CARD, text.encode())
    print(f"wrote {run / CARD}")
    return 0


if __name__ == "__main__":
    run_main(main)
