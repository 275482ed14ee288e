"""One-line errors for the command-line tools.

Users should see a sentence saying what is wrong and how to fix it, never a traceback;
set GAN_DEBUG=1 to get the traceback when debugging the tool itself.
"""
from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import threading
from typing import Callable


class UserError(Exception):
    """A problem the user can fix (bad flag, missing or corrupt file); its text is shown as is."""


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that `finally` blocks and temp-file cleanup run."""


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def _raise_terminated(_signum, _frame):
    raise Terminated()


def _interrupted_outside_main(_signum, _frame):
    """Ctrl-C while a command starts (imports) or ends (after its work is written): one line, exit 130."""
    print("interrupted", file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED)


def quiet_interrupts() -> None:
    """Until a command's main runs, Ctrl-C ends the process with one line (no import traceback)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupted_outside_main)


def run_main(main: Callable[[list[str] | None], int], exit: Callable[[int], None] | None = None) -> None:
    """`python -m` entry: run a cli_entry main, then leave with its code; a Ctrl-C from here on is one line."""
    code = main(None)
    quiet_interrupts()
    (exit or sys.exit)(code)


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a CLI `main` so expected failures print one line to stderr and exit non-zero."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
        if in_main_thread and signal.getsignal(signal.SIGINT) is _interrupted_outside_main:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # main's own Ctrl-C handling takes over
        try:
            return main(argv)
        except UserError as exc:
            return _fail(f"error: {exc}", EXIT_USER_ERROR)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_INTERRUPTED)
        except Terminated:
            return _fail("terminated", EXIT_TERMINATED)
        except MemoryError:
            return _fail("error: out of memory; try a smaller --batch-size", 1)
        except OSError as exc:
            return _fail(f"error: {describe_os_error(exc)}", 1)
        except Exception as exc:  # noqa: BLE001 - last line of defence for a CLI
            if os.environ.get("GAN_DEBUG"):
                raise
            return _fail(f"error: unexpected {type(exc).__name__}: {exc} (set GAN_DEBUG=1 for details)", 1)
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _fail(message: str, code: int) -> int:
    if os.environ.get("GAN_DEBUG") and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    print(message.splitlines()[0] if message else "error", file=sys.stderr)
    return code


def summary(doc: str) -> str:
    """A module docstring's first paragraph as one line, for --help: its first line alone can stop mid-sentence."""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (no usage dump) that points to --help."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def describe_os_error(exc: OSError) -> str:
    """'File too large (checkpoints/run/last.pt)': the reason and, whenever known, the file."""
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
