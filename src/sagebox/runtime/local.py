"""The local executor: a supervisor process per job, a capacity queue, reconciliation.

The executor keeps its own bookkeeping in the metadata store as records of kind
``executor-job`` (named ``<kind>/<name>``) with status Queued -> Launching -> Launched ->
Done, so any process that opens the home (a CLI call, a server, a finishing
supervisor) can start queued jobs or find orphans. Scheduling takes a file lock, so
two processes never over-fill the machine.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sagebox.errors import ResourceLimitExceeded, ResourceNotFound
from sagebox.files import write_text
from sagebox.home import Home
from sagebox.runtime.processes import is_alive, kill_recorded, spawn_detached
from sagebox.runtime.reporting import Outcome, load_reporter
from sagebox.runtime.spec import JobSpec, job_dir
from sagebox.store.metadata import Change, Record

KIND = "executor-job"
LAUNCH_TIMEOUT = timedelta(seconds=60)


def _key(kind: str, name: str) -> str:
    return f"{kind}/{name}"


class LocalExecutor:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.capacity = int(home.config.capacity["max_instances"])

    # ---- submission and scheduling ----------------------------------------------------
    def check_fits(self, instance_count: int) -> None:
        if instance_count > self.capacity:
            raise ResourceLimitExceeded(
                f"The job asks for {instance_count} instances but this home runs at most "
                f"{self.capacity} at once. Lower InstanceCount, or raise "
                f"capacity.max_instances in {self.home.path / 'config.json'}."
            )

    def submit(self, spec: JobSpec) -> None:
        """Queue a job and start it at once if capacity allows."""
        self.check_fits(spec.instance_count)
        folder = job_dir(self.home.path, spec.kind, spec.name)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / "spec.json", spec.to_json())
        self.home.metadata.create(
            KIND,
            _key(spec.kind, spec.name),
            f"{spec.arn}#executor",
            "Queued",
            {"instances": spec.instance_count, "dir": str(folder)},
        )
        self.schedule()

    @contextmanager
    def _schedule_lock(self) -> Iterator[None]:
        path = self.home.jobs_path / ".schedule.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def schedule(self) -> list[str]:
        """Launch queued jobs, oldest first, while they fit; returns the keys launched."""
        launched: list[str] = []
        with self._schedule_lock():
            active = self.home.metadata.find(KIND, ["Launching", "Launched"])
            used = sum(int(r.document["instances"]) for r in active)
            for record in self.home.metadata.find(KIND, ["Queued"]):
                need = int(record.document["instances"])
                if used + need > self.capacity:
                    break  # first in, first out: a big job is not starved by small ones
                self._launch(record)
                used += need
                launched.append(record.name)
        return launched

    def _launch(self, record: Record) -> None:
        def launching(current: Record) -> Change | None:
            if current.status != "Queued":
                return None
            doc = {**current.document, "launched_at": datetime.now(UTC).isoformat()}
            return Change("Launching", doc)

        self.home.metadata.update(KIND, record.name, launching)
        folder = Path(record.document["dir"])
        command = [sys.executable, "-m", "sagebox.runtime.supervisor", str(folder)]
        pid, ticks = spawn_detached(command, folder / "supervisor.log", self.home.path)

        def launched(current: Record) -> Change | None:
            if current.status != "Launching":
                return None  # it already finished
            doc = {**current.document, "pid": pid, "ticks": ticks}
            return Change("Launched", doc)

        self.home.metadata.update(KIND, record.name, launched)

    def mark_done(self, kind: str, name: str) -> None:
        self.home.metadata.update(KIND, _key(kind, name), lambda r: Change("Done", r.document))

    # ---- stopping ---------------------------------------------------------------------
    def stop(self, kind: str, name: str) -> bool:
        """Ask a job to stop. Returns False when it had not started (it is dequeued)."""
        key = _key(kind, name)
        dequeued = False

        def dequeue(current: Record) -> Change | None:
            nonlocal dequeued
            if current.status == "Queued":
                dequeued = True
                return Change("Done", current.document)
            return None

        record = self.home.metadata.update(KIND, key, dequeue)
        if dequeued:
            self._cleanup(Path(record.document["dir"]))
            return False
        pid = record.document.get("pid")
        if pid and is_alive(pid, record.document.get("ticks")):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return True

    # ---- reconciliation ---------------------------------------------------------------
    def reconcile(self) -> list[str]:
        """End jobs whose supervisor died; returns the keys it ended."""
        ended: list[str] = []
        now = datetime.now(UTC)
        for record in self.home.metadata.find(KIND, ["Launching", "Launched"]):
            doc = record.document
            if record.status == "Launching":
                started = datetime.fromisoformat(doc.get("launched_at", now.isoformat()))
                if now - started < LAUNCH_TIMEOUT:
                    continue
            elif is_alive(doc.get("pid"), doc.get("ticks")):
                continue
            self._end_orphan(record)
            ended.append(record.name)
        return ended

    def _end_orphan(self, record: Record) -> None:
        folder = Path(record.document["dir"])
        kill_recorded(folder / "instances.json")
        spec_path = folder / "spec.json"
        if spec_path.exists():
            spec = JobSpec.from_json(spec_path.read_text())
            result = folder / "result.json"
            if result.exists():
                import json

                outcome = Outcome(**json.loads(result.read_text()))
            else:
                pid = record.document.get("pid")
                outcome = Outcome(
                    "Failed",
                    f"InternalFailure: the job's supervisor process (pid {pid}) ended without "
                    "recording a result, so the job was stopped when sagebox restarted. Its "
                    "logs are kept; run the job again.",
                )
            load_reporter(spec.reporter)(self.home, spec).finished(outcome)
        self._cleanup(folder)
        self.home.metadata.update(KIND, record.name, lambda r: Change("Done", r.document))

    def is_tracked(self, kind: str, name: str) -> bool:
        """True while the executor still owns the job (queued or running)."""
        try:
            record = self.home.metadata.get(KIND, _key(kind, name))
        except ResourceNotFound:
            return False
        return record.status != "Done"

    @staticmethod
    def _cleanup(folder: Path) -> None:
        kill_recorded(folder / "instances.json")
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
