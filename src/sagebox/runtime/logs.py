"""A job's log streams: one file per instance (``algo-1.log`` ...), kept after the job.

Streams are named as CloudWatch names them for SageMaker jobs (``<job>/algo-1``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sagebox.runtime.spec import log_dir


@dataclass(frozen=True)
class LogLine:
    stream: str
    text: str


class JobLogs:
    def __init__(self, home_path: Path, kind: str, name: str) -> None:
        self.folder = log_dir(home_path, kind, name)
        self.name = name

    def streams(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("algo-*.log"), key=lambda p: int(p.stem.split("-")[1]))

    def read(self) -> Iterator[LogLine]:
        """Every line so far, stream by stream."""
        for path in self.streams():
            with path.open("rb") as handle:
                for raw in handle:
                    yield LogLine(
                        f"{self.name}/{path.stem}", raw.decode("utf-8", "replace").rstrip("\n")
                    )

    def follow(self, done: Callable[[], bool], poll: float = 0.2) -> Iterator[LogLine]:
        """Lines as they are written, across all streams, until ``done()`` and drained."""
        offsets: dict[Path, int] = {}
        partial: dict[Path, bytes] = {}
        finished = False
        while True:
            progressed = False
            for path in self.streams():
                with path.open("rb") as handle:
                    handle.seek(offsets.get(path, 0))
                    chunk = handle.read()
                if not chunk:
                    continue
                progressed = True
                offsets[path] = offsets.get(path, 0) + len(chunk)
                data = partial.pop(path, b"") + chunk
                *lines, rest = data.split(b"\n")
                if rest:
                    partial[path] = rest
                for raw in lines:
                    yield LogLine(f"{self.name}/{path.stem}", raw.decode("utf-8", "replace"))
            if finished and not progressed:
                for path, rest in partial.items():
                    yield LogLine(f"{self.name}/{path.stem}", rest.decode("utf-8", "replace"))
                return
            if not progressed:
                finished = done()
                if not finished:
                    time.sleep(poll)
