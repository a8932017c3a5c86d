"""Bring a metadata database to the newest schema when a store opens it.

The common case, a database already at ``HEAD``, costs one SELECT and never imports
Alembic: a job supervisor opens the store on every job start. Otherwise one opener at
a time migrates, under a file lock next to the SQLite file (``<db>.migrate.lock``) or
a PostgreSQL advisory lock, and the others then find the work done. Within a process,
Alembic itself runs one migration at a time (see ``_ALEMBIC_IN_PROCESS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from sagebox.errors import InternalError
from sagebox.store.metadata._engine import WRITE_OPTION
from sagebox.store.metadata.migrations import HEAD

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed 64-bit number, the same in every sagebox process: "sagebox metadata".
_PG_ADVISORY_KEY = 0x5A6E_B0C5_3E7A_D47A

# Alembic runs a migration through module-level proxies (``alembic.context``,
# ``alembic.op``) that hold one migration at a time: two threads migrating even two
# different databases at once run each other's statements on the wrong connection (or
# crash the interpreter in sqlite3). One migration per process at a time, then.
_ALEMBIC_IN_PROCESS = threading.Lock()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision recorded in ``alembic_version``, or None for a new database."""
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.ProgrammingError:  # PostgreSQL: no such table
        return None
    except sa.exc.OperationalError as exc:  # SQLite: no such table
        if "no such table" in str(exc.orig):
            return None
        raise


def upgrade(engine: sa.Engine) -> None:
    """Migrate ``engine``'s database to ``HEAD`` unless it is there already."""
    if current_revision(engine) == HEAD:
        return
    with _migration_lock(engine):
        if current_revision(engine) == HEAD:  # another opener did it while we waited
            return
        _run_alembic(engine)


def _run_alembic(engine: sa.Engine) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    # ConfigParser interpolates "%"; a path may contain one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            config.attributes["connection"] = conn
            try:
                with _ALEMBIC_IN_PROCESS:
                    command.upgrade(config, "head")
            except CommandError as exc:
                found = _revision_on(conn)
                raise InternalError(
                    f"The metadata database {engine.url.render_as_string()} is at schema "
                    f"revision {found!r}, which this version of sagebox does not know "
                    f"(newest known: {HEAD!r}); it was probably written by a newer "
                    f"sagebox. Upgrade sagebox, or point it at another database. ({exc})"
                ) from exc


def _revision_on(conn: sa.Connection) -> str | None:
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        lock_path = Path(engine.url.database + ".migrate.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    # A session-level advisory lock on its own connection: it does not end with the
    # migration's transaction, and the server drops it if this process dies.
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_ADVISORY_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_ADVISORY_KEY})
            conn.commit()
