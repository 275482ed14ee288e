"""Measure a run's generators: `python -m evaluation.evaluate [RUN | CHECKPOINT | MODEL.onnx]` (see --help).

Prints and saves `<run>/eval.json`: Fréchet and kernel distances (FID/KID) between generated
and real test images of the run's own classes, k-NN precision and recall, the class histogram
with its KL divergence from uniform and the classes covered, and the share of near-copies of
training images (the memorisation check). Reference rows bracket the result: real train vs
real test images (the floor) and an untrained generator (the ceiling). `--curve` scores every
checkpoint the run kept instead, for quality-over-time plots. `--class NAME` measures one class of a
conditional model as if it had been trained on that class alone (its images of the class against
the class's real images), so that it compares with a run trained on the class only.

Features: the project's Fashion-MNIST classifier for 1x28x28 images, its CIFAR-10 classifier for
3x32x32 ones (evaluation/classifier.py). These are classifier-feature distances, NOT Inception FID,
and are not comparable with published numbers; the output always names the space it used.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import atomic_write
from core.formats import config_json, eval_json, nearest_npz
from core.runs import PERIODIC_GLOB, periodic_step
from core.spec import ModelSpec
from core.targets import locate

from gan import checkpoint, data as datasets

from . import metrics
from .quality import (FeatureSpace, agreement, feature_space, generate, near_copies, references, requested, sample_of,
                      sample_order, score)

MIN_IMAGES = 100  # below this the feature covariances are rank-deficient and the distances meaningless
FEW_IMAGES = 2000  # below this, warn: the distances are biased upward (our in-training evaluation uses 2,000)
NOTE = ("distances in the features of the project's own classifier: compare runs with each other, not with "
        "published Inception-FID numbers")
EXAMPLES = """examples:
  python -m evaluation.evaluate                                the newest run under checkpoints/
  python -m evaluation.evaluate checkpoints/<run>              its last.pt (and EMA), writes <run>/eval.json
  python -m evaluation.evaluate checkpoints/<run>/generator.onnx   the exported model, run by ONNX Runtime
  python -m evaluation.evaluate checkpoints/<run> --curve      every kept checkpoint, to quality_curve.jsonl
  python -m evaluation.evaluate checkpoints/<run> --data-dir /data/fashion-mnist   the data moved
  python -m evaluation.evaluate checkpoints/<conditional run> --class frog   one class, as if trained on it alone
"""


@dataclass
class Subject:
    """What is being measured: the generators by name, the model, and where its real data lives."""

    generators: dict[str, Callable[..., torch.Tensor]]  # name -> (count, seed, only class) -> images in [0, 1]
    spec: ModelSpec
    dataset: str
    data_dir: str | None
    classes: tuple[str, ...]
    source: Path
    step: int | None
    epoch: int | None
    elapsed: float | None = None  # training seconds up to a checkpoint (none for an exported model)


def from_checkpoint(path: Path, data_dir: str | None) -> Subject:
    state = checkpoint.load(path)
    spec, source = checkpoint.spec_of(state), config_json.data_source(state["config"])
    generator, ema = checkpoint.build_generators(state)
    nets = {"generator": generator, **({"generator_ema": ema} if ema is not None else {})}
    return Subject({name: (lambda count, seed, only=None, desc=None, g=g: generate(g, count, spec, seed, only, desc))
                    for name, g in nets.items()},
                   spec, source.dataset, data_dir or source.data_dir, source.classes, path, state["step"],
                   state["epoch"], state.get("elapsed", 0.0))


def one_class(subject: Subject, name: str) -> Subject:
    """A conditional model as a model of one class: its images of that class, scored against that class's real
    images with the class as the run's only one, as a run trained on the class alone is scored."""
    if not subject.spec.conditional:
        raise UserError(f"--class is for class-conditional models; {subject.source} draws no class on request")
    lookup = {c.lower(): k for k, c in enumerate(subject.spec.class_names)}
    if name.lower() not in lookup:
        raise UserError(f"no class {name!r} in {subject.source}; it knows: {', '.join(subject.spec.class_names)}")
    k = lookup[name.lower()]
    chosen = subject.spec.class_names[k]
    makers = {g: (lambda count, seed, only=None, desc=None, make=make: make(count, seed, k, desc))
              for g, make in subject.generators.items()}
    return dataclasses.replace(subject, generators=makers, classes=(chosen,),
                               spec=dataclasses.replace(subject.spec, class_names=(chosen,), conditional=False))


