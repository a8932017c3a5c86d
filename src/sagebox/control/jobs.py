"""What every job resource shares: status fields, the reporter, listing, orphan handling.

A job resource is stored as its Describe* document. :class:`JobKind` names the
members that differ between kinds (``ProcessingJobStatus`` / ``TrainingJobStatus`` ...),
so the state machine, the reporter and listing are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sagebox.control.context import Context
from sagebox.control.listing import list_query, summaries_page
from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.runtime.local import LocalExecutor
from sagebox.runtime.reporting import Outcome
from sagebox.runtime.spec import JobSpec
from sagebox.store.metadata import Change, MetricPoint, Record

ACTIVE = ("InProgress", "Stopping")
TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class JobKind:
    kind: str  # metadata-store kind and ARN resource type: "processing-job"
    title: str  # "Processing job"
    name_field: str  # "ProcessingJobName"
    arn_field: str
    status_field: str
    start_field: str
    end_field: str
    secondary_field: str | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def get_job(home: Home, kind: JobKind, name: str) -> Record:
    try:
        return home.metadata.get(kind.kind, name)
    except ResourceNotFound:
        raise ResourceNotFound(
            f"{kind.title} '{name}' does not exist in account {home.account_id} "
            f"({home.region}). Check the name, or list jobs to find it."
        ) from None


def describe(home: Home, kind: JobKind, name: str) -> dict[str, Any]:
    record = get_job(home, kind, name)
    return {**record.document, "LastModifiedTime": record.last_modified_time.isoformat()}


class JobStateReporter:
    """Records what a running job's supervisor reports, in the job's document."""

    def __init__(self, home: Home, kind: JobKind, name: str, arn: str) -> None:
        self.home = home
        self.kind = kind
        self.name = name
        self.arn = arn

    def _update(self, mutate: Any) -> Record:
        def change(record: Record) -> Change | None:
            doc = dict(record.document)
            status = mutate(record.status, doc)
            if status is None:
                return None
            doc[self.kind.status_field] = status
            return Change(status, doc)

        return self.home.metadata.update(self.kind.kind, self.name, change)

    def started(self, at: datetime) -> None:
        def mutate(status: str | None, doc: dict[str, Any]) -> str | None:
            if status not in ACTIVE:
                return None
            doc.setdefault(self.kind.start_field, at.isoformat())
            return status

        self._update(mutate)

    def secondary_status(self, status: str, message: str, at: datetime) -> None:
        field = self.kind.secondary_field
        if field is None:
            return

        def mutate(current: str | None, doc: dict[str, Any]) -> str | None:
            if current not in ACTIVE:
                return None
            doc[field] = status
            transitions = list(doc.get("SecondaryStatusTransitions", []))
            stamp = at.isoformat()
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1] = {**transitions[-1], "EndTime": stamp}
            transitions.append({"Status": status, "StartTime": stamp, "StatusMessage": message})
            doc["SecondaryStatusTransitions"] = transitions
            return current

        self._update(mutate)

    def metrics(self, points: Sequence[MetricPoint]) -> None:
        self.home.metadata.put_metrics(self.arn, points)

    def stop_requested(self) -> bool:
        return self.home.metadata.get(self.kind.kind, self.name).status == "Stopping"

    def finished(self, outcome: Outcome) -> None:
        def mutate(status: str | None, doc: dict[str, Any]) -> str | None:
            if status in TERMINAL:
                return None
            doc[self.kind.end_field] = now_iso()
            doc.setdefault(self.kind.start_field, doc[self.kind.end_field])
            if outcome.failure_reason:
                doc["FailureReason"] = outcome.failure_reason
            if outcome.exit_message:
                doc["ExitMessage"] = outcome.exit_message
            self.finalize(outcome, doc)
            return outcome.status

        self._update(mutate)

    def finalize(self, outcome: Outcome, doc: dict[str, Any]) -> None:
        """Add a kind's own final fields, in the same write as the final status, so no
        reader ever sees the status without them."""


def request_stop(home: Home, executor: LocalExecutor, kind: JobKind, name: str) -> None:
    """Move an InProgress job to Stopping and signal it (a queued job stops at once)."""

    def stopping(record: Record) -> Change:
        if record.status != "InProgress":
            raise ValidationError(
                f"{kind.title} '{name}' is {record.status}; only an InProgress job can be stopped."
            )
        return Change("Stopping", {**record.document, kind.status_field: "Stopping"})

    get_job(home, kind, name)
    home.metadata.update(kind.kind, name, stopping)
    if not executor.stop(kind.kind, name):
        end = now_iso()

        def stopped(record: Record) -> Change:
            doc = {
                **record.document,
                kind.status_field: "Stopped",
                kind.end_field: end,
                "ExitMessage": "Stopped before it started",
            }
            return Change("Stopped", doc)

        home.metadata.update(kind.kind, name, stopped)


JOB_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    JOB_KINDS[kind.kind] = kind
    return kind


def fail_untracked(home: Home, executor: LocalExecutor) -> None:
    """Fail active jobs that no executor owns (the creating process died mid-way)."""
    from sagebox.control import processing, training, transform  # noqa: F401  (register kinds)

    for kind in JOB_KINDS.values():
        for record in home.metadata.find(kind.kind, list(ACTIVE)):
            if executor.is_tracked(kind.kind, record.name):
                continue
            JobStateReporter(home, kind, record.name, record.arn).finished(
                Outcome(
                    "Failed",
                    "InternalFailure: the job was never started because the "
                    "process that created it ended first. Create it again.",
                )
            )
    from sagebox.control import tuning_service

    tuning_service.reconcile(home)  # tuning jobs whose tuner process died


Handler = Callable[["Context", dict[str, Any]], dict[str, Any]]


def start_job(
    ctx: Context,
    kind: JobKind,
    request: Mapping[str, Any],
    document: Mapping[str, Any],
    spec: JobSpec,
    now: datetime,
) -> dict[str, Any]:
    """Record a new job (InProgress, with its tags) and hand it to the executor."""
    ctx.home.metadata.create(
        kind.kind, spec.name, spec.arn, "InProgress", document, creation_time=now
    )
    if request.get("Tags"):
        ctx.home.metadata.set_tags(spec.arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    ctx.executor.submit(spec)
    return {kind.arn_field: spec.arn}


def describe_handler(kind: JobKind) -> Handler:
    """The Describe*Job operation of ``kind``."""

    def describe_job(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        return describe(ctx.home, kind, request[kind.name_field])

    return describe_job


def list_handler(kind: JobKind, member: str, summary_fields: Sequence[str]) -> Handler:
    """The List*Jobs operation of ``kind``: summaries under ``member``, and NextToken."""

    def list_kind(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        return summaries_page(ctx.home, kind.kind, list_query(request), member, summary_fields)

    return list_kind


def stop_handler(kind: JobKind) -> Handler:
    """The Stop*Job operation of ``kind``."""

    def stop_job(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        request_stop(ctx.home, ctx.executor, kind, request[kind.name_field])
        return {}

    return stop_job
