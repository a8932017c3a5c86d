"""One crawl: what :mod:`discovery` finds, written into the catalog by the crawler's policy.

- a new table is created (version 0) with its partitions;
- a table whose columns, types or partition keys changed follows
  ``SchemaChangePolicy.UpdateBehavior``: ``UPDATE_IN_DATABASE`` updates it (a new table
  version; with ``MergeNewColumns`` only added columns are taken), ``LOG`` leaves it and
  says what changed in the crawl's messages;
- new partitions are added on every run (also under ``LOG``: they change no schema);
- tables this crawler made whose data is gone, and partitions whose folder is empty,
  follow ``DeleteBehavior``: ``DELETE_FROM_DATABASE``, ``DEPRECATE_IN_DATABASE`` (the
  parameter ``DEPRECATED_BY_CRAWLER`` is set) or ``LOG``;
- ``RecrawlPolicy CRAWL_NEW_FOLDERS_ONLY`` reads only partitions the catalog lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagebox.glue.catalog import Catalog, now_iso
from sagebox.glue.discovery import FoundTable, S3Target, describe, find_tables
from sagebox.glue.errors import EntityNotFound
from sagebox.glue.partitions import Partitions
from sagebox.glue.types import arrow_to_glue, storage_format
from sagebox.store.objects import ObjectStore

DEPRECATED = "DEPRECATED_BY_CRAWLER"
UPDATED_BY = "UPDATED_BY_CRAWLER"


@dataclass(frozen=True)
class CrawlerSpec:
    """What a crawl needs from a crawler's definition."""

    name: str
    database: str
    targets: tuple[S3Target, ...]
    table_prefix: str = ""
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "DEPRECATE_IN_DATABASE"
    new_folders_only: bool = False
    merge_new_columns: bool = False
    created_by: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], created_by: str | None = None) -> CrawlerSpec:
        import json

        policy = doc.get("SchemaChangePolicy", {})
        recrawl = doc.get("RecrawlPolicy", {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
        config = json.loads(doc.get("Configuration") or "{}")
        behavior = config.get("CrawlerOutput", {}).get("Tables", {}).get("AddOrUpdateBehavior")
        return cls(
            name=doc["Name"],
            database=doc["DatabaseName"],
            targets=tuple(
                S3Target(t["Path"], tuple(t.get("Exclusions", [])))
                for t in doc.get("Targets", {}).get("S3Targets", [])
            ),
            table_prefix=doc.get("TablePrefix", ""),
            update_behavior=policy.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            delete_behavior=policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
            new_folders_only=recrawl == "CRAWL_NEW_FOLDERS_ONLY",
            merge_new_columns=behavior == "MergeNewColumns",
            created_by=created_by,
        )


@dataclass
class CrawlReport:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_deleted: int = 0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = (
            f"{self.tables_created} table(s) created, {self.tables_updated} updated, "
            f"{self.tables_deleted} deleted; {self.partitions_added} partition(s) added, "
            f"{self.partitions_deleted} deleted"
        )
        return "; ".join([counts, *self.messages])


class CrawlStopped(Exception):
    """StopCrawler asked the crawl to end."""


def crawl(
    catalog: Catalog,
    store: ObjectStore,
    spec: CrawlerSpec,
    should_stop: Callable[[], bool] = lambda: False,
) -> CrawlReport:
    """Crawl every target of ``spec`` as ``store`` allows, and update the catalog."""
    report = CrawlReport()
    catalog.get_database(spec.database)
    found: set[str] = set()
    for target in spec.targets:
        for table in find_tables(store, target, spec.table_prefix):
            if should_stop():
                raise CrawlStopped()
            existing = _existing(catalog, spec.database, table.name)
            if spec.new_folders_only and existing is not None:
                _only_new_folders(catalog, spec, table)
            if table.files:
                describe(store, table, should_stop)
            report.messages += [f"{table.name}: {note}" for note in table.notes]
            if should_stop():
                raise CrawlStopped()
            if not table.files or table.schema is None:
                if existing is not None:
                    found.add(existing["StorageDescriptor"].get("Location", ""))
                continue
            _apply(catalog, spec, table, existing, report)
            found.add(table.location)
    if not spec.new_folders_only:
        _deleted_tables(catalog, spec, found, report)
    return report


def _existing(catalog: Catalog, database: str, name: str) -> dict[str, Any] | None:
    try:
        return catalog.get_table(database, name)
    except EntityNotFound:
        return None


def _only_new_folders(catalog: Catalog, spec: CrawlerSpec, table: FoundTable) -> None:
    known = {
        tuple(p["Values"]) for p in Partitions(catalog).list_partitions(spec.database, table.name)
    }
    if not table.partition_keys:
        table.files = []
        return
    table.files = [f for f in table.files if table.partition_values(f) not in known]


def _table_input(spec: CrawlerSpec, table: FoundTable, columns: list[dict[str, str]]) -> Any:
    fmt = storage_format(
        table.classification,
        delimiter=table.csv_delimiter,
        columns=[c["Name"] for c in columns],
    )
    parameters = {
        "classification": table.classification,
        "compressionType": "gzip" if table.compressed else "none",
        "typeOfData": "file",
        "objectCount": str(len(table.files)),
        "sizeKey": str(sum(f.info.size for f in table.files)),
        UPDATED_BY: spec.name,
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
    }
    if table.classification == "csv":
        parameters.update(
            {
                "delimiter": table.csv_delimiter,
                "skip.header.line.count": "1" if table.csv_header else "0",
                "areColumnsQuoted": "false",
                "columnsOrdered": "true",
            }
        )
    return {
        "Name": table.name,
        "Owner": "owner",
        "Retention": 0,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [
            {"Name": k, "Type": t}
            for k, t in zip(table.partition_keys, table.key_types, strict=True)
        ],
        "StorageDescriptor": {
            "Columns": columns,
            "Location": table.location,
            "InputFormat": fmt.input_format,
            "OutputFormat": fmt.output_format,
            "Compressed": table.compressed,
            "NumberOfBuckets": -1,
            "SerdeInfo": fmt.serde_info(),
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": dict(parameters),
            "StoredAsSubDirectories": False,
        },
    }


def _columns(table: FoundTable) -> list[dict[str, str]]:
    assert table.schema is not None
    keys = set(table.partition_keys)
    return [
        {"Name": f.name, "Type": arrow_to_glue(f.type)} for f in table.schema if f.name not in keys
    ]


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two table definitions' columns and partition keys."""

    def typed(columns: Sequence[Mapping[str, str]]) -> dict[str, str]:
        return {c["Name"]: c.get("Type", "") for c in columns}

    changes = []
    for what, before, after in (
        (
            "column",
            typed(old["StorageDescriptor"].get("Columns", [])),
            typed(new["StorageDescriptor"]["Columns"]),
        ),
        ("partition key", typed(old.get("PartitionKeys", [])), typed(new["PartitionKeys"])),
    ):
        added = [n for n in after if n not in before]
        removed = [n for n in before if n not in after]
        retyped = [
            f"{n} {before[n]} -> {after[n]}" for n in after if before.get(n, after[n]) != after[n]
        ]
        if added:
            changes.append(f"added {what}(s) {', '.join(added)}")
        if removed:
            changes.append(f"removed {what}(s) {', '.join(removed)}")
        if retyped:
            changes.append(f"changed {what} type(s) {', '.join(retyped)}")
    return changes


def _apply(
    catalog: Catalog,
    spec: CrawlerSpec,
    table: FoundTable,
    existing: dict[str, Any] | None,
    report: CrawlReport,
) -> None:
    columns = _columns(table)
    if existing is not None and spec.merge_new_columns:
        have = {c["Name"] for c in existing["StorageDescriptor"].get("Columns", [])}
        columns = list(existing["StorageDescriptor"].get("Columns", [])) + [
            c for c in columns if c["Name"] not in have
        ]
    table_input = _table_input(spec, table, columns)
    if existing is None:
        current = catalog.create_table(spec.database, table_input, created_by=spec.created_by)
        report.tables_created += 1
    else:
        changes = _changes(existing, table_input)
        revived = DEPRECATED in existing.get("Parameters", {})
        if (changes or revived) and spec.update_behavior == "UPDATE_IN_DATABASE":
            current = catalog.update_table(spec.database, table_input)
            report.tables_updated += 1
            if changes:
                report.messages.append(f"{table.name}: schema updated: {'; '.join(changes)}")
        else:
            current = existing
            if changes:
                report.messages.append(
                    f"{table.name}: schema change not applied (UpdateBehavior LOG): "
                    + "; ".join(changes)
                )
    _sync_partitions(catalog, spec, table, current, report)


def _sync_partitions(
    catalog: Catalog,
    spec: CrawlerSpec,
    table: FoundTable,
    current: Mapping[str, Any],
    report: CrawlReport,
) -> None:
    if not table.partition_keys:
        return
    partitions = Partitions(catalog)
    existing = {
        tuple(p["Values"]): p for p in partitions.list_partitions(spec.database, table.name)
    }
    seen = table.partition_locations()
    descriptor = current["StorageDescriptor"]
    inputs = [
        {
            "Values": list(values),
            "StorageDescriptor": {**descriptor, "Location": seen[values]},
            "Parameters": dict(current.get("Parameters", {})),
        }
        for values in sorted(seen)
        if values not in existing
    ]
    if inputs:
        errors = partitions.create_many(spec.database, table.name, inputs)
        report.partitions_added += len(inputs) - len(errors)
    if spec.new_folders_only:
        return
    for values, partition in existing.items():
        if values in seen:
            continue
        where = f"{table.name}: partition {'/'.join(values)} has no data"
        if spec.delete_behavior == "DELETE_FROM_DATABASE":
            partitions.delete(spec.database, table.name, values)
            report.partitions_deleted += 1
        elif spec.delete_behavior == "DEPRECATE_IN_DATABASE":
            parameters = dict(partition.get("Parameters", {}))
            if DEPRECATED not in parameters:
                parameters[DEPRECATED] = now_iso()
                keep = {k: v for k, v in partition.items() if k in ("StorageDescriptor",)}
                partitions.update(
                    spec.database,
                    table.name,
                    values,
                    {"Values": list(values), "Parameters": parameters, **keep},
                )
                report.messages.append(f"{where}; deprecated")
        else:
            report.messages.append(f"{where} (DeleteBehavior LOG)")


def _deleted_tables(
    catalog: Catalog, spec: CrawlerSpec, found: set[str], report: CrawlReport
) -> None:
    roots = [t.path.rstrip("/") + "/" for t in spec.targets]
    for table in catalog.list_tables(spec.database):
        location = table.get("StorageDescriptor", {}).get("Location", "")
        mine = table.get("Parameters", {}).get(UPDATED_BY) == spec.name
        if not mine or location in found or not any(location.startswith(r) for r in roots):
            continue
        name = table["Name"]
        if spec.delete_behavior == "DELETE_FROM_DATABASE":
            catalog.delete_table(spec.database, name)
            report.tables_deleted += 1
            report.messages.append(f"{name}: its data is gone; deleted")
        elif spec.delete_behavior == "DEPRECATE_IN_DATABASE":
            if DEPRECATED in table.get("Parameters", {}):
                continue
            table_input = {
                k: v
                for k, v in table.items()
                if k
                not in (
                    "DatabaseName",
                    "CreateTime",
                    "UpdateTime",
                    "CatalogId",
                    "VersionId",
                    "IsRegisteredWithLakeFormation",
                    "CreatedBy",
                )
            }
            table_input["Parameters"] = {**table.get("Parameters", {}), DEPRECATED: now_iso()}
            catalog.update_table(spec.database, table_input)
            report.tables_updated += 1
            report.messages.append(f"{name}: its data is gone; deprecated")
        else:
            report.messages.append(f"{name}: its data is gone (DeleteBehavior LOG)")
