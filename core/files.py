"""Atomic writes, and reads of files that may be hostile (bounded, regular, inside a root).

Writers never leave half a file where a reader looks: data goes to a temp file in the same
folder, is fsynced, then renamed over the target. Readers of run folders treat every file as
untrusted input: a link that leads outside the folder tree, a FIFO or device, or a file larger
than the caller's cap is refused with a one-sentence `UnsafeFile`, never read.
"""
from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


class UnsafeFile(Exception):
    """A file a reader refuses: outside the root, not a regular file, or over its size cap."""


def file_part(name: str) -> str:
    """'T-shirt/top' -> 't-shirt-top': a free-form name (a class's) as part of a file name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until closed: marks the temp file as in use (remove_stale_temps)
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # e.g. EFBIG or ENOSPC from write(): say which file
        raise


def write_all(files: dict[Path, bytes]) -> None:
    """Write a set of files that belong together (a model, its explore data, its card) so that a failure at
    any point leaves the previous set whole: every file goes to a temp name first, and only when all are
    written and fsynced are they renamed, in the order given (so name a file before the file that refers
    to it: explore data before its model)."""
    temps: list[tuple[int, str, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
            temps.append((fd, tmp, path))
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, 0o666 & ~UMASK)
            _write_fully(fd, data, path)
            os.fsync(fd)
        for _, tmp, path in temps:
            os.replace(tmp, path)
        for folder in {path.parent for _, _, path in temps}:
            fsync_dir(folder)
    finally:
        for fd, tmp, _ in temps:
            os.close(fd)
            if os.path.exists(tmp):
                os.unlink(tmp)


def _write_fully(fd: int, data: bytes, path: Path) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)  # ENOSPC or EFBIG: say which file
        raise


def fsync_dir(folder: str | Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_files(folder: Path) -> list[Path]:
    """Temp files of `atomic_write` in folder and its subfolders (one level): being written, or left by a kill."""
    return [p for pattern in (f".*{TEMP_SUFFIX}", f"*/.*{TEMP_SUFFIX}") for p in Path(folder).glob(pattern)]


def remove_stale_temps(folder: Path) -> int:
    """Delete the temp files whose writer is gone (killed mid-write); returns how many.

    A live writer holds an flock on its temp file, so one that can be locked has no writer:
    the kernel dropped the lock with the process. Temp files still being written are left alone.
    """
    removed = 0
    for path in temp_files(folder):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
            removed += 1
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return removed


def _read_umask() -> int:
    """The process umask, read without changing it where Linux shows it (setting it to read it back, as
    os.umask requires, would race with threads writing files meanwhile, as Streamlit's do)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # once, at import, before any thread of ours writes
    os.umask(mask)
    return mask


UMASK = _read_umask()


def inside(root: Path, path: Path) -> bool:
    """True when `path`, with every link followed, lies within `root` (links followed too)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def read_bounded(path: str | Path, limit: int, root: str | Path | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, which must lie inside `root` if given.

    Opened without blocking (a FIFO cannot hang the reader) and checked with fstat after opening,
    so what is read is what was checked; where /proc exists, the opened file's real path is
    checked against the root again, which closes the gap between the check and the open.
    """
    path = Path(path)
    if root is not None and not inside(Path(root), path):
        raise UnsafeFile(f"{path.name} leads outside {root}")
    try:
        fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise UnsafeFile(f"{path.name} cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path.name} is not a regular file")
        if root is not None and os.path.exists(f"/proc/self/fd/{fd}"):
            if not inside(Path(root), Path(os.readlink(f"/proc/self/fd/{fd}"))):
                raise UnsafeFile(f"{path.name} leads outside {root}")
        if info.st_size > limit:
            raise UnsafeFile(f"{path.name} is {info.st_size:,} bytes, over the {limit:,}-byte limit")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew after fstat
                raise UnsafeFile(f"{path.name} is over the {limit:,}-byte limit")
        return b"".join(chunks)
    finally:
        os.close(fd)
