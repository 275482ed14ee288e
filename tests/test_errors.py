"""core/errors.py: every expected failure of a CLI is one line and a non-zero exit; SIGTERM unwinds."""
import errno
import os
import signal

import pytest

from core.errors import EXIT_TERMINATED, ArgumentParser, UserError, cli_entry


@pytest.mark.parametrize("raised, code, line", [
    (UserError("the flag is wrong"), 2, "error: the flag is wrong"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (OSError(errno.EFBIG, "File too large", "runs/x/last.pt"), 1, "error: File too large (runs/x/last.pt)"),
    (MemoryError(), 1, "error: out of memory"),
    (RuntimeError("boom\nsecond line"), 1, "error: unexpected RuntimeError: boom"),
])
def test_failures_become_one_line(raised, code, line, capsys, monkeypatch):
    monkeypatch.delenv("GAN_DEBUG", raising=False)

    @cli_entry
    def main(_argv=None):
        raise raised

    assert main([]) == code
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(line)


def test_sigterm_unwinds_so_cleanup_runs_and_the_old_handler_comes_back(capsys):
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []

    @cli_entry
    def main(_argv=None):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
        finally:
            cleaned.append(True)

    assert main([]) == EXIT_TERMINATED and cleaned == [True]
    assert capsys.readouterr().err.strip() == "terminated"
    assert signal.getsignal(signal.SIGTERM) is before


def test_argument_errors_point_to_help(capsys):
    parser = ArgumentParser(prog="tool")
    parser.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--n", "x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith("(see tool --help)")