def from_onnx(path: Path, data_dir: str | None) -> Subject:
    """An exported model is measured through the checkpoint it was exported from: the exporter proved them
    equal (parity within 1e-4 for fp32 exports), and the checkpoint says where the data is."""
    import hashlib

    import onnx

    try:
        meta = {p.key: p.value for p in onnx.load_from_string(path.read_bytes()).metadata_props}
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and others
        raise UserError(f"{path} is not a readable ONNX model ({type(exc).__name__})") from None
    if "checkpoint" not in meta or "checkpoint_sha256" not in meta:
        raise UserError(f"{path} does not name the checkpoint it was exported from; export it with "
                        "python -m export.to_onnx, or evaluate its run folder")
    source = path.parent / Path(meta["checkpoint"]).name
    if not source.is_file():
        raise UserError(f"{path} was exported from {source.name}, which is not beside it: evaluation needs G's "
                        "weights in that checkpoint (shipped generators carry none; their eval.json holds the figures "
                        "measured before they were shipped)")
    if hashlib.sha256(source.read_bytes()).hexdigest() != meta["checkpoint_sha256"]:
        raise UserError(f"{path} was exported from {source}, which has changed since; evaluate the checkpoint as it "
                        f"is now (python -m evaluation.evaluate {source}) or export it again")
    subject = from_checkpoint(source, data_dir)
    weights = meta.get("weights", "generator")
    subject.generators = {f"{weights} ({path.name})": subject.generators[weights]}
    print(f"{path.name} was exported from {source.name} (checksum verified): measuring those weights")
    return subject


def real_images(subject: Subject, split: str) -> datasets.ImageData:
    if not subject.dataset:
        raise UserError(f"{subject.source} does not say which dataset it was trained on; pass --data-dir")
    data = datasets.load(subject.dataset, split, subject.data_dir, subject.classes, subject.spec.image_shape)
    if split == "test" and len(data) < MIN_IMAGES:
        raise UserError(f"the {split} set has {len(data)} images; the quality figures need at least {MIN_IMAGES} "
                        f"(FID and KID of fewer images say nothing)")
    return data


def small_sample_warning(real: int, generated: int) -> str | None:
    """Distances from few images are biased upward and noisy: say so beside the table."""
    fewest = min(real, generated)
    if fewest >= FEW_IMAGES:
        return None
    return (f"warning: only {fewest} {'real test' if real <= generated else 'generated'} images: FID and KID this "
            f"small a sample are biased and noisy; compare runs at equal counts of {FEW_IMAGES:,} or more")


def format_table(rows: dict[str, dict]) -> str:
    keys = [k for k in eval_json.REPORTED if any(k in r for r in rows.values())]
    lines = [f"{'':28}" + "".join(f"{k:>16}" for k in keys)]
    for name, row in rows.items():
        cells = "".join(f"{row[k]:>16.4f}" if isinstance(row.get(k), float) else f"{row.get(k, ''):>16}" for k in keys)
        lines.append(f"{name:28}{cells}")
    return "\n".join(lines)


