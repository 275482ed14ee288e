"""A clear line instead of a traceback when the project's packages are not in this Python.

The usual cause is a shell where the project's virtual environment is not active; Python's own
`ModuleNotFoundError` traceback does not say that.
"""
from __future__ import annotations

import importlib.util
import sys


def require(*modules: str) -> None:
    """Exit with one line naming what is missing and how to get it, if any of `modules` cannot be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"error: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed in this "
                         f"Python ({sys.executable}); activate the project's environment with . .venv/bin/activate "
                         "(./quickstart.sh makes it), or pip install -r requirements.txt")
