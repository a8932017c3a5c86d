"""The one way to open a metadata store: by URL."""

from __future__ import annotations

from sagebox.store.metadata._base import MetadataStore


def open_metadata_store(url: str) -> MetadataStore:
    """Open the store at ``url`` and bring its schema up to date.

    ``sqlite:////abs/path/metadata.db`` (the folder is created if missing) or
    ``postgresql+psycopg://user:password@host:port/database`` (``postgresql://`` means
    the same). Opening a database whose schema is current costs one query.
    """
    # Both URL forms are served by one SQLAlchemy implementation; the import is here
    # only so that importing the package does not import SQLAlchemy.
    from sagebox.store.metadata.sql import SqlMetadataStore

    store = SqlMetadataStore(url)
    try:
        store.upgrade()
    except BaseException:
        store.close()
        raise
    return store