def evaluate(subject: Subject, space: FeatureSpace, samples: int, with_reference: bool) -> dict:
    test = real_images(subject, "test")
    real_test = sample_of(test.images, samples)
    test_features = space.features(real_test)
    train = real_images(subject, "train")
    train_features = space.features(train.images.float() / 255)
    rows, nearest, per_class = {}, {}, {}
    for name, make in subject.generators.items():
        images = make(samples, 0, desc=f"{name}: images")
        fake_features = space.features(images)
        rows[name] = score(space, test_features, images, subject.spec.class_names, fake_features=fake_features)
        copies = near_copies(train_features, test_features, fake_features)
        rows[name].update(near_copy_share=copies["near_copy_share"], near_copy_threshold=copies["threshold"])
        nearest[name] = (images[:32], copies)
        if subject.spec.conditional and space.classes is not None:
            rows[name]["class_agreement"] = agreement(space, images, subject.spec, requested(samples, subject.spec))
            per_class[name] = class_scores(space, make, subject.spec, test, samples, name)
    report = {"run": subject.source.parent.name, "checkpoint": subject.source.name, "step": subject.step,
              "epoch": subject.epoch, "samples": samples, "features": space.name, "note": NOTE,
              "near_copies": "share of samples nearer a training image than 99% of real test images are "
                             "(real test images: 0.01 by construction)", "generators": rows}
    if per_class:
        report["per_class"] = per_class
    if with_reference:
        order = sample_order(len(train.images), samples)  # the floor's features are among train_features
        report["reference"] = references(space, test_features, train.images[order].float() / 255, subject.spec,
                                         samples, real_train_features=train_features[order])
    report["_nearest"] = (nearest, train)
    report["_real_count"] = len(real_test)
    return report


