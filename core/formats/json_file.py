"""One reader for the JSON files of a run folder: bounded, inside the root, an object or a problem."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import UnsafeFile, read_bounded

MAX_JSON_BYTES = 4 << 20


def read_json(path: Path, root: Path | None = None, limit: int = MAX_JSON_BYTES) -> tuple[dict | None, str | None]:
    """A JSON object from a file inside root; (None, None) when absent, (None, problem) when bad."""
    if not os.path.lexists(path):
        return None, None
    try:
        value = json.loads(read_bounded(path, limit, root).decode("utf-8"))
    except UnsafeFile as exc:
        return None, f"{Path(path).name}: {exc}"
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"{Path(path).name} is unreadable ({str(exc)[:120]})"
    if not isinstance(value, dict):
        return None, f"{Path(path).name} is not a JSON object"
    return value, None
