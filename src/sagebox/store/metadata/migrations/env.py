"""Alembic environment of the metadata store.

sagebox runs migrations itself (``open_metadata_store``) and passes its connection in
``config.attributes["connection"]``, already inside the transaction that holds the
migration lock. A developer may instead run Alembic with ``sqlalchemy.url`` set, e.g.
for ``alembic revision --autogenerate``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from sagebox.store.metadata._schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "No database to migrate: sagebox passes a connection when it opens a store; "
            "to run Alembic by hand, set sqlalchemy.url (alembic -x or an alembic.ini)."
        )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
