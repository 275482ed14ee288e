"""One-line errors for the command-line tools.

Users should see a sentence saying what is wrong and how to fix it, never a traceback;
set GAN_DEBUG=1 to get the traceback when debugging the tool itself.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Callable


class UserError(Exception):
    """A problem the user can fix (bad flag, missing or corrupt file); its text is shown as is."""


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a CLI `main` so expected failures print one line to stderr and exit non-zero."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except UserError as exc:
            return _fail(f"error: {exc}", EXIT_USER_ERROR)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_INTERRUPTED)
        except MemoryError:
            return _fail("error: out of memory; try a smaller --batch-size", 1)
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            return _fail(f"error: {exc.strerror or exc}{where}", 1)
        except Exception as exc:  # noqa: BLE001 - last line of defence for a CLI
            if os.environ.get("GAN_DEBUG"):
                raise
            return _fail(f"error: unexpected {type(exc).__name__}: {exc} (set GAN_DEBUG=1 for details)", 1)

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
