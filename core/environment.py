"""A clear line instead of a traceback when the project's packages are not in this Python.

The usual cause is a shell where the project's virtual environment is not active; Python's own
`ModuleNotFoundError` traceback does not say that.
"""
from __future__ import annotations

import importlib.util
import sys


def require(*modules: str) -> None:
    """Exit with one line naming what is missing and how to get it, if any of `modules` cannot be imported.

    Called first by each package's __init__; when that import is `python -m` starting a command (argv[0] is
    "-m" while the module is found), Ctrl-C during the slow imports that follow ends with one line too."""
    if sys.argv and sys.argv[0] == "-m":
        from .errors import quiet_interrupts

        quiet_interrupts()
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"error: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed in this "
                         f"Python ({sys.executable}); activate the project's environment with . .venv/bin/activate "
                         "(./quickstart.sh makes it), or pip install -r requirements.txt")


def python_command() -> str:
    """This Python as a printed command should name it, so that the command works as printed: `python` in
    an activated virtual environment, else the interpreter's path (relative when below the working folder:
    `.venv/bin/python` after ./quickstart.sh, whose environment the user's shell has not activated)."""
    import os

    venv = os.environ.get("VIRTUAL_ENV")
    if venv and os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return "python"
    path = sys.executable or "python3"
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") else path
