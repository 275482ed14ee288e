"""DistributedDataParallel plumbing: `torchrun --nproc_per_node=N -m train.dcgan ...`.

torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; without them this is a one-process no-op. NCCL
on GPUs, gloo on CPU. Rank 0 alone writes the run folder; every collective below is called
by all ranks at the same point of the loop, so none can hang waiting for the others.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

import torch
import torch.distributed as torch_dist

from core.errors import UserError


def _world_size() -> int:
    """How many processes torchrun started (1 when run without it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    timeout: float = 0.0  # seconds a collective waits for the other processes
    broken: bool = False  # a peer stopped answering: the group can no longer be closed politely

    @classmethod
    def from_env(cls, device_name: str = "auto", timeout: float = 600.0) -> "Dist":
        world = _world_size()
        if world <= 1:
            return cls()
        use_cuda = torch.cuda.is_available() and device_name != "cpu"
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if use_cuda:
            torch.cuda.set_device(local_rank)
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(seconds=timeout))
        return cls(torch_dist.get_rank(), torch_dist.get_world_size(), local_rank, timeout)

    def stopped_answering(self, error: Exception, step: int, run_dir) -> UserError:
        """The one-line error for a collective that timed out or lost its peer (a stopped or vanished rank)."""
        self.broken = True
        who = f"process {1 - self.rank}" if self.world == 2 else "another process"
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        return UserError(f"process {self.rank}: {who} of {self.world} stopped answering at step {step} (waited up "
                         f"to {self.timeout:g} s: {reason}); the last checkpoint in {run_dir} is kept: continue with "
                         f"--resume {run_dir} (--collective-timeout sets the wait)")

    @staticmethod
    def is_lost_peer(error: Exception) -> bool:
        """Whether a collective failed because a peer stopped or vanished (gloo/NCCL say it in many ways)."""
        text = str(error).lower()
        return isinstance(error, RuntimeError) and any(w in text for w in (
            "timed out", "timeout", "connection reset", "connection closed", "broken pipe", "peer"))

    def device(self, name: str) -> str:
        """Under torchrun each rank uses its own GPU."""
        if self.enabled and name in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return name

    def broadcast(self, value):
        """Rank 0's value, on every rank (e.g. the run folder, whose default name has a timestamp)."""
        if not self.enabled:
            return value
        box = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            torch_dist.all_reduce(tensor)
        return tensor

    def any(self, flag: bool, device: torch.device) -> bool:
        if not self.enabled:
            return flag
        return bool(self.sum_(torch.tensor([float(flag)], device=device)).item() > 0)

    def close(self) -> None:
        if self.enabled and torch_dist.is_initialized() and not self.broken:
            torch_dist.destroy_process_group()


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


def exit_process(code: int) -> NoReturn:
    """Exit a CLI; a torchrun worker skips Python's interpreter shutdown.

    Why: under DDP on gloo the process group outlives `destroy_process_group` (DDP's C++ side keeps
    a reference), so its worker threads still run while the interpreter finalizes. A worker that is
    just releasing a finished collective whose tensors have Python objects must take the GIL, and
    taking it during finalization aborts the process: SIGABRT, "terminate called without an active
    exception", about 1 exit in 30 on 2 cores (pytorch/pytorch#190489, seen in gdb). By the time a
    worker exits, every file is written and closed and the group is destroyed, so nothing is lost.
    """
    if _world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
