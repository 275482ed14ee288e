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


def test_an_interrupt_while_a_command_starts_or_after_it_ends_is_one_line_and_130(tmp_path):
    """Ctrl-C during the imports of `python -m …` (no traceback), and after main has returned (not a -2 exit)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    package = tmp_path / "slowpkg"  # a package whose import is still running when the interrupt comes
    package.mkdir()
    (package / "__init__.py").write_text("from core.environment import require\nrequire()\nimport pathlib, time\n"
                                         f"pathlib.Path({str(tmp_path / 'importing')!r}).touch()\ntime.sleep(60)\n")
    (package / "cmd.py").write_text("print('main ran')\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    starting = subprocess.Popen([sys.executable, "-m", "slowpkg.cmd"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (tmp_path / "importing").exists():
        assert starting.poll() is None and time.time() < deadline
        time.sleep(0.05)
    starting.send_signal(signal.SIGINT)
    out, err = starting.communicate(timeout=60)
    assert (starting.returncode, err.strip(), out) == (130, "interrupted", "")
    ending = "\n".join(["import os, signal, time", "from core.errors import run_main",
                        "run_main(lambda argv: 0, exit=lambda code: (os.kill(os.getpid(), signal.SIGINT), time.sleep(30)))"])
    done = subprocess.run([sys.executable, "-c", ending], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and done.stderr.strip() == "interrupted"


def test_help_describes_a_tool_by_its_whole_first_paragraph():
    from core.errors import summary

    doc = """Projection of real images: time and distance against
    the best of 10,000 random samples.

    Details that --help does not need."""
    assert summary(doc) == "Projection of real images: time and distance against the best of 10,000 random samples."
