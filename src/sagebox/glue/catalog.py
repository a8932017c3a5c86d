"""The Glue Data Catalog: databases, tables and their versions, over the metadata store.

Records (kind, name):

    glue-database        db
    glue-table           db/table              document: the Table shape, VersionId current
    glue-table-version   db/table/0000000003   document: the TableVersion shape
    glue-partition       db/table/v1/v2        values percent-quoted (see partitions.py)

Database and table names are lower-cased, as Glue stores them; a name may not hold
``/`` (it separates the parts of a record's name and of ARNs). Documents are the API
shapes (timestamps as ISO strings) plus top-level ``DatabaseName``/``TableName`` for
filtering, which response shaping drops where the shape has no such member.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sagebox.errors import ResourceInUse, ResourceNotFound
from sagebox.glue.errors import AlreadyExists, ConcurrentModification, EntityNotFound, InvalidInput
from sagebox.home import Home
from sagebox.store.metadata import Change, ListQuery, Record
from sagebox.store.metadata.documents import jsonable

DATABASE = "glue-database"
TABLE = "glue-table"
TABLE_VERSION = "glue-table-version"
PARTITION = "glue-partition"

T = TypeVar("T")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def catalog_name(name: str, what: str) -> str:
    """``name`` as Glue stores it (lower case); InvalidInput for one sagebox cannot store."""
    if "/" in name or not name.strip():
        raise InvalidInput(
            f"The {what} name {name!r} is not valid: it must be non-empty and hold no '/'. "
            "Use letters, digits and underscores, e.g. 'loan_applications'."
        )
    return name.lower()


def paginate(
    items: Sequence[T], key: Callable[[T], str], max_results: int | None, token: str | None
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``key``) after ``token``, and the next token."""
    start = 0
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(
                f"The NextToken {token[:40]!r} is not one this catalog gave out. Pass the "
                "NextToken of the previous response unchanged, or none for the first page."
            ) from None
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    size = max_results or len(items) or 1
    page = list(items[start : start + size])
    if start + size >= len(items) or not page:
        return page, None
    next_token = base64.urlsafe_b64encode(json.dumps({"after": key(page[-1])}).encode())
    return page, next_token.decode()


def name_pattern(expression: str) -> Callable[[str], bool]:
    """Glue's name filter (as Hive's): ``*`` matches anything, ``|`` separates choices."""
    import re

    choices = []
    for part in expression.split("|"):
        regex = part.strip().replace("*", ".*").replace("..*", ".*")
        try:
            choices.append(re.compile(regex, re.IGNORECASE))
        except re.error as error:
            raise InvalidInput(
                f"The Expression {expression!r} is not a valid pattern ({error}). Use a "
                "pattern such as 'loan*' or 'applications|decisions'."
            ) from None
    return lambda name: any(choice.fullmatch(name) for choice in choices)