def class_scores(space: FeatureSpace, make, spec: ModelSpec, test: datasets.ImageData, samples: int,
                 label: str = "") -> dict:
    """Per class of a conditional model: the agreement of its images with the class asked for, and their FID
    against that class's real test images."""
    result = {}
    for k, name in enumerate(spec.class_names):
        real = test.images[[test.class_names[i] == name for i in test.labels.tolist()]]
        count = max(MIN_IMAGES, min(len(real), samples // spec.num_classes))
        images = make(count, 1, k, desc=f"{label}, class {name}: images")
        result[name] = {"class_agreement": agreement(space, images, spec, requested(count, spec, k)),
                        "fid": metrics.frechet_distance(space.features(sample_of(real, count)), space.features(images))}
    return result


def write_nearest(run_dir: Path, nearest: dict, train: datasets.ImageData) -> None:
    """Samples beside their nearest training images, for the dashboard's memorisation view (uint8 NHWC)."""
    found = {}
    for name, (images, copies) in nearest.items():
        count = len(images)
        found[name] = nearest_npz.Nearest(
            (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy(),
            train.images[copies["neighbours"][:count]].permute(0, 2, 3, 1).numpy(),
            copies["distances"][:count].numpy(), copies["threshold"])
    atomic_write(run_dir / nearest_npz.NEAREST, nearest_npz.to_bytes(found))


def checkpoint_stamp(path: Path) -> str:
    """What tells a kept checkpoint from another file of the same name (a rewound run retrains step_N.pt)."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def curve(target_dir: Path, space: FeatureSpace, samples: int, data_dir: str | None) -> list[dict]:
    """Scores of every checkpoint the run kept, oldest first (one line each in quality_curve.jsonl).

    A long run is scored along the way: checkpoints scored before with the same samples and features are not
    scored again, and the lines of checkpoints that --keep-checkpoints has since deleted stay in the curve. The
    file is rewritten after each checkpoint, so stopping keeps what was scored."""
    paths = sorted(target_dir.glob(PERIODIC_GLOB))
    if not paths:
        raise UserError(f"{target_dir} keeps no periodic checkpoints (step_*.pt); train with --checkpoint-every N "
                        "--keep-checkpoints K to plot quality over time")
    same = {"samples": samples, "features": space.name}
    earlier = [line for line in eval_json.read_curve(target_dir) if all(line.get(k) == v for k, v in same.items())]
    scored = {line.get("checkpoint_stamp"): line for line in earlier}
    first_kept = periodic_step(paths[0])
    lines = [line for line in earlier if line["step"] < first_kept]  # their checkpoints were rotated away
    test_features = None
    for path in paths:
        stamp = checkpoint_stamp(path)
        line = scored.get(stamp)
        reused = line is not None
        if not reused:
            subject = from_checkpoint(path, data_dir)
            if test_features is None:
                test_features = space.features(sample_of(real_images(subject, "test").images, samples))
            line = {"step": subject.step, "epoch": subject.epoch, "time": round(subject.elapsed, 1), **same,
                    "checkpoint_stamp": stamp}
            for name, make in subject.generators.items():
                row = score(space, test_features, make(samples, 0), subject.spec.class_names, kid_subsets=3)
                row.pop("class_histogram", None)
                line.update({(k if name == "generator" else f"{k}_ema"): v for k, v in row.items()})
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in line.items() if k != "checkpoint_stamp"}
        print(json.dumps(shown) + ("  (scored before)" if reused else ""), flush=True)
        lines.append(line)
        eval_json.write_curve(target_dir, lines)
    return lines


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m evaluation.evaluate", description=summary(__doc__),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", help="run folder, checkpoint (.pt) or exported model (.onnx); "
                        "default: the newest run under --runs")
    parser.add_argument("--runs", default="checkpoints", help="folder of run folders (default: checkpoints)")
    parser.add_argument("--samples", type=int, help="generated images per generator (default 10000; 2000 with --curve)")
    parser.add_argument("--data-dir", help="where the run's dataset is now (default: where it was trained from)")
    parser.add_argument("--classifier", help="feature classifier weights (default: the committed one for the shape)")
    parser.add_argument("--no-reference", action="store_true", help="skip the floor/ceiling reference rows")
    parser.add_argument("--curve", action="store_true", help="score every kept checkpoint (step_*.pt) instead; "
                        "checkpoints scored before with the same --samples are not scored again")
    parser.add_argument("--class", dest="class_name", metavar="NAME", help="a conditional model's class NAME alone, "
                        "scored as a run trained on that class only is (to eval-<name>.json; the run's eval.json "
                        "and nearest.npz are left as they are)")
    args = parser.parse_args(argv)
    samples = args.samples or (2000 if args.curve else 10_000)
    if samples < MIN_IMAGES:
        raise UserError(f"--samples must be at least {MIN_IMAGES}")
    target = locate(args.target, Path(args.runs), accept=("checkpoint", "onnx"), command="python -m evaluation.evaluate")
    subject = from_onnx(target.onnx, args.data_dir) if target.onnx else from_checkpoint(target.checkpoint, args.data_dir)
    if args.class_name is not None:
        if args.curve:
            raise UserError("--class and --curve do not go together: score the class of one checkpoint at a time")
        subject = one_class(subject, args.class_name)
    space = feature_space(subject.spec.image_shape, args.classifier)
    print(f"features: {space.name}", flush=True)
    if args.curve:
        curve(target.run_dir, space, samples, args.data_dir)
        print(f"wrote {target.run_dir / eval_json.CURVE}")
        return 0
    report = evaluate(subject, space, samples, not args.no_reference)
    nearest, train = report.pop("_nearest")
    warning = small_sample_warning(report.pop("_real_count"), samples)
    if warning:
        report["warning"] = warning
    written = eval_json.class_file(subject.classes[0]) if args.class_name else eval_json.EVAL
    eval_json.write(target.run_dir, report, written)
    if not args.class_name:
        written += f" and {nearest_npz.NEAREST}"
        write_nearest(target.run_dir, nearest, train)
    table = {**report["generators"], **{f"ref: {k}": v for k, v in report.get("reference", {}).items()}}
    print(f"{subject.source} (step {subject.step}), {samples} samples, features: {space.name}")
    print(format_table(table))
    for name, classes in report.get("per_class", {}).items():
        print(f"{name}, per class:  " + ", ".join(f"{c} {v['class_agreement']:.0%} (FID {v['fid']:.1f})"
                                                    for c, v in classes.items()))
    if warning:
        print(warning)
    print(f"wrote {target.run_dir / written}  ({NOTE})")
    return 0


if __name__ == "__main__":
    run_main(main)
