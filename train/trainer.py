"""The training loop: a run folder, resumable to the step, with metrics, grids and checkpoints.

Run folder layout (everything the exporter and the dashboard read):
    config.json      the resolved TrainConfig plus model facts
    metrics.jsonl    one JSON object per --log-every window (and at each checkpoint)
    samples/         epoch_0001.png … from fixed latents; step_0000500.png with --sample-every
    last.pt          newest checkpoint; step_0001000.pt … periodic ones
"""
from __future__ import annotations

import copy
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from . import checkpoint, data as datasets
from .config import SCHEDULE_FIELDS, TrainConfig
from .errors import UserError
from .images import atomic_write, grid, png_bytes, to_uint8
from .models import PRESETS, build, check_image_batch
from .distributed import Dist
from .fast import StaticStep
from .step import (METRIC_NAMES, Draws, Nets, ReplayBuffer, Shard, StepOptions, draw, keras_rmsprop, train_step,
                   update_ema)

SAMPLE_GRID_SIZE = 64


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown --device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return device


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The data order of an epoch depends only on (seed, epoch), so a resumed run sees the same order."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def fixed_latents(seed: int, latent_dim: int, count: int = SAMPLE_GRID_SIZE) -> torch.Tensor:
    """The latent vectors of the progress grids: the same in every epoch of a run."""
    return torch.randn((count, latent_dim), generator=torch.Generator().manual_seed(seed))


