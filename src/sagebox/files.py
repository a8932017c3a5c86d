"""Files written whole or not at all: a temporary file beside the target, then a rename.

Readers in other processes (a job's supervisor, an endpoint's host, the API) see the old
content or the new, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_atomically", "write_json", "write_text"]


def write_atomically(path: Path, write: Callable[[Path], object], suffix: str = ".partial") -> None:
    """Write ``path`` with ``write(temporary)`` beside it, then rename it into place."""
    partial = path.with_name(path.name + suffix)
    write(partial)
    os.replace(partial, path)


def write_text(path: Path, text: str) -> None:
    """``text`` into ``path``; the temporary name is this process's, so several processes
    may replace the same file."""
    write_atomically(path, lambda partial: partial.write_text(text), f".{os.getpid()}.tmp")


def write_json(path: Path, data: Any, **dumps: Any) -> None:
    write_text(path, json.dumps(data, **dumps))
