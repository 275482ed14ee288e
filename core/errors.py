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


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a CLI `main` so expected failures print one line to stderr and exit non-zero."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
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


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (no usage dump) that points to --help."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def describe_os_error(exc: OSError) -> str:
    """'File too large (checkpoints/run/last.pt)': the reason and, whenever known, the file."""
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
