"""core/files.py: atomic writes, stale temp files, and bounded reads that stay inside a root."""
import errno
import fcntl
import os

import pytest

from core.files import UnsafeFile, atomic_write, read_bounded, remove_stale_temps, temp_files


def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two" and temp_files(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) != oct(0o600), "mkstemp's private mode must not leak"


def test_a_failed_write_names_its_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    atomic_write(target, b"old")

    def too_big(_fd):
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(os, "fsync", too_big)
    with pytest.raises(OSError) as caught:
        atomic_write(target, b"new")
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"old" and temp_files(tmp_path) == []


def test_only_temps_without_a_live_writer_are_removed(tmp_path):
    stale = tmp_path / ".x.onnx.abc.tmp"
    stale.write_bytes(b"left by a kill")
    live = tmp_path / ".y.onnx.def.tmp"
    live.write_bytes(b"being written")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as atomic_write holds it while writing
    try:
        assert remove_stale_temps(tmp_path) == 1
        assert not stale.exists() and live.exists()
    finally:
        os.close(fd)


def test_bounded_read_refuses_links_out_of_the_root_special_files_and_big_files(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "secret.txt"
    root.mkdir()
    outside.write_text("secret")
    (root / "ok.txt").write_text("fine")
    (root / "nested").mkdir()
    (root / "nested" / "link").symlink_to(outside)
    (root / "deep").symlink_to(root / "nested")  # a link to a link inside: still resolved to the end
    os.mkfifo(root / "fifo")
    (root / "big.bin").write_bytes(b"x" * 101)
    assert read_bounded(root / "ok.txt", 100, root) == b"fine"
    for name, message in [("nested/link", "outside"), ("deep/link", "outside"), ("fifo", "not a regular file"),
                          ("big.bin", "over the 100-byte limit")]:
        with pytest.raises(UnsafeFile, match=message):
            read_bounded(root / name, 100, root)
    (root / "inner").symlink_to(root / "ok.txt")
    assert read_bounded(root / "inner", 100, root) == b"fine", "links that stay inside are fine"
