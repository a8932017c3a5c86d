"""Engines for the metadata store: URL forms, SQLite pragmas, retries and fork safety.

SQLite is tuned for many writers on one machine: WAL (readers never block writers),
a busy timeout, ``synchronous=NORMAL`` (durable at checkpoints, safe against
corruption) and write transactions opened with ``BEGIN IMMEDIATE``, so that a
read-then-write transaction takes the write lock first and can never deadlock on an
upgrade. What the busy timeout still lets through ("database is locked" during WAL
recovery, a PostgreSQL serialization failure or deadlock) is retried here with
jittered backoff, so callers never see it.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from sagebox.errors import ThrottlingError, ValidationError

T = TypeVar("T")

#: Execution option that marks a connection's transactions as writes.
WRITE_OPTION = "sagebox_write"

_URL_HELP = (
    "Use sqlite:////absolute/path/to/metadata.db or "
    "postgresql+psycopg://user:password@host:port/database."
)


def normalise_url(url: str) -> URL:
    """Parse ``url`` and map it to the driver sagebox uses; reject what cannot work."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError, ValueError ...
        raise ValidationError(
            f"The metadata store URL {url!r} is not a URL ({exc}). {_URL_HELP}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise ValidationError(
                f"The metadata store URL {url!r} names the SQLite driver "
                f"{parsed.get_driver_name()!r}; only the standard sqlite3 driver is "
                f"supported. {_URL_HELP}"
            )
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ValidationError(
                f"The metadata store URL {url!r} is an in-memory or URI-style SQLite "
                "database; each connection would see its own copy, so sagebox needs a "
                f"file. {_URL_HELP}"
            )
        return parsed.set(drivername="sqlite", database=str(Path(database).absolute()))
    if backend == "postgresql":
        if parsed.drivername not in ("postgresql", "postgresql+psycopg"):
            raise ValidationError(
                f"The metadata store URL {url!r} names the PostgreSQL driver "
                f"{parsed.get_driver_name()!r}; sagebox uses psycopg 3. {_URL_HELP}"
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise ValidationError(
        f"The metadata store URL {url!r} has the scheme {parsed.drivername!r}, which "
        f"sagebox does not support. {_URL_HELP}"
    )


def create_engine(url: URL, *, busy_timeout_s: float) -> sa.Engine:
    """An engine for ``url`` (from :func:`normalise_url`), tuned for its backend."""
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            poolclass=sa.pool.QueuePool,
            pool_size=8,
            max_overflow=16,
        )
        _tune_sqlite(engine, busy_timeout_s)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    _LIVE_ENGINES.add(engine)
    return engine


def _tune_sqlite(engine: sa.Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # sqlite3 must not emit its own BEGIN (it skips it for SELECT and DDL); the
        # "begin" hook below emits the right one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL takes a lock and must wait for it.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock or serialization conflict that a retry resolves."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    # PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
    return getattr(orig, "sqlstate", None) in ("40001", "40P01", "55P03")


def retry(
    body: Callable[[], T], *, what: str, deadline_s: float, sleep: Callable[[float], None]
) -> T:
    """Run ``body``, retrying transient conflicts with jittered exponential backoff.

    ``body`` must be a whole transaction, so that running it again is safe.
    """
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return body()
        except sa.exc.DBAPIError as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - start
            if waited >= deadline_s:
                raise ThrottlingError(
                    f"The metadata database stayed busy for {waited:.0f} s while trying to "
                    f"{what}, because other writers held it. Retry the request; if this "
                    "persists, look for a process stuck in a long transaction."
                ) from None
            attempt += 1
            backoff = min(1.0, 0.005 * 2**attempt)
            sleep(random.uniform(backoff / 2, backoff))


# Engines of this process. A forked child must not share their pooled connections
# (SQLite and libpq connections break when two processes use them), so it drops them.
_LIVE_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _drop_inherited_pools() -> None:
    for engine in list(_LIVE_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_drop_inherited_pools)
