"""One writer per run folder: an OS lock that dies with its process.

The lock is `flock` on the run folder itself, so taking it creates nothing and a killed holder
can never leave a stale lock behind: the kernel drops it with the process. Beside it, the holder
writes `.lock` with its pid, host and start time, only so that a refused process can say who
holds the run; the flock, not that file, decides.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

from .errors import UserError
from .files import atomic_write
from .runs import LOCK


class RunLock:
    """Exclusive lock on a run folder for as long as this object is held (or the process lives)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.run_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"{self.run_dir} is being trained by another process ({self.holder()}); "
                            "nothing was changed: wait for it to finish or stop it, then --resume") from None
        self.fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv)[:500]}
        atomic_write(self.run_dir / LOCK, (json.dumps(info) + "\n").encode())
        return self

    def holder(self) -> str:
        """Who holds the lock, from the holder's note (best effort: the note is advisory)."""
        try:
            info = json.loads((self.run_dir / LOCK).read_text(encoding="utf-8")[:4096])
            return f"pid {info['pid']} on {info['host']}, since {info['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            (self.run_dir / LOCK).unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *_exc) -> None:
        self.release()
