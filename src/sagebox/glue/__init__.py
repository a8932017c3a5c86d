"""Glue: the Data Catalog (databases, tables, versions, partitions), crawlers, SQL.

    Catalog, Partitions          the catalog over the home's metadata store
    CrawlerSpec, crawl           one crawl of S3 targets into the catalog
    run_query, QueryStats        SQL over catalog tables with partition pruning (DuckDB)
    arrow_to_glue, glue_to_arrow Arrow types as Hive type strings and back
    storage_format               the InputFormat/OutputFormat/SerDe Glue writes per format

The Glue JSON API (``boto3.client("glue")``) reaches these through the control plane:
:mod:`sagebox.control.glue_catalog` and :mod:`sagebox.control.glue_crawlers`.
"""

from sagebox.glue.catalog import Catalog
from sagebox.glue.crawler import CrawlerSpec, CrawlReport, crawl
from sagebox.glue.discovery import S3Target
from sagebox.glue.errors import (
    AlreadyExists,
    ConcurrentModification,
    CrawlerNotRunning,
    CrawlerRunning,
    CrawlerStopping,
    EntityNotFound,
    InvalidInput,
)
from sagebox.glue.partitions import Partitions
from sagebox.glue.query import QueryStats, TableScan, run_query
from sagebox.glue.types import arrow_to_glue, glue_to_arrow, storage_format

__all__ = [
    "AlreadyExists",
    "Catalog",
    "ConcurrentModification",
    "CrawlReport",
    "CrawlerNotRunning",
    "CrawlerRunning",
    "CrawlerSpec",
    "CrawlerStopping",
    "EntityNotFound",
    "InvalidInput",
    "Partitions",
    "QueryStats",
    "S3Target",
    "TableScan",
    "arrow_to_glue",
    "crawl",
    "glue_to_arrow",
    "run_query",
    "storage_format",
]
