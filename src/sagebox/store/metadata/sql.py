"""The metadata store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Core rather than the ORM: every operation is one short transaction of a few
statements, records are frozen values rather than tracked objects, and the
read-modify-write of ``update`` must be explicit (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) rather than left to a session's flush.
"""

from __future__ import annotations

import builtins
import json
import math
import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from sagebox.errors import InternalError, ResourceInUse, ResourceNotFound, ValidationError
from sagebox.store.metadata import _cursor
from sagebox.store.metadata._base import (
    Change,
    ListQuery,
    MetadataStore,
    MetricPoint,
    Page,
    Record,
)
from sagebox.store.metadata._engine import (
    WRITE_OPTION,
    create_engine,
    normalise_url,
    retry,
)
from sagebox.store.metadata._migrate import upgrade
from sagebox.store.metadata._schema import as_utc, metrics, resources, tags

T = TypeVar("T")

_SORT_KEYS = ("name", "creation_time", "last_modified_time", "status")
_DOCUMENT_FIELD = re.compile(r"[A-Za-z0-9_]{1,256}")


class SqlMetadataStore(MetadataStore):
    """A :class:`MetadataStore` in a SQLite file or a PostgreSQL database.

    One engine (connection pool) per store, shared by threads. A forked child drops
    the inherited pool and opens its own connections. ``busy_timeout_s`` is how long
    SQLite waits for a lock before the store retries; ``retry_deadline_s`` bounds the
    retries, after which the caller gets ``ThrottlingError``, never "database is
    locked". Use :func:`sagebox.store.metadata.open_metadata_store`, which also brings
    the schema up to date.
    """

    def __init__(
        self, url: str, *, busy_timeout_s: float = 30.0, retry_deadline_s: float = 120.0
    ) -> None:
        parsed = normalise_url(url)
        self.url = parsed.render_as_string(hide_password=False)
        self._engine = create_engine(parsed, busy_timeout_s=busy_timeout_s)
        self._retry_deadline_s = retry_deadline_s
        self._closed = False

    def __repr__(self) -> str:
        return f"SqlMetadataStore({self._engine.url.render_as_string()!r})"

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (cheap when current)."""
        self._retrying("open the metadata database", lambda: upgrade(self._engine))

    # -- resources -------------------------------------------------------------

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
        created = _now() if creation_time is None else as_utc(creation_time, "creation time")
        record = Record(
            kind=kind,
            name=name,
            arn=arn,
            status=status,
            creation_time=created,
            last_modified_time=created,
            document=_checked_document(document, kind, name),
            version=1,
        )

        def insert(conn: sa.Connection) -> None:
            conn.execute(sa.insert(resources).values(_row_values(record)))

        try:
            self._transaction(f"create {_readable(kind).lower()} '{name}'", insert, write=True)
        except sa.exc.IntegrityError:
            raise self._conflict(kind, name, arn) from None
        return record

    def _conflict(self, kind: str, name: str, arn: str) -> ResourceInUse:
        try:
            existing = self.get(kind, name)
        except ResourceNotFound:
            pass
        else:
            return ResourceInUse(
                f"{_readable(kind)} '{name}' already exists (ARN {existing.arn}). "
                "Choose a different name, or delete the existing one first."
            )
        try:
            holder = self.get_by_arn(arn)
        except ResourceNotFound:  # the clashing record was deleted meanwhile
            return ResourceInUse(
                f"{_readable(kind)} '{name}' (ARN {arn}) clashed with a concurrent create "
                "or delete of the same resource. Retry the request."
            )
        return ResourceInUse(
            f"The ARN {arn} already belongs to {_readable(holder.kind).lower()} "
            f"'{holder.name}', so {_readable(kind).lower()} '{name}' cannot use it. "
            "Choose a different name, or delete the existing resource first."
        )

    def get(self, kind: str, name: str) -> Record:
        def read(conn: sa.Connection) -> Record:
            row = conn.execute(_select_one(kind, name)).one_or_none()
            if row is None:
                raise _not_found(kind, name)
            return _record(row)

        return self._transaction(f"read {_readable(kind).lower()} '{name}'", read)

    def get_by_arn(self, arn: str) -> Record:
        def read(conn: sa.Connection) -> Record:
            row = conn.execute(sa.select(resources).where(resources.c.arn == arn)).one_or_none()
            if row is None:
                raise _arn_not_found(arn)
            return _record(row)

        return self._transaction(f"read {arn}", read)

    def update(self, kind: str, name: str, change: Callable[[Record], Change | None]) -> Record:
        def read_modify_write(conn: sa.Connection) -> Record:
            # FOR UPDATE locks the row on PostgreSQL; SQLite ignores it, as BEGIN
            # IMMEDIATE already holds the database's write lock.
            row = conn.execute(_select_one(kind, name).with_for_update()).one_or_none()
            if row is None:
                raise _not_found(kind, name)
            current = _record(row)
            wanted = change(current)
            if wanted is None:
                return current
            if not isinstance(wanted, Change):
                raise TypeError(
                    f"The update callback for {_readable(kind).lower()} '{name}' must return "
                    f"a Change or None. Got {type(wanted).__name__} instead."
                )
            updated = Record(
                kind=kind,
                name=name,
                arn=current.arn,
                status=wanted.status,
                creation_time=current.creation_time,
                last_modified_time=_now(),
                document=_checked_document(wanted.document, kind, name),
                version=current.version + 1,
            )
            conn.execute(
                sa.update(resources)
                .where(resources.c.arn == current.arn)
                .values(
                    status=updated.status,
                    last_modified_time=updated.last_modified_time,
                    document=updated.document,
                    version=updated.version,
                )
            )
            return updated

        what = f"update {_readable(kind).lower()} '{name}'"
        return self._transaction(what, read_modify_write, write=True)

    def delete(self, kind: str, name: str) -> None:
        def delete_row(conn: sa.Connection) -> None:
            # Tags and metrics go with it (ON DELETE CASCADE).
            result = conn.execute(
                sa.delete(resources).where(resources.c.kind == kind, resources.c.name == name)
            )
            if result.rowcount == 0:
                raise _not_found(kind, name)

        self._transaction(f"delete {_readable(kind).lower()} '{name}'", delete_row, write=True)

    def list(self, kind: str, query: ListQuery) -> Page:
        statement = _list_statement(kind, query, self._engine.dialect.name)

        def read(conn: sa.Connection) -> builtins.list[Record]:
            return [_record(row) for row in conn.execute(statement)]

        records = self._transaction(f"list {_readable(kind).lower()}s", read)
        if len(records) <= query.limit:
            return Page(records=tuple(records), next_cursor=None)
        page = records[: query.limit]
        last = page[-1]
        cursor = _cursor.encode(kind, query, _sort_value(last, query), last.name)
        return Page(records=tuple(page), next_cursor=cursor)

    def find(self, kind: str, statuses: Sequence[str]) -> builtins.list[Record]:
        if not statuses:
            return []
        statement = (
            sa.select(resources)
            .where(resources.c.kind == kind, resources.c.status.in_(builtins.list(statuses)))
            .order_by(resources.c.creation_time, resources.c.name)
        )

        def read(conn: sa.Connection) -> builtins.list[Record]:
            return [_record(row) for row in conn.execute(statement)]

        return self._transaction(f"find {_readable(kind).lower()}s", read)

    # -- tags ------------------------------------------------------------------

    def get_tags(self, arn: str) -> dict[str, str]:
        def read(conn: sa.Connection) -> dict[str, str]:
            _require_arn(conn, arn)
            rows = conn.execute(
                sa.select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.key)
            )
            return {key: value for key, value in rows}

        return self._transaction(f"read the tags of {arn}", read)

    def set_tags(self, arn: str, tags_: Mapping[str, str]) -> None:
        items = dict(tags_)

        def write(conn: sa.Connection) -> None:
            _require_arn(conn, arn, lock=True)
            if not items:
                return
            # Delete-then-insert is an upsert that reads the same on every backend.
            conn.execute(sa.delete(tags).where(tags.c.arn == arn, tags.c.key.in_(items)))
            conn.execute(
                sa.insert(tags), [{"arn": arn, "key": k, "value": v} for k, v in items.items()]
            )

        self._transaction(f"tag {arn}", write, write=True)

    def remove_tags(self, arn: str, keys: Sequence[str]) -> None:
        def write(conn: sa.Connection) -> None:
            _require_arn(conn, arn, lock=True)
            if keys:
                conn.execute(
                    sa.delete(tags).where(tags.c.arn == arn, tags.c.key.in_(builtins.list(keys)))
                )

        self._transaction(f"untag {arn}", write, write=True)

    # -- metrics ---------------------------------------------------------------

    def put_metrics(self, arn: str, points: Sequence[MetricPoint]) -> None:
        rows = [_metric_row(arn, point) for point in points]

        def write(conn: sa.Connection) -> None:
            _require_arn(conn, arn)
            if rows:
                conn.execute(sa.insert(metrics), rows)

        self._transaction(f"record metrics of {arn}", write, write=True)

    def get_metrics(self, arn: str, name: str | None = None) -> builtins.list[MetricPoint]:
        statement = sa.select(
            metrics.c.name, metrics.c.value, metrics.c.timestamp, metrics.c.step
        ).where(metrics.c.arn == arn)
        if name is not None:
            statement = statement.where(metrics.c.name == name)
        statement = statement.order_by(metrics.c.timestamp, metrics.c.seq)

        def read(conn: sa.Connection) -> builtins.list[MetricPoint]:
            _require_arn(conn, arn)
            return [
                MetricPoint(
                    name=row.name,
                    value=math.nan if row.value is None else row.value,
                    timestamp=row.timestamp,
                    step=row.step,
                )
                for row in conn.execute(statement)
            ]

        return self._transaction(f"read metrics of {arn}", read)

    # -- housekeeping ----------------------------------------------------------

    def integrity_check(self) -> str:
        def check(conn: sa.Connection) -> str:
            if conn.dialect.name == "sqlite":
                problems = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check")]
                return "ok" if problems == ["ok"] else "\n".join(problems)
            conn.execute(sa.text("SELECT 1"))
            return "ok"

        return self._transaction("check the metadata database", check)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    # -- transactions ----------------------------------------------------------

    def _transaction(
        self, what: str, body: Callable[[sa.Connection], T], *, write: bool = False
    ) -> T:
        """Run ``body`` in one transaction, retried as a whole on lock conflicts."""
        if self._closed:
            raise InternalError(
                f"Cannot {what}: this metadata store ({self!r}) was closed. Open a new one "
                "with open_metadata_store(url)."
            )

        def attempt() -> T:
            with self._engine.connect() as conn:
                if write:
                    conn = conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    return body(conn)

        return self._retrying(what, attempt)

    def _retrying(self, what: str, body: Callable[[], T]) -> T:
        return retry(body, what=what, deadline_s=self._retry_deadline_s, sleep=time.sleep)


# -- helpers -------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _readable(kind: str) -> str:
    """'processing-job' -> 'Processing job', for messages."""
    words = kind.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def _not_found(kind: str, name: str) -> ResourceNotFound:
    readable = _readable(kind)
    return ResourceNotFound(
        f"{readable} '{name}' does not exist. Check the name (names are case-sensitive), "
        f"or list the existing {readable.lower()}s."
    )


def _arn_not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"No resource has the ARN '{arn}'. Check the ARN (it is case-sensitive and "
        "includes the resource type), or create the resource first."
    )


def _require_arn(conn: sa.Connection, arn: str, *, lock: bool = False) -> None:
    """``ResourceNotFound`` unless ``arn`` exists; ``lock`` serializes writers of its tags.

    Without the lock, two PostgreSQL transactions could both delete, then both insert,
    one tag key, and the second would hit the primary key.
    """
    statement = sa.select(resources.c.arn).where(resources.c.arn == arn)
    if lock:
        statement = statement.with_for_update()
    if conn.execute(statement).first() is None:
        raise _arn_not_found(arn)


def _checked_document(document: Mapping[str, Any], kind: str, name: str) -> dict[str, Any]:
    """A private copy of ``document`` as plain JSON, or ``ValidationError``."""
    if not isinstance(document, Mapping):
        raise ValidationError(
            f"The document of {_readable(kind).lower()} '{name}' must be a JSON object. "
            f"Got {type(document).__name__} instead."
        )
    try:
        copied: dict[str, Any] = json.loads(json.dumps(document, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"The document of {_readable(kind).lower()} '{name}' is not plain JSON: {exc}. "
            "Store timestamps as ISO-8601 strings and numbers as finite floats or ints."
        ) from None
    return copied


def _row_values(record: Record) -> dict[str, Any]:
    return {
        "arn": record.arn,
        "kind": record.kind,
        "name": record.name,
        "status": record.status,
        "creation_time": record.creation_time,
        "last_modified_time": record.last_modified_time,
        "document": record.document,
        "version": record.version,
    }


def _record(row: sa.Row[Any]) -> Record:
    return Record(
        kind=row.kind,
        name=row.name,
        arn=row.arn,
        status=row.status,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        document=row.document,
        version=row.version,
    )


def _select_one(kind: str, name: str) -> sa.Select[Any]:
    return sa.select(resources).where(resources.c.kind == kind, resources.c.name == name)


def _metric_row(arn: str, point: MetricPoint) -> dict[str, Any]:
    try:
        value = float(point.value)
    except (TypeError, ValueError):
        raise ValidationError(
            f"The value of metric '{point.name}' must be a number. Got {point.value!r} instead."
        ) from None
    return {
        "arn": arn,
        "name": point.name,
        "value": None if math.isnan(value) else value,
        "timestamp": as_utc(point.timestamp, f"timestamp of metric '{point.name}'"),
        "step": point.step,
    }


def _document_string(field_name: str, dialect: str) -> sa.ColumnElement[Any]:
    """The top-level document field ``field_name`` if it is a JSON string, else NULL.

    Both backends would otherwise turn the number 3 into the text '3' and match it.
    """
    value = resources.c.document[field_name].as_string()
    if dialect == "postgresql":
        is_string = sa.func.jsonb_typeof(resources.c.document[field_name]) == "string"
    else:
        is_string = sa.func.json_type(resources.c.document, f'$."{field_name}"') == "text"
    return sa.case((is_string, value), else_=sa.null())


def _sort_column(sort_by: str) -> sa.ColumnElement[Any]:
    if sort_by == "status":
        # NULLs sort first on SQLite and last on PostgreSQL; '' sorts first on both.
        return sa.func.coalesce(resources.c.status, "")
    return resources.c[sort_by]


def _sort_value(record: Record, query: ListQuery) -> _cursor.SortValue:
    if query.sort_by == "status":
        return record.status or ""
    value: _cursor.SortValue = getattr(record, query.sort_by)
    return value


def _list_statement(kind: str, query: ListQuery, dialect: str) -> sa.Select[Any]:
    if query.sort_by not in _SORT_KEYS:
        raise ValidationError(
            f"Cannot sort by {query.sort_by!r}. Sort by one of: {', '.join(_SORT_KEYS)}."
        )
    if query.limit < 1:
        raise ValidationError(
            f"The page size (MaxResults) must be at least 1. Got {query.limit} instead."
        )
    r = resources.c
    conditions: builtins.list[sa.ColumnElement[bool]] = [r.kind == kind]
    if query.name_contains:
        conditions.append(r.name.icontains(query.name_contains, autoescape=True))
    if query.status is not None:
        conditions.append(r.status == query.status)
    bounds = [
        (query.created_after, r.creation_time, operator.gt, "created-after time"),
        (query.created_before, r.creation_time, operator.lt, "created-before time"),
        (query.modified_after, r.last_modified_time, operator.gt, "modified-after time"),
        (query.modified_before, r.last_modified_time, operator.lt, "modified-before time"),
    ]
    for bound, column, compare, what in bounds:
        if bound is not None:
            conditions.append(compare(column, as_utc(bound, what)))
    for field_name, expected in query.document_equals.items():
        if not isinstance(field_name, str) or not _DOCUMENT_FIELD.fullmatch(field_name):
            raise ValidationError(
                f"Cannot filter on the document field {field_name!r}: field names are "
                "letters, digits and underscores, e.g. 'TrainingJobArn'."
            )
        conditions.append(_document_string(field_name, dialect) == expected)

    sort = _sort_column(query.sort_by)
    if query.cursor is not None:
        value, name = _cursor.decode(kind, query, query.cursor)
        after = operator.lt if query.descending else operator.gt
        if query.sort_by == "name":
            conditions.append(after(r.name, name))
        else:
            tie = sa.and_(sort == value, after(r.name, name))
            conditions.append(sa.or_(after(sort, value), tie))

    order = [sort, r.name] if query.sort_by != "name" else [r.name]
    return (
        sa.select(resources)
        .where(*conditions)
        .order_by(*(column.desc() if query.descending else column.asc() for column in order))
        .limit(query.limit + 1)
    )
