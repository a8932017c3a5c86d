"""How a running job tells the control plane what happens to it.

The runtime knows nothing of resource documents (layers point down), so a job spec
names a reporter class by import path (``package.module:Class``); the supervisor
process loads it. Reporters live with the resource they update, in ``control/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sagebox.home import Home
    from sagebox.runtime.spec import JobSpec
    from sagebox.store.metadata import MetricPoint

FinalStatus = Literal["Completed", "Failed", "Stopped"]


@dataclass(frozen=True)
class Outcome:
    status: FinalStatus
    failure_reason: str | None = None
    exit_message: str | None = None


class JobReporter(Protocol):
    def started(self, at: datetime) -> None:
        """The supervisor began work on the job at ``at``."""

    def secondary_status(self, status: str, message: str, at: datetime) -> None: ...

    def metrics(self, points: Sequence[MetricPoint]) -> None: ...

    def stop_requested(self) -> bool:
        """True once a Stop* call has moved the job to Stopping."""

    def finished(self, outcome: Outcome) -> None:
        """Record the final state; a job already in a final state is left as it is."""

    def released(self) -> None:
        """The job's instances are released and queued jobs started: slow follow-up work
        (experiment tracking) goes here, where it delays nobody."""


class ReporterFactory(Protocol):
    def __call__(self, home: Home, spec: JobSpec) -> JobReporter: ...


def load_factory(path: str) -> Any:
    """The object named by ``package.module:attribute``."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def load_reporter(path: str) -> ReporterFactory:
    factory: ReporterFactory = load_factory(path)
    return factory


class BackgroundReporter:
    """Calls a job's reporter from one background thread, in order.

    Loading the reporter opens the metadata store, whose imports take a few hundred
    milliseconds; doing that beside staging and starting the program keeps it off the
    path to the program's first line. Timestamps are taken when an event happens, not
    when it is written.
    """

    def __init__(self, factory_path: str, home: Home, spec: JobSpec) -> None:
        import queue
        import threading

        self._queue: queue.Queue[tuple[str, tuple[object, ...]] | None] = queue.Queue()
        self._reporter: JobReporter | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._work, args=(factory_path, home, spec), daemon=True
        )
        self._thread.start()

    def _work(self, factory_path: str, home: Home, spec: JobSpec) -> None:
        import sys
        import traceback

        try:
            self._reporter = load_reporter(factory_path)(home, spec)
        finally:
            self._ready.set()
        while (item := self._queue.get()) is not None:
            name, args = item
            try:
                getattr(self._reporter, name)(*args)
            except Exception:  # the job goes on; reconciliation repairs the record
                traceback.print_exc(file=sys.stderr)

    def started(self) -> None:
        from datetime import UTC, datetime

        self._queue.put(("started", (datetime.now(UTC),)))

    def secondary_status(self, status: str, message: str) -> None:
        from datetime import UTC, datetime

        self._queue.put(("secondary_status", (status, message, datetime.now(UTC))))

    def metrics(self, points: Sequence[MetricPoint]) -> None:
        self._queue.put(("metrics", (list(points),)))

    def stop_requested(self) -> bool:
        if not self._ready.is_set() or self._reporter is None:
            return False
        return self._reporter.stop_requested()

    def finished(self, outcome: Outcome) -> None:
        """Record the outcome and wait until everything queued is written."""
        self._queue.put(("finished", (outcome,)))
        self._queue.put(None)
        self._thread.join()

    def released(self) -> None:
        """Run the reporter's follow-up work, after the job's capacity is given back."""
        hook = getattr(self._reporter, "released", None)
        if hook is not None:
            hook()