@dataclass
class Progress:
    step: int = 0
    epoch: int = 0  # epochs completed
    elapsed: float = 0.0  # training seconds, summed over resumes


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, device: torch.device, resume_state: dict | None = None,
                 dist: Dist = Dist()):
        self.cfg, self.run_dir, self.device, self.dist = cfg, run_dir, device, dist
        if cfg.batch_size % dist.world:
            raise UserError(f"--batch-size {cfg.batch_size} (the global batch) must divide evenly among {dist.world} processes")
        self.local_batch = cfg.batch_size // dist.world
        self.shard = Shard(dist.rank, dist.world)
        preset = PRESETS[cfg.model]
        self.latent_dim, self.image_shape, self.pixel_range = preset.latent_dim, preset.image_shape, preset.pixel_range
        self.data = datasets.load(cfg.dataset, "train", cfg.data_dir, cfg.class_tuple, preset.image_shape)
        if len(self.data) < cfg.batch_size:
            raise UserError(f"the dataset has {len(self.data)} images, fewer than one batch of {cfg.batch_size}")
        self.steps_per_epoch = len(self.data) // cfg.batch_size  # drop the last partial batch, as the books do
        self.images = self.data.images.to(device)  # uint8 on the device; batches are scaled there

        torch.manual_seed(cfg.seed)
        self.generator, self.discriminator = build(cfg.model, cfg.minibatch_std, cfg.leaky_slope)
        self.opts = StepOptions(cfg.label_smoothing, cfg.label_noise, cfg.clip_value, precision=cfg.precision,
                                channels_last=cfg.channels_last)
        self.generator.to(device, memory_format=self.opts.memory_format).train()
        self.discriminator.to(device, memory_format=self.opts.memory_format).train()
        ids = [device.index] if device.type == "cuda" else None
        wrap = (lambda m: DistributedDataParallel(m, device_ids=ids)) if dist.enabled else (lambda m: m)
        self.nets = Nets(self.generator, self.discriminator, wrap(self.generator), wrap(self.discriminator))
        # The CUDA-graph fast path (train/fast.py) where it applies; DDP and replay use the same code eagerly.
        self.use_graphs = device.type == "cuda" and cfg.cuda_graphs == "auto" and not dist.enabled and not cfg.replay
        self.opt_g = keras_rmsprop(self.generator.parameters(), cfg.lr_g, capturable=self.use_graphs)
        self.opt_d = keras_rmsprop(self.discriminator.parameters(), cfg.lr_d, capturable=self.use_graphs)
        self.ema = copy.deepcopy(self.generator).eval() if cfg.ema else None
        self.noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        self.replay = ReplayBuffer(cfg.replay, self.image_shape, device) if cfg.replay else None
        self.sample_z = fixed_latents(cfg.seed, self.latent_dim).to(device)
        self.progress = Progress()
        self.stop_signal: int | None = None
        self.quick_eval = None
        self.postfix: dict[str, str] = {}  # what the progress bar shows after the counts
        if cfg.eval_every and dist.main:
            from .evaluate import QuickEval  # only runs that ask for it pay for the classifier
            self.quick_eval = QuickEval(cfg, self.model_facts(), cfg.eval_samples)
        if resume_state is not None:
            self._restore(resume_state)

    # --- state -------------------------------------------------------------------------

    def model_facts(self) -> dict:
        """What the exporter and dashboard need to rebuild and display G without the config."""
        return {"preset": self.cfg.model, "latent_dim": self.latent_dim, "image_shape": list(self.image_shape),
                "pixel_range": list(self.pixel_range), "minibatch_std": self.cfg.minibatch_std,
                "leaky_slope": self.cfg.leaky_slope, "dataset": self.cfg.dataset,
                "class_names": list(self.data.class_names)}

    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "noise": self.noise_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
            "generator_ema": self.ema.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "replay": self.replay.state_dict() if self.replay else None,
            "step": self.progress.step, "epoch": self.progress.epoch, "elapsed": self.progress.elapsed,
            "rng": rng, "config": self.cfg.to_dict(), "model": self.model_facts(),
        }

    def _restore(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None and state.get("generator_ema") is not None:
            self.ema.load_state_dict(state["generator_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.replay is not None and state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])
        self.progress = Progress(state["step"], state["epoch"], state.get("elapsed", 0.0))
        torch.set_rng_state(state["rng"]["torch"])
        self.noise_gen.set_state(state["rng"]["noise"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    # --- outputs -----------------------------------------------------------------------

    def _save(self, periodic: bool = False) -> None:
        """Checkpoint, unless a weight went NaN/inf: a good checkpoint is never replaced by a broken one."""
        params = [*self.generator.parameters(), *self.discriminator.parameters()]
        if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            raise UserError(f"training diverged: weights became NaN/inf by step {self.progress.step}; "
                            f"the last good checkpoint in {self.run_dir} was kept. Try a lower --lr")
        if not self.dist.main:
            return
        state = self.state_dict()
        if periodic:
            checkpoint.save(state, self.run_dir / f"step_{self.progress.step:07d}.pt")
            old = sorted(self.run_dir.glob("step_*.pt"))[:-self.cfg.keep_checkpoints]
            for path in old:
                path.unlink(missing_ok=True)
        checkpoint.save(state, self.run_dir / "last.pt")

    @torch.no_grad()
    def _write_grid(self, name: str) -> None:
        if not self.dist.main:
            return
        models = [("", self.generator)] + ([("ema_", self.ema)] if self.ema is not None else [])
        for prefix, model in models:
            was_training = model.training
            model.eval()
            images = model(self.sample_z).float().cpu().numpy()
            model.train(was_training)
            atomic_write(self.run_dir / "samples" / f"{prefix}{name}.png",
                         png_bytes(grid(to_uint8(images, self.pixel_range), ncols=8)))

    # --- the loop ----------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict:
        """Ctrl-C/SIGTERM ask the loop to save and stop; returns the handlers to put back afterwards."""
        def request_stop(signum, _frame):
            self.stop_signal = signum
        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def fit(self) -> int:
        """Train until --epochs or --max-steps; returns the exit code (non-zero if stopped by a signal)."""
        cfg, p = self.cfg, self.progress
        total_steps = cfg.epochs * self.steps_per_epoch
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        if p.step >= total_steps:
            print(f"run already at step {p.step} of {total_steps}; raise --epochs or --max-steps to train on")
            return 0
        metrics = MetricsLog(self.run_dir / "metrics.jsonl" if self.dist.main else None, self.device, self.dist)
        step = StaticStep(self._step, self._draws, self.images, self.pixel_range, self.local_batch, metrics.sum,
                          capture=self.use_graphs)
        first = self.images[self._batch_indices(epoch_order(cfg.seed, 0, len(self.data)), 0)]
        check_image_batch(first.float(), self.image_shape, "a real batch")
        bar = tqdm(total=total_steps, initial=p.step, unit="step", dynamic_ncols=True, disable=not self.dist.main,
                   mininterval=0.5 if sys.stderr.isatty() else 30, desc=f"epoch {p.epoch + 1}/{cfg.epochs}")
        t_mark = time.perf_counter()
        previous_handlers = self._install_signal_handlers()
        try:
            while p.step < total_steps:
                epoch = p.step // self.steps_per_epoch
                order = epoch_order(cfg.seed, epoch, len(self.data)).to(self.device)
                bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
                for i in range(p.step % self.steps_per_epoch, self.steps_per_epoch):
                    step(self._batch_indices(order, i))
                    metrics.count += 1
                    p.step += 1
                    bar.update(1)
                    now = time.perf_counter()
                    p.elapsed, t_mark = p.elapsed + now - t_mark, now
                    if p.step % cfg.log_every == 0:
                        self._flush(metrics, bar, epoch)
                    stop = self._agreed_stop(at_log_boundary=p.step % cfg.log_every == 0)
                    stopping = stop is not None or p.step >= total_steps
                    if cfg.eval_every and p.step % cfg.eval_every == 0:
                        self._flush(metrics, bar, epoch)
                        self._evaluate(metrics, bar, epoch)
                    if cfg.sample_every and p.step % cfg.sample_every == 0:
                        self._write_grid(f"step_{p.step:07d}")
                    if cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0:
                        self._flush(metrics, bar, epoch)
                        self._save(periodic=True)
                    if stopping:
                        break
                if p.step % self.steps_per_epoch == 0:  # the epoch is complete
                    p.epoch = p.step // self.steps_per_epoch
                    self._write_grid(f"epoch_{p.epoch:04d}")
                elif not (cfg.sample_every and p.step % cfg.sample_every == 0):
                    self._write_grid(f"step_{p.step:07d}")  # stopped mid-epoch: still show where it got to
                self._flush(metrics, bar, epoch)
                self._save()
                if stop is not None:
                    name = signal.Signals(stop).name
                    bar.close()
                    if self.dist.main:
                        print(f"{name}: saved {self.run_dir / 'last.pt'} at step {p.step}; "
                              f"continue with: python -m train.dcgan --resume {self.run_dir}")
                    return 128 + stop
        finally:
            bar.close()
            metrics.close()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        if self.dist.main:
            print(f"done: {p.step} steps, {p.elapsed:.0f} s of training; run folder {self.run_dir}")
        return 0

    def _evaluate(self, metrics: "MetricsLog", bar: tqdm, epoch: int) -> None:
        result = self.quick_eval(self.generator)
        if self.ema is not None:
            result.update({f"{k}_ema": v for k, v in self.quick_eval(self.ema).items()})
        metrics.write({"step": self.progress.step, "epoch": epoch + 1, **result})
        self.postfix["fid"] = f"{result['fid']:.2f}"
        bar.set_postfix(self.postfix)
        warning = self.quick_eval.collapse_warning(result)
        if warning:
            tqdm.write(warning)

    def _batch_indices(self, order: torch.Tensor, index: int) -> torch.Tensor:
        """This rank's slice of global batch `index` in an epoch's order (indices into the dataset)."""
        start = index * self.cfg.batch_size + self.shard.rank * self.local_batch
        return order[start:start + self.local_batch]

    def _draws(self) -> Draws:
        return draw(self.local_batch, self.latent_dim, self.opts, self.device, self.noise_gen, self.shard)

    def _step(self, real: torch.Tensor, draws: Draws) -> torch.Tensor:
        """The whole per-step computation (what a CUDA graph captures): D step, G step, EMA update."""
        values = train_step(self.nets, self.opt_g, self.opt_d, real, self.latent_dim, self.noise_gen,
                            self.opts, self.replay, self.shard, draws)
        if self.ema is not None:
            update_ema(self.ema, self.generator, self.cfg.ema)
        return values

    def _agreed_stop(self, at_log_boundary: bool) -> int | None:
        """The signal to stop on, once every rank knows of it (DDP ranks agree at log boundaries)."""
        if not self.dist.enabled:
            return self.stop_signal
        if at_log_boundary and self.dist.any(self.stop_signal is not None, self.device):
            return self.stop_signal or signal.SIGTERM
        return None

    def _flush(self, metrics: "MetricsLog", bar: tqdm, epoch: int) -> None:
        record = metrics.flush(self.progress, epoch + 1, self.cfg.batch_size,
                               {"lr_d": self.opt_d.param_groups[0]["lr"], "lr_g": self.opt_g.param_groups[0]["lr"]})
        if record is None:
            return
        if not all(math.isfinite(record[k]) for k in METRIC_NAMES):
            raise UserError(f"training diverged: a loss became NaN/inf by step {self.progress.step}; "
                            f"the last good checkpoint in {self.run_dir} was kept. Try a lower --lr")
        self.postfix.update(d_real=f"{record['d_loss_real']:.3f}", d_fake=f"{record['d_loss_fake']:.3f}",
                            g=f"{record['g_loss']:.3f}", img_s=f"{record['images_per_s']:.0f}")
        bar.set_postfix(self.postfix)


class MetricsLog:
    """Sums the per-step metrics on the device; `flush` reads them once and appends a JSON line.

    Under DDP the sums of all ranks are added first, so the record holds global-batch means;
    only rank 0 (the one given a path) writes.
    """

    def __init__(self, path: Path | None, device: torch.device, dist: Dist = Dist()):
        self.path, self.dist = path, dist
        self.file = open(path, "a", encoding="utf-8") if path is not None else None
        self.sum = torch.zeros(len(METRIC_NAMES), device=device)
        self.count = 0
        self.window_start = time.perf_counter()

    def flush(self, progress: Progress, epoch: int, batch_size: int, extra: dict) -> dict | None:
        if self.count == 0:
            return None
        means = (self.dist.sum_(self.sum) / (self.count * self.dist.world)).tolist()  # the one host sync per window
        now = time.perf_counter()
        record = {"step": progress.step, "epoch": epoch, **dict(zip(METRIC_NAMES, means)), **extra,
                  "time": round(progress.elapsed, 3),
                  "images_per_s": self.count * batch_size / max(now - self.window_start, 1e-9)}
        if all(math.isfinite(record[k]) for k in METRIC_NAMES):
            self.write(record)
        self.sum.zero_()
        self.count = 0
        self.window_start = now
        return record

    def write(self, record: dict) -> None:
        """One whole line per write call: a crash can tear only the last line, which resume drops."""
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only whole records up to `last_step`, so a resumed run continues with no gap or duplicate."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= last_step:
            kept.append(line)
    atomic_write(path, "".join(l + "\n" for l in kept).encode())


def new_run_dir(cfg: TrainConfig) -> Path:
    name = cfg.name or f"{cfg.model}-{cfg.dataset}-{datetime.now():%Y%m%d-%H%M%S}"
    if "/" in name or name in ("", ".", ".."):
        raise UserError(f"--name {name!r} must be a plain folder name")
    run_dir = Path(cfg.out) / name
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"run folder {run_dir} already exists; continue it with --resume {run_dir} or pick another --name")
    try:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create run folder {run_dir} ({exc.strerror})") from None
    return run_dir


def write_config(run_dir: Path, trainer: Trainer) -> None:
    payload = {"train": trainer.cfg.to_dict(), "model": trainer.model_facts(),
               "steps_per_epoch": trainer.steps_per_epoch, "dataset_size": len(trainer.data),
               "data_source": trainer.data.source, "created": datetime.now().isoformat(timespec="seconds"),
               "torch": torch.__version__}
    atomic_write(run_dir / "config.json", (json.dumps(payload, indent=2) + "\n").encode())


def resume_config(state: dict, given: dict) -> TrainConfig:
    """The checkpoint's config, with only the schedule flags the user gave now applied on top."""
    saved = TrainConfig.from_dict(state["config"])
    changed = {k: v for k, v in given.items() if k not in SCHEDULE_FIELDS and k != "out" and getattr(saved, k) != v}
    if changed:
        raise UserError(f"--resume continues a run with its own settings; these differ: "
                        f"{', '.join('--' + k.replace('_', '-') for k in changed)} (only "
                        f"{', '.join('--' + k.replace('_', '-') for k in SCHEDULE_FIELDS)} may change)")
    return TrainConfig.from_dict({**saved.to_dict(), **{k: v for k, v in given.items() if k in SCHEDULE_FIELDS}})