class Catalog:
    """The Data Catalog of one home (one account, one region)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.store = home.metadata

    # ---- ARNs and records --------------------------------------------------------------
    def database_arn(self, database: str) -> str:
        return self.home.arn("glue", f"database/{database}")

    def table_arn(self, database: str, table: str) -> str:
        return self.home.arn("glue", f"table/{database}/{table}")

    def records(self, kind: str, **equals: str) -> Iterator[Record]:
        """Every record of ``kind`` whose document matches ``equals``, by name."""
        cursor = None
        while True:
            page = self.store.list(
                kind,
                ListQuery(
                    sort_by="name",
                    descending=False,
                    limit=1000,
                    cursor=cursor,
                    document_equals=equals,
                ),
            )
            yield from page.records
            cursor = page.next_cursor
            if cursor is None:
                return

    # ---- databases ---------------------------------------------------------------------
    def create_database(
        self, database_input: Mapping[str, Any], tags: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        name = catalog_name(database_input["Name"], "database")
        document = {
            **jsonable(database_input),
            "Name": name,
            "CreateTime": now_iso(),
            "CatalogId": self.home.account_id,
        }
        arn = self.database_arn(name)
        try:
            self.store.create(DATABASE, name, arn, None, document)
        except ResourceInUse:
            raise AlreadyExists(f"Database {name} already exists.") from None
        if tags:
            self.store.set_tags(arn, tags)
        return document

    def get_database(self, name: str) -> dict[str, Any]:
        name = name.lower()
        try:
            return dict(self.store.get(DATABASE, name).document)
        except ResourceNotFound:
            raise EntityNotFound(
                f"Database {name} not found. Create it with CreateDatabase, or list "
                "databases with GetDatabases."
            ) from None

    def list_databases(self) -> list[dict[str, Any]]:
        return [dict(r.document) for r in self.records(DATABASE)]

    def update_database(self, name: str, database_input: Mapping[str, Any]) -> None:
        name = name.lower()
        self.get_database(name)
        if catalog_name(database_input["Name"], "database") != name:
            raise InvalidInput(
                f"DatabaseInput.Name {database_input['Name']!r} differs from Name {name!r}; "
                "databases cannot be renamed."
            )

        def change(record: Record) -> Change:
            keep = {k: record.document[k] for k in ("CreateTime", "CatalogId")}
            return Change(None, {**jsonable(database_input), "Name": name, **keep})

        self.store.update(DATABASE, name, change)

    def delete_database(self, name: str) -> None:
        name = name.lower()
        self.get_database(name)
        for record in list(self.records(TABLE, DatabaseName=name)):
            self.delete_table(name, record.document["Name"])
        self.store.delete(DATABASE, name)

    # ---- tables ------------------------------------------------------------------------
    def _table_document(
        self, database: str, table_input: Mapping[str, Any], version: int, created: str
    ) -> dict[str, Any]:
        name = catalog_name(table_input["Name"], "table")
        keys = [c["Name"] for c in table_input.get("PartitionKeys", [])]
        columns = [c["Name"] for c in table_input.get("StorageDescriptor", {}).get("Columns", [])]
        clash = sorted({k.lower() for k in keys} & {c.lower() for c in columns})
        if clash:
            raise InvalidInput(
                f"Table {name}: partition key(s) {', '.join(clash)} are also columns. A "
                "partition key is a column of its own; remove it from StorageDescriptor.Columns."
            )
        return {
            **jsonable(table_input),
            "Name": name,
            "DatabaseName": database,
            "CreateTime": created,
            "UpdateTime": now_iso(),
            "CatalogId": self.home.account_id,
            "VersionId": str(version),
            "IsRegisteredWithLakeFormation": False,
        }

    def _record_version(self, database: str, document: Mapping[str, Any]) -> None:
        table, version = document["Name"], int(document["VersionId"])
        self.store.create(
            TABLE_VERSION,
            f"{database}/{table}/{version:010d}",
            f"{self.table_arn(database, table)}/version/{version}",
            None,
            {
                "Table": dict(document),
                "VersionId": str(version),
                "DatabaseName": database,
                "TableName": table,
            },
        )

    def create_table(
        self, database: str, table_input: Mapping[str, Any], created_by: str | None = None
    ) -> dict[str, Any]:
        database = self.get_database(database)["Name"]
        document = self._table_document(database, table_input, 0, now_iso())
        if created_by:
            document["CreatedBy"] = created_by
        name = document["Name"]
        try:
            self.store.create(
                TABLE, f"{database}/{name}", self.table_arn(database, name), None, document
            )
        except ResourceInUse:
            raise AlreadyExists(f"Table {name} already exists in database {database}.") from None
        self._record_version(database, document)
        return document

    def get_table(self, database: str, name: str) -> dict[str, Any]:
        database, name = database.lower(), name.lower()
        try:
            return dict(self.store.get(TABLE, f"{database}/{name}").document)
        except ResourceNotFound:
            self.get_database(database)
            raise EntityNotFound(
                f"Table {name} not found in database {database}. List tables with GetTables."
            ) from None

    def list_tables(self, database: str) -> list[dict[str, Any]]:
        database = self.get_database(database)["Name"]
        return [dict(r.document) for r in self.records(TABLE, DatabaseName=database)]

    def update_table(
        self,
        database: str,
        table_input: Mapping[str, Any],
        *,
        skip_archive: bool = False,
        expected_version: str | None = None,
    ) -> dict[str, Any]:
        """Replace a table's definition; the old one stays as a version unless skipped."""
        database = database.lower()
        current = self.get_table(database, table_input["Name"])
        name = current["Name"]
        if expected_version is not None and expected_version != current["VersionId"]:
            raise ConcurrentModification(
                f"Table {database}.{name} is at version {current['VersionId']}, not "
                f"{expected_version}: someone else updated it. Get the table and try again."
            )
        previous = int(current["VersionId"])
        document: dict[str, Any] = {}

        def change(record: Record) -> Change:
            if record.document["VersionId"] != current["VersionId"]:
                raise ConcurrentModification(
                    f"Table {database}.{name} changed while it was being updated; try again."
                )
            document.update(
                self._table_document(database, table_input, previous + 1, current["CreateTime"])
            )
            for kept in ("CreatedBy",):
                if kept in record.document:
                    document[kept] = record.document[kept]
            return Change(None, document)

        self.store.update(TABLE, f"{database}/{name}", change)
        if skip_archive:
            self.store.delete(TABLE_VERSION, f"{database}/{name}/{previous:010d}")
        self._record_version(database, document)
        return document

    def delete_table(self, database: str, name: str) -> None:
        from sagebox.glue.partitions import Partitions

        table = self.get_table(database, name)
        database, name = table["DatabaseName"], table["Name"]
        Partitions(self).delete_all(database, name)
        for record in list(self.records(TABLE_VERSION, DatabaseName=database, TableName=name)):
            self.store.delete(TABLE_VERSION, record.name)
        self.store.delete(TABLE, f"{database}/{name}")

    def table_versions(self, database: str, name: str) -> list[dict[str, Any]]:
        """Every kept version of a table, newest first."""
        table = self.get_table(database, name)
        records = self.records(
            TABLE_VERSION, DatabaseName=table["DatabaseName"], TableName=table["Name"]
        )
        return [dict(r.document) for r in sorted(records, key=lambda r: r.name, reverse=True)]

    def table_version(self, database: str, name: str, version_id: str | None) -> dict[str, Any]:
        table = self.get_table(database, name)
        if version_id is None:
            version_id = table["VersionId"]
        try:
            number = int(version_id)
            key = f"{table['DatabaseName']}/{table['Name']}/{number:010d}"
            return dict(self.store.get(TABLE_VERSION, key).document)
        except (ValueError, ResourceNotFound):
            raise EntityNotFound(
                f"Version {version_id} of table {table['DatabaseName']}.{table['Name']} not "
                "found. List versions with GetTableVersions."
            ) from None
