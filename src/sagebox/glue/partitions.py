"""Partitions of catalog tables: one record per partition, named by its values.

A partition's record name is ``db/table/`` plus its values, each percent-quoted and
joined by ``/``, so any value (``a/b``, ``x=1``) maps to exactly one name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sagebox.errors import ResourceInUse, ResourceNotFound
from sagebox.glue.catalog import PARTITION, Catalog, jsonable, now_iso
from sagebox.glue.errors import AlreadyExists, EntityNotFound, InvalidInput
from sagebox.glue.predicates import filter_partitions, keys_of


def partition_name(database: str, table: str, values: Sequence[str]) -> str:
    return f"{database}/{table}/" + "/".join(quote(v, safe="") for v in values)


class Partitions:
    """The partitions of the tables of one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store

    def _table(self, database: str, table: str) -> dict[str, Any]:
        return self.catalog.get_table(database, table)

    def _check_values(self, table: Mapping[str, Any], values: Sequence[str]) -> None:
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        if len(values) != len(keys):
            raise InvalidInput(
                f"Table {table['DatabaseName']}.{table['Name']} is partitioned by "
                f"{len(keys)} key(s) ({', '.join(keys) or 'none'}); got {len(values)} "
                f"value(s) {list(values)!r}. Give one value per key, in order."
            )

    def _arn(self, table: Mapping[str, Any], values: Sequence[str]) -> str:
        arn = self.catalog.table_arn(table["DatabaseName"], table["Name"])
        return f"{arn}/partition/" + "/".join(quote(v, safe="") for v in values)

    def _document(self, table: Mapping[str, Any], partition_input: Mapping[str, Any]) -> Any:
        values = [str(v) for v in partition_input.get("Values", [])]
        self._check_values(table, values)
        return {
            **jsonable(partition_input),
            "Values": values,
            "DatabaseName": table["DatabaseName"],
            "TableName": table["Name"],
            "CreationTime": now_iso(),
            "CatalogId": self.catalog.home.account_id,
        }

    def create(self, database: str, table: str, partition_input: Mapping[str, Any]) -> None:
        self.create_many(database, table, [partition_input], fail=True)

    def create_many(
        self,
        database: str,
        table: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        fail: bool = False,
    ) -> list[dict[str, Any]]:
        """Create partitions; the ``Errors`` of BatchCreatePartition (raised with ``fail``)."""
        spec = self._table(database, table)
        errors = []
        for partition_input in inputs:
            values = [str(v) for v in partition_input.get("Values", [])]
            try:
                document = self._document(spec, partition_input)
                name = partition_name(spec["DatabaseName"], spec["Name"], values)
                try:
                    self.store.create(PARTITION, name, self._arn(spec, values), None, document)
                except ResourceInUse:
                    raise AlreadyExists(
                        f"Partition {values} of table {spec['DatabaseName']}.{spec['Name']} "
                        "already exists."
                    ) from None
            except (AlreadyExists, InvalidInput) as error:
                if fail:
                    raise
                errors.append(
                    {
                        "PartitionValues": values,
                        "ErrorDetail": {"ErrorCode": error.code, "ErrorMessage": error.message},
                    }
                )
        return errors

    def get(self, database: str, table: str, values: Sequence[str]) -> dict[str, Any]:
        spec = self._table(database, table)
        self._check_values(spec, values)
        try:
            name = partition_name(spec["DatabaseName"], spec["Name"], values)
            return dict(self.store.get(PARTITION, name).document)
        except ResourceNotFound:
            raise EntityNotFound(
                f"Partition {list(values)} of table {spec['DatabaseName']}.{spec['Name']} not "
                "found. List partitions with GetPartitions."
            ) from None

    def get_many(
        self, database: str, table: str, values_list: Sequence[Sequence[str]]
    ) -> list[dict[str, Any]]:
        """The partitions that exist among ``values_list`` (missing ones are left out)."""
        found = []
        for values in values_list:
            try:
                found.append(self.get(database, table, values))
            except EntityNotFound:
                continue
        return found

    def list_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[dict[str, Any]]:
        """Every partition of a table (by name), those matching ``expression`` if given."""
        spec = self._table(database, table)
        documents = [
            dict(r.document)
            for r in self.catalog.records(
                PARTITION, DatabaseName=spec["DatabaseName"], TableName=spec["Name"]
            )
        ]
        if expression and expression.strip() and documents:
            keys = keys_of(spec.get("PartitionKeys", []))
            chosen = filter_partitions(expression, keys, [d["Values"] for d in documents])
            documents = [d for i, d in enumerate(documents) if i in chosen]
        return documents

    def update(
        self,
        database: str,
        table: str,
        values: Sequence[str],
        partition_input: Mapping[str, Any],
    ) -> None:
        from sagebox.store.metadata import Change, Record

        current = self.get(database, table, values)
        spec = self._table(database, table)
        new_values = [str(v) for v in partition_input.get("Values", values)]
        if list(new_values) != list(values):
            self.delete(database, table, values)
            self.create(database, table, {**partition_input, "Values": new_values})
            return

        def change(record: Record) -> Change:
            document = self._document(spec, {**partition_input, "Values": list(values)})
            document["CreationTime"] = current["CreationTime"]
            return Change(None, document)

        name = partition_name(spec["DatabaseName"], spec["Name"], values)
        self.store.update(PARTITION, name, change)

    def delete(self, database: str, table: str, values: Sequence[str]) -> None:
        document = self.get(database, table, values)
        name = partition_name(document["DatabaseName"], document["TableName"], values)
        self.store.delete(PARTITION, name)

    def delete_all(self, database: str, table: str) -> None:
        for record in list(self.catalog.records(PARTITION, DatabaseName=database, TableName=table)):
            self.store.delete(PARTITION, record.name)
