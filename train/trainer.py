"""The training loop: resumable to the step, with metrics, grids and checkpoints in a run folder.

`Trainer.fit` is one loop over the global step; the epoch and the batch within it come from
`divmod`, and everything that happens between steps (logging, evaluation, grids, checkpoints,
stopping) is decided in one place, `_after_step`. The folder's layout is in core/runs.py.
It is the one training module near 300 lines: the loop, the state it checkpoints and the files it
writes between steps are one unit, and splitting them would make the loop read out of order.
"""
from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from core.errors import UserError
from core.files import atomic_write
from core.images import grid, png_bytes, to_uint8
from core.progress import duration, progress
from core.runs import LAST, LOSS_METRICS, METRICS, SAMPLES, grid_name, periodic_checkpoint
from core.spec import PRESETS, ModelSpec

from . import checkpoint, data as datasets
from .config import TrainConfig
from .distributed import Dist
from .fast import StaticStep
from .metrics_log import MetricsLog, finite
from .augment import Augment
from .config import QUICK_LOOK_MINUTES
from .models import add_spectral_norm, build_from_spec, check_image_batch
from .step import (OPTIMIZERS, Draws, Nets, ReplayBuffer, Shard, StepOptions, draw, ema_warmup_decay, train_step,
                   update_ema)

