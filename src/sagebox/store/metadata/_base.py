"""The metadata-store contract: resources, tags and metric points.

One store holds every kind of resource (processing job, training job, endpoint ...)
as a row of common columns plus the resource's API document (a JSON object in the
shape of the AWS Describe* response). Backends are chosen by URL through
:func:`sagebox.store.metadata.open_metadata_store`: ``sqlite:///path`` (default, WAL
mode, busy timeout, write transactions taken with ``BEGIN IMMEDIATE``) or
``postgresql+psycopg://...``. The schema is created and upgraded by Alembic.

Invariants every backend keeps (the contract suite in ``tests/store`` checks them):
- ``update`` is an atomic read-modify-write: concurrent updates of one record from
  threads or processes serialize, none is lost, and no caller ever sees
  "database is locked";
- ``list`` pages are stable: walking every cursor yields each matching record once;
- returned records are frozen; documents are plain JSON values (timestamps inside
  documents are ISO-8601 strings with a UTC offset).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

SortKey = Literal["name", "creation_time", "last_modified_time", "status"]


@dataclass(frozen=True)
class Record:
    kind: str
    name: str
    arn: str
    status: str | None
    creation_time: datetime
    last_modified_time: datetime
    document: Mapping[str, Any]
    version: int


@dataclass(frozen=True)
class Change:
    """What an ``update`` callback returns: the new status and document."""

    status: str | None
    document: Mapping[str, Any]


@dataclass(frozen=True)
class ListQuery:
    name_contains: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    sort_by: SortKey = "creation_time"
    descending: bool = True
    limit: int = 100
    cursor: str | None = None
    # exact matches on top-level document fields, e.g. {"TrainingJobArn": "..."}
    document_equals: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    records: tuple[Record, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    timestamp: datetime
    step: int | None = None


class MetadataStore(abc.ABC):
    """Resources, tags and metrics. Thread-safe; many processes may open one URL."""

    url: str

    @abc.abstractmethod
    def create(
        self,
        kind: str,
        name: str,
        arn: str,
        status: str | None,
        document: Mapping[str, Any],
        *,
        creation_time: datetime | None = None,
    ) -> Record:
        """Insert a record. ``ResourceInUse`` if (kind, name) exists."""

    @abc.abstractmethod
    def get(self, kind: str, name: str) -> Record:
        """``ResourceNotFound`` if absent."""

    @abc.abstractmethod
    def get_by_arn(self, arn: str) -> Record: ...

    @abc.abstractmethod
    def update(self, kind: str, name: str, change: Callable[[Record], Change | None]) -> Record:
        """Atomically apply ``change`` to the current record and bump its version.

        ``change`` returns None to leave the record as it is; an exception it raises
        aborts the update and propagates. ``ResourceNotFound`` if absent.
        """

    @abc.abstractmethod
    def delete(self, kind: str, name: str) -> None: ...

    @abc.abstractmethod
    def list(self, kind: str, query: ListQuery) -> Page:
        """Filtered, sorted, keyset-paginated records. A bad cursor -> ``ValidationError``."""

    @abc.abstractmethod
    def find(self, kind: str, statuses: Sequence[str]) -> builtins.list[Record]:
        """Every record of ``kind`` whose status is one of ``statuses`` (oldest first)."""

    # tags, keyed by resource ARN
    @abc.abstractmethod
    def get_tags(self, arn: str) -> dict[str, str]: ...

    @abc.abstractmethod
    def set_tags(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite the given tags."""

    @abc.abstractmethod
    def remove_tags(self, arn: str, keys: Sequence[str]) -> None: ...

    # metrics, keyed by resource ARN
    @abc.abstractmethod
    def put_metrics(self, arn: str, points: Sequence[MetricPoint]) -> None: ...

    @abc.abstractmethod
    def get_metrics(self, arn: str, name: str | None = None) -> builtins.list[MetricPoint]:
        """Points in timestamp order (then insertion order)."""

    @abc.abstractmethod
    def integrity_check(self) -> str:
        """'ok' when the database reports no corruption (SQLite: PRAGMA integrity_check)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
