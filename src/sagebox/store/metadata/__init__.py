"""The metadata store: resources, tags and metric points, in SQLite or PostgreSQL."""

from sagebox.store.metadata._base import (
    Change,
    ListQuery,
    MetadataStore,
    MetricPoint,
    Page,
    Record,
)
from sagebox.store.metadata._factory import open_metadata_store

__all__ = [
    "Change",
    "ListQuery",
    "MetadataStore",
    "MetricPoint",
    "Page",
    "Record",
    "open_metadata_store",
]