SAMPLE_GRID_SIZE = 64
ACC_REAL = LOSS_METRICS.index("d_acc_real")  # D's accuracy on reals in a step's metric vector (for ADA)
ESTIMATE_AFTER_S = 15.0  # training seconds after which the run's length is estimated and said


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
    """Builds everything a run needs (data, models, optimizers) without touching the run folder."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, device: torch.device, resume_state: dict | None = None,
                 dist: Dist = Dist()):
        self.cfg, self.run_dir, self.device, self.dist = cfg, run_dir, device, dist
        if cfg.batch_size % dist.world:
            raise UserError(f"--batch-size {cfg.batch_size} (the global batch) must divide evenly among {dist.world} processes")
        self.local_batch = cfg.batch_size // dist.world
        self.shard = Shard(dist.rank, dist.world)
        preset = PRESETS[cfg.model]
        self.data = datasets.load(cfg.dataset, "train", cfg.data_dir, cfg.class_tuple, preset.image_shape)
        if len(self.data) < cfg.batch_size:
            raise UserError(f"the dataset has {len(self.data)} images, fewer than one batch of {cfg.batch_size}")
        self.spec = ModelSpec(cfg.model, preset.latent_dim, preset.image_shape, preset.pixel_range, cfg.leaky_slope,
                              cfg.minibatch_std, cfg.dataset, tuple(self.data.class_names))
        self.steps_per_epoch = len(self.data) // cfg.batch_size  # drop the last partial batch, as the books do
        self.images = self.data.images.to(device)  # uint8 on the device; batches are scaled there

        torch.manual_seed(cfg.seed)
        self.generator, self.discriminator = build_from_spec(self.spec)
        if cfg.spectral_norm == "on":
            add_spectral_norm(self.discriminator)
        self.opts = StepOptions(cfg.label_smoothing, cfg.label_noise, cfg.clip_value, precision=cfg.precision,
                                channels_last=cfg.channels_last, loss=cfg.loss, augment=bool(cfg.augment_ops))
        self.generator.to(device, memory_format=self.opts.memory_format).train()
        self.discriminator.to(device, memory_format=self.opts.memory_format).train()
        ids = [device.index] if device.type == "cuda" else None
        wrap = (lambda m: DistributedDataParallel(m, device_ids=ids)) if dist.enabled else (lambda m: m)
        self.nets = Nets(self.generator, self.discriminator, wrap(self.generator), wrap(self.discriminator))
        # The CUDA-graph fast path (train/fast.py) where it applies; DDP and replay use the same code eagerly.
        self.use_graphs = device.type == "cuda" and cfg.cuda_graphs == "auto" and not dist.enabled and not cfg.replay
        make_optimizer = OPTIMIZERS[cfg.optimizer]
        self.opt_g = make_optimizer(self.generator.parameters(), cfg.lr_g, capturable=self.use_graphs)
        self.opt_d = make_optimizer(self.discriminator.parameters(), cfg.lr_d, capturable=self.use_graphs)
        self.ema = copy.deepcopy(self.generator).eval() if cfg.ema else None
        # The EMA decay of the coming step, on the device (a CUDA graph reads it on every replay).
        self.ema_decay = torch.tensor(float(cfg.ema), device=device)
        self.augment = Augment(cfg.augment_ops, self.spec.pixel_range, device, cfg.augment_p, cfg.ada_target,
                               cfg.ada_kimg * 1000, cfg.batch_size) if cfg.augment_ops else None
        self.noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        self.replay = ReplayBuffer(cfg.replay, self.spec.image_shape, device) if cfg.replay else None
        self.sample_z = fixed_latents(cfg.seed, self.spec.latent_dim).to(device)
        self.progress = Progress()
        self.stop_signal: int | None = None
        self.quick_eval = None
        self.postfix: dict[str, str] = {}  # what the progress bar shows after the counts
        if cfg.eval_every and dist.main:
            from .quality import QuickEval  # only runs that ask for it pay for the classifier
            self.quick_eval = QuickEval(cfg, self.spec, cfg.eval_samples)
        if resume_state is not None:
            self._restore(resume_state)

    @property
    def total_steps(self) -> int:
        total = self.cfg.epochs * self.steps_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    # --- state -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "noise": self.noise_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
            "generator_ema": self.ema.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "replay": self.replay.state_dict() if self.replay else None,
            "augment": self.augment.state_dict() if self.augment else None,
            "step": self.progress.step, "epoch": self.progress.epoch, "elapsed": self.progress.elapsed,
            "rng": rng, "config": self.cfg.to_dict(), "model": self.spec.to_dict(),
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
        if self.augment is not None and state.get("augment") is not None:
            self.augment.load_state_dict(state["augment"])
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
            checkpoint.save(state, self.run_dir / periodic_checkpoint(self.progress.step))
            for old in sorted(self.run_dir.glob("step_*.pt"))[:-self.cfg.keep_checkpoints]:
                old.unlink(missing_ok=True)
        checkpoint.save(state, self.run_dir / LAST)

    @torch.no_grad()
    def _write_grid(self, **when) -> None:
        """The fixed-latent grid of G (and of its EMA) at `step=` or at the end of `epoch=`."""
        if not self.dist.main:
            return
        models = [("", self.generator)] + ([("ema_", self.ema)] if self.ema is not None else [])
        for prefix, model in models:
            was_training = model.training
            model.eval()
            images = model(self.sample_z).float().cpu().numpy()
            model.train(was_training)
            atomic_write(self.run_dir / SAMPLES / grid_name(prefix=prefix, **when),
                         png_bytes(grid(to_uint8(images, self.spec.pixel_range), ncols=8)))

    # --- the loop ----------------------------------------------------------------------

    def fit(self) -> int:
        """Train until --epochs or --max-steps; returns the exit code (non-zero if stopped by a signal)."""
        p, total = self.progress, self.total_steps
        if p.step >= total:
            print(f"run already at step {p.step} of {total}; raise --epochs or --max-steps to train on")
            return 0
        self.metrics = MetricsLog(self.run_dir / METRICS if self.dist.main else None, self.device, self.dist)
        run_step = StaticStep(self._step, self._draws, self.images, self.spec.pixel_range, self.local_batch,
                              self.metrics.sum, capture=self.use_graphs)
        check_image_batch(self.images[:1].float(), self.spec.image_shape, "a real batch")
        self.bar = progress(total, p.step, unit="step", disable=not self.dist.main)
        previous_handlers = self._install_signal_handlers()
        order, order_epoch, t_mark = None, -1, time.perf_counter()
        self.estimate_from = (p.step, t_mark)
        try:
            for step in range(p.step, total):
                epoch, index = divmod(step, self.steps_per_epoch)
                if epoch != order_epoch:
                    order, order_epoch = epoch_order(self.cfg.seed, epoch, len(self.data)).to(self.device), epoch
                    self.bar.set_description(f"epoch {epoch + 1}/{self.cfg.epochs}")
                if self.ema is not None:
                    self.ema_decay.fill_(ema_warmup_decay(self.cfg.ema, step))
                run_step(self._batch_indices(order, index))
                if self.augment is not None:
                    self.augment.adapt(step + 1, self.dist.world, self.dist.sum_)
                self.metrics.count += 1
                now = time.perf_counter()
                p.step, p.elapsed, t_mark = step + 1, p.elapsed + now - t_mark, now
                self.bar.update(1)
                if self.estimate_from is not None and now - self.estimate_from[1] >= ESTIMATE_AFTER_S:
                    self._say_how_long(now)
                stop = self._after_step(epoch)
                t_mark = time.perf_counter()  # evaluations, grids and checkpoints are not training time
                if self.time_up:
                    self.bar.close()
                    if self.dist.main:
                        self._say_time_is_up()
                    return 0
                if stop is not None:
                    self.bar.close()
                    if self.dist.main:
                        print(f"{signal.Signals(stop).name}: saved {self.run_dir / LAST} at step {p.step}; "
                              f"continue with: python -m train.dcgan --resume {self.run_dir}")
                    return 128 + stop
        finally:
            self.bar.close()
            self.metrics.close()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        if self.dist.main:
            print(f"done: {p.step} steps, {p.elapsed:.0f} s of training; run folder {self.run_dir}")
        return 0

    def _out_of_time(self) -> bool:
        """Whether --minutes is used up; DDP ranks decide together, at log boundaries, so all stop at one step."""
        over = bool(self.cfg.minutes) and self.progress.elapsed >= self.cfg.minutes * 60
        if not self.dist.enabled:
            return over
        return self.progress.step % self.cfg.log_every == 0 and self.dist.any(over, self.device)

    def _say_time_is_up(self) -> None:
        p = self.progress
        print(f"done: the {self.cfg.minutes:g}-minute budget is used: {p.step} steps "
              f"({p.step / self.steps_per_epoch:.1f} epochs), {p.elapsed:.0f} s of training; run folder "
              f"{self.run_dir}\ntrain on with: python -m train.dcgan --resume {self.run_dir} --epochs "
              f"{PRESETS[self.cfg.model].epochs}   (the book's length)")

    def _say_how_long(self, now: float) -> None:
        """Once, early: the speed measured so far, the time the run will take, and a quicker first look."""
        first_step, since = self.estimate_from
        self.estimate_from = None
        steps_per_s = (self.progress.step - first_step) / (now - since)
        left = (self.total_steps - self.progress.step) / steps_per_s
        budget_left = self.cfg.minutes * 60 - self.progress.elapsed if self.cfg.minutes else None
        line = f"measured {steps_per_s * self.cfg.batch_size:.0f} images/s: "
        if budget_left is not None and budget_left < left:
            stop_step = min(self.total_steps, self.progress.step + int(budget_left * steps_per_s))
            line += (f"the {self.cfg.minutes:g}-minute budget ends near step {stop_step} "
                     f"({stop_step / self.steps_per_epoch:.1f} epochs)")
        else:
            line += f"about {duration(left)} to step {self.total_steps}"
            if left > 300:
                line += f"; for a quick look, stop (Ctrl-C keeps the run) and try --minutes {QUICK_LOOK_MINUTES:g}"
                if self.cfg.recipe == "book":
                    line += ", or --recipe modern, which needs fewer epochs (docs/modern-recipe.md)"
        if self.dist.main:
            self.bar.write(line)

    def _after_step(self, epoch: int) -> int | None:
        """Everything between two steps: log, evaluate, grids, checkpoints; returns a stop signal or None."""
        cfg, step = self.cfg, self.progress.step
        self.time_up = self._out_of_time()
        at_log = step % cfg.log_every == 0
        if at_log:
            self._flush(epoch)
        stop = self._agreed_stop(at_log_boundary=at_log)
        if cfg.eval_every and step % cfg.eval_every == 0:
            self._flush(epoch)
            self._evaluate(epoch)
        sampled = bool(cfg.sample_every) and step % cfg.sample_every == 0
        if sampled:
            self._write_grid(step=step)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self._flush(epoch)
            self._save(periodic=True)
        epoch_done = step % self.steps_per_epoch == 0
        if epoch_done or stop is not None or step == self.total_steps or self.time_up:
            if epoch_done:
                self.progress.epoch = step // self.steps_per_epoch
                self._write_grid(epoch=self.progress.epoch)
            elif not sampled:
                self._write_grid(step=step)  # stopped mid-epoch: still show where it got to
            self._flush(epoch)
            self._save()
        return stop

    def _install_signal_handlers(self) -> dict:
        """Ctrl-C/SIGTERM ask the loop to save and stop; returns the handlers to put back afterwards."""
        def request_stop(signum, _frame):
            self.stop_signal = signum
        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _evaluate(self, epoch: int) -> None:
        result = self.quick_eval(self.generator)
        if self.ema is not None:
            result.update({f"{k}_ema": v for k, v in self.quick_eval(self.ema).items()})
        self.metrics.write({"step": self.progress.step, "epoch": epoch + 1, **result})
        self.postfix["fid"] = f"{result['fid']:.2f}"
        self.bar.set_postfix(self.postfix)
        warning = self.quick_eval.collapse_warning(result)
        if warning:
            self.bar.write(warning)

    def _batch_indices(self, order: torch.Tensor, index: int) -> torch.Tensor:
        """This rank's slice of global batch `index` in an epoch's order (indices into the dataset)."""
        start = index * self.cfg.batch_size + self.shard.rank * self.local_batch
        return order[start:start + self.local_batch]

    def _draws(self) -> Draws:
        return draw(self.local_batch, self.spec.latent_dim, self.opts, self.device, self.noise_gen, self.shard)

    def _step(self, real: torch.Tensor, draws: Draws) -> torch.Tensor:
        """The whole per-step computation (what a CUDA graph captures): D step, G step, EMA update."""
        values = train_step(self.nets, self.opt_g, self.opt_d, real, self.spec.latent_dim, self.noise_gen,
                            self.opts, self.replay, self.shard, draws, self.augment)
        if self.augment is not None:
            self.augment.observe(values[ACC_REAL])
        if self.ema is not None:
            update_ema(self.ema, self.generator, self.ema_decay)
        return values

    def _agreed_stop(self, at_log_boundary: bool) -> int | None:
        """The signal to stop on, once every rank knows of it (DDP ranks agree at log boundaries)."""
        if not self.dist.enabled:
            return self.stop_signal
        if at_log_boundary and self.dist.any(self.stop_signal is not None, self.device):
            return self.stop_signal or signal.SIGTERM
        return None

    def _flush(self, epoch: int) -> None:
        p = self.progress
        extra = {"lr_d": self.opt_d.param_groups[0]["lr"], "lr_g": self.opt_g.param_groups[0]["lr"]}
        if self.augment is not None:
            extra["augment_p"] = round(float(self.augment.p), 6)
        record = self.metrics.flush(p.step, epoch + 1, p.elapsed, self.cfg.batch_size, extra)
        if record is None:
            return
        if not finite(record):
            raise UserError(f"training diverged: a loss became NaN/inf by step {p.step}; "
                            f"the last good checkpoint in {self.run_dir} was kept. Try a lower --lr")
        self.postfix.update(d_real=f"{record['d_loss_real']:.3f}", d_fake=f"{record['d_loss_fake']:.3f}",
                            g=f"{record['g_loss']:.3f}", img_s=f"{record['images_per_s']:.0f}")
        self.bar.set_postfix(self.postfix)
