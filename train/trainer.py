"""The training loop: resumable to the step, with metrics, grids and checkpoints in a run folder.

`Trainer.fit` is one loop over the global step, as stylegan2-ada's training_loop is: the epoch and
the batch within it come from `divmod`, and everything that happens between steps (logging,
evaluation, grids, checkpoints, stopping) is decided in one maintenance gate after each step, whose
time does not count as training time. The folder's files are listed in core/formats/__init__.py.
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
from core.formats.metrics_jsonl import AUGMENT_P, LOSS_METRICS, METRICS, finite_losses, step_metrics
from core.images import grid, png_bytes, to_uint8
from core.progress import Pace, progress
from core.runs import LAST, SAMPLES, grid_name, periodic_checkpoint
from core.spec import PRESETS, ModelSpec
from evaluation.quality import QuickEval
from gan import checkpoint, data as datasets
from gan.models import add_class_head, add_spectral_norm, build_from_spec, call, check_image_batch, evaluating, mixed_classes

from . import reports
from .augment import Augment
from .config import TrainConfig
from .distributed import Dist
from .fast import StaticStep
from .metrics_log import MetricsLog
from .threads import ThreadTuner, forward_pass
from .step import (OPTIMIZERS, Draws, Nets, ReplayBuffer, Shard, StepOptions, draw, ema_warmup_decay, train_step,
                   update_ema)

SAMPLE_GRID_SIZE = 64
ACC_REAL = LOSS_METRICS.index("d_acc_real")  # D's accuracy on reals in a step's metric vector (for ADA)
ESTIMATE_AFTER_S = 12.0  # training seconds (after the pace's warm-up) before the run's length is said


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The data order of an epoch depends only on (seed, epoch), so a resumed run sees the same order."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


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
        if cfg.class_loss and not cfg.conditional:
            raise UserError("--class-loss needs --conditional: it teaches D and G the classes a conditional model is asked for")
        self.local_batch = cfg.batch_size // dist.world
        self.shard = Shard(dist.rank, dist.world)
        preset = PRESETS[cfg.model]
        self.data = datasets.load(cfg.dataset, "train", cfg.data_dir, cfg.class_tuple, preset.image_shape)
        if len(self.data) < cfg.batch_size:
            raise UserError(f"the dataset has {len(self.data)} images, fewer than one batch of {cfg.batch_size}")
        self.data = datasets.present_classes(self.data) if cfg.conditional else self.data
        self.spec = ModelSpec(cfg.model, preset.latent_dim, preset.image_shape, preset.pixel_range, cfg.leaky_slope,
                              cfg.minibatch_std, cfg.dataset, tuple(self.data.class_names), cfg.conditional)
        self.steps_per_epoch = len(self.data) // cfg.batch_size  # drop the last partial batch, as the books do
        # --precision auto is measured once the inputs are known good; every rank takes rank 0's choice
        self.cfg, self.precision_note = cfg, _ = dist.broadcast(cfg.with_precision(device) if dist.main else None)
        self.images = self.data.images.to(device)  # uint8 on the device; batches are scaled there
        self.labels = self.data.labels.to(device) if cfg.conditional else None

        torch.manual_seed(cfg.seed)
        self.generator, self.discriminator = build_from_spec(self.spec)
        if cfg.class_loss:
            add_class_head(self.discriminator)
        if cfg.spectral_norm == "on":
            add_spectral_norm(self.discriminator)
        self.opts = StepOptions(cfg.label_smoothing, cfg.label_noise, cfg.clip_value, precision=cfg.precision,
                                channels_last=cfg.channels_last, loss=cfg.loss, augment=bool(cfg.augment_ops),
                                num_classes=self.spec.num_classes, class_loss=cfg.class_loss)
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
        seeded = torch.Generator().manual_seed(cfg.seed)  # the progress grids' latents: the same in every epoch
        self.sample_z = torch.randn((SAMPLE_GRID_SIZE, self.spec.latent_dim), generator=seeded).to(device)
        self.sample_classes = mixed_classes(len(self.sample_z), self.spec.num_classes, device) if cfg.conditional else None
        self.progress = Progress()
        self.stop_signal: int | None = None
        self.postfix: dict[str, str] = {}  # what the progress bar shows after the counts
        # Rank 0 alone evaluates (and writes); the others never call it, so it needs no collective.
        self.quick_eval = QuickEval(cfg.data_source, self.spec, cfg.eval_samples) if cfg.eval_every and dist.main else None
        if resume_state is not None:
            self._restore(resume_state)

    @property
    def total_steps(self) -> int:
        total = self.cfg.epochs * self.steps_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    def _parts(self) -> dict:
        """Everything with a state_dict that a checkpoint holds, by its key (None where the run has none)."""
        return {"generator": self.generator, "discriminator": self.discriminator, "generator_ema": self.ema,
                "opt_g": self.opt_g, "opt_d": self.opt_d, "replay": self.replay, "augment": self.augment}

    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "noise": self.noise_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        p = self.progress
        return {**{key: part.state_dict() if part is not None else None for key, part in self._parts().items()},
                "step": p.step, "epoch": p.epoch, "elapsed": p.elapsed, "rng": rng, "config": self.cfg.to_dict(),
                "model": self.spec.to_dict()}

    def _restore(self, state: dict) -> None:
        for key, part in self._parts().items():
            if part is not None and state.get(key) is not None:
                part.load_state_dict(state[key])
        self.progress = Progress(state["step"], state["epoch"], state.get("elapsed", 0.0))
        torch.set_rng_state(state["rng"]["torch"])
        self.noise_gen.set_state(state["rng"]["noise"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    def _save(self, periodic: bool = False) -> None:
        """Checkpoint, unless a weight went NaN/inf: a good checkpoint is never replaced by a broken one."""
        params = [*self.generator.parameters(), *self.discriminator.parameters()]
        if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            raise self._diverged("weights")
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
            with evaluating(model):
                images = call(model, self.sample_z, self.sample_classes).float().cpu().numpy()
            atomic_write(self.run_dir / SAMPLES / grid_name(prefix=prefix, **when),
                         png_bytes(grid(to_uint8(images, self.spec.pixel_range), ncols=8)))

    def fit(self) -> int:
        """Train until --epochs, --max-steps or --minutes; returns the exit code (128 + signal if stopped by one)."""
        cfg, p, total, spe = self.cfg, self.progress, self.total_steps, self.steps_per_epoch
        if p.step >= total:
            print(f"run already at step {p.step} of {total}; raise --epochs or --max-steps to train on")
            return 0
        metrics = MetricsLog(self.run_dir / METRICS if self.dist.main else None, self.device, self.dist, p.elapsed,
                             step_metrics(bool(cfg.class_loss)))
        run_step = StaticStep(self._step, self._draws, self.images, self.spec.pixel_range, self.local_batch,
                              metrics.sum, capture=self.use_graphs, labels=self.labels)
        check_image_batch(self.images[:1].float(), self.spec.image_shape, "a real batch")
        bar = progress(total, p.step, unit="step", disable=not self.dist.main)
        pace = Pace(p.step, p.elapsed, budget=cfg.minutes * 60 if cfg.minutes else None)
        tuner = self._thread_tuner(bar)
        previous_handlers = self._install_signal_handlers()
        order, order_epoch, said_pace, done, stop, time_up = None, -1, False, False, None, False
        try:
            while not done:
                epoch, index = divmod(p.step, spe)
                if epoch != order_epoch:
                    order, order_epoch = epoch_order(cfg.seed, epoch, len(self.data)).to(self.device), epoch
                    bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
                started = time.perf_counter()
                if self.ema is not None:
                    self.ema_decay.fill_(ema_warmup_decay(cfg.ema, p.step))
                run_step(self._batch_indices(order, index))
                if self.augment is not None:
                    self.augment.adapt(p.step + 1, self.dist.world, self.dist.sum_)
                metrics.count += 1
                seconds = time.perf_counter() - started
                p.step, p.elapsed = p.step + 1, p.elapsed + seconds
                bar.update(1)
                if tuner is not None:
                    tuner.observe(seconds)

                # maintenance: every decision between two steps, made here once
                at = lambda every: bool(every) and p.step % every == 0  # noqa: E731
                at_log, epoch_done = at(cfg.log_every), at(spe)
                stop, time_up = self._stop_now(at_log)
                done = p.step >= total or time_up or stop is not None
                if at_log or at(cfg.eval_every) or at(cfg.checkpoint_every) or epoch_done or done:
                    self._flush(metrics, bar, epoch)
                if at(cfg.eval_every) and self.quick_eval is not None:
                    self._evaluate(metrics, bar, epoch)
                if epoch_done:
                    p.epoch = p.step // spe
                    self._write_grid(epoch=p.epoch)
                elif at(cfg.sample_every) or done:
                    self._write_grid(step=p.step)  # a run stopped mid-epoch still shows where it got to
                if at(cfg.checkpoint_every):
                    self._save(periodic=True)
                if epoch_done or done:
                    self._save()
                pace.update(p.step, p.elapsed)
                if at_log and pace.rate:
                    bar.total = pace.end_step(p.step, p.elapsed, total)  # the ETA follows a time budget
                if not said_pace and pace.measured_for >= ESTIMATE_AFTER_S and self.dist.main:
                    said_pace = True
                    bar.write(reports.pace_line(self, pace))
        except RuntimeError as exc:
            if self.dist.enabled and Dist.is_lost_peer(exc):
                raise self.dist.stopped_answering(exc, p.step, self.run_dir) from None
            raise
        finally:
            bar.close()
            metrics.close()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        if self.dist.main:
            print(reports.ending(self, stop, time_up))
        return 128 + stop if stop is not None else 0

    def _thread_tuner(self, bar) -> ThreadTuner | None:
        """Under --threads 0 on the CPU (one process), the thread count follows what is measured fastest now
        (train/threads.py), timed on a throwaway forward pass of G; each change is said on the progress bar."""
        if self.cfg.threads or self.device.type != "cpu" or self.dist.enabled or torch.get_num_threads() < 2:
            return None

        def decided(before: int, after: int) -> None:
            if after < before:
                bar.write(f"step {self.progress.step}: {after} torch thread(s) measured faster than {before} now "
                          "(another program is busy on this machine?); --threads N fixes the count")
            else:
                bar.write(f"step {self.progress.step}: back to {after} torch threads (measured faster again)")

        z = torch.randn((self.local_batch, self.spec.latent_dim), generator=torch.Generator().manual_seed(0))
        classes = mixed_classes(len(z), self.spec.num_classes, self.device) if self.cfg.conditional else None
        workload = forward_pass(self.generator, z, classes, bf16=self.opts.precision == "bf16")
        return ThreadTuner(torch.get_num_threads(), torch.set_num_threads, workload, decided)

    def _stop_now(self, at_log: bool) -> tuple[int | None, bool]:
        """(the signal to stop on, whether --minutes is used up): under DDP all ranks decide together, at log
        boundaries, so all stop at the same step."""
        over = bool(self.cfg.minutes) and self.progress.elapsed >= self.cfg.minutes * 60
        if not self.dist.enabled:
            return self.stop_signal, over
        if not at_log:
            return None, False
        signalled = self.dist.any(self.stop_signal is not None, self.device)
        return (self.stop_signal or signal.SIGTERM) if signalled else None, self.dist.any(over, self.device)

    def _install_signal_handlers(self) -> dict:
        """Ctrl-C/SIGTERM ask the loop to save and stop; returns the handlers to put back afterwards."""
        def request_stop(signum, _frame):
            self.stop_signal = signum
        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _evaluate(self, metrics: MetricsLog, bar, epoch: int) -> None:
        """The quick evaluation (rank 0 only: it holds the evaluator, and no other rank waits for it)."""
        result = self.quick_eval(self.generator)
        if self.ema is not None:
            result.update({f"{k}_ema": v for k, v in self.quick_eval(self.ema).items()})
        metrics.write({"step": self.progress.step, "epoch": epoch + 1, **result})
        self.postfix["fid"] = f"{result['fid']:.2f}"
        bar.set_postfix(self.postfix)
        warning = self.quick_eval.collapse_warning(result)
        if warning:
            bar.write(warning)

    def _batch_indices(self, order: torch.Tensor, index: int) -> torch.Tensor:
        """This rank's slice of global batch `index` in an epoch's order (indices into the dataset)."""
        start = index * self.cfg.batch_size + self.shard.rank * self.local_batch
        return order[start:start + self.local_batch]

    def _draws(self) -> Draws:
        return draw(self.local_batch, self.spec.latent_dim, self.opts, self.device, self.noise_gen, self.shard)

    def _step(self, real: torch.Tensor, draws: Draws, classes: torch.Tensor | None = None) -> torch.Tensor:
        """The whole per-step computation (what a CUDA graph captures): D step, G step, EMA update."""
        values = train_step(self.nets, self.opt_g, self.opt_d, real, self.spec.latent_dim, self.noise_gen,
                            self.opts, self.replay, self.shard, draws, self.augment, classes)
        if self.augment is not None:
            self.augment.observe(values[ACC_REAL])
        if self.ema is not None:
            update_ema(self.ema, self.generator, self.ema_decay)
        return values

    def _diverged(self, what: str) -> UserError:
        return UserError(f"training diverged: {what} became NaN/inf by step {self.progress.step}; "
                         f"the last good checkpoint in {self.run_dir} was kept. Try a lower --lr")

    def _flush(self, metrics: MetricsLog, bar, epoch: int) -> None:
        p = self.progress
        extra = {"lr_d": self.opt_d.param_groups[0]["lr"], "lr_g": self.opt_g.param_groups[0]["lr"]}
        if self.augment is not None:
            extra[AUGMENT_P] = round(float(self.augment.p), 6)
        record = metrics.flush(p.step, epoch + 1, p.elapsed, self.cfg.batch_size, extra)
        if record is None:
            return
        if not finite_losses(record):
            raise self._diverged("a loss")
        self.postfix.update(d_real=f"{record['d_loss_real']:.3f}", d_fake=f"{record['d_loss_fake']:.3f}",
                            g=f"{record['g_loss']:.3f}", img_s=f"{record['images_per_s']:.0f}")
        bar.set_postfix(self.postfix)
