"""Glue Data Catalog operations: databases, tables, table versions and partitions.

Handlers turn a validated request into calls on :class:`sagebox.glue.Catalog` and
:class:`sagebox.glue.Partitions`; responses are shaped by the Glue model. Where the
resource an operation acts on is nested in the request (``DatabaseInput.Name``,
``TableInput.Name``), the registry authorizes the enclosing catalog or database and the
handler authorizes the database or table ARN as well, as Glue requires both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.control.context import Context
from sagebox.glue.catalog import Catalog, name_pattern, paginate
from sagebox.glue.errors import EntityNotFound, InvalidInput
from sagebox.glue.partitions import Partitions


def _catalog(ctx: Context, request: Mapping[str, Any]) -> Catalog:
    catalog_id = request.get("CatalogId")
    if catalog_id and catalog_id != ctx.home.account_id:
        raise InvalidInput(
            f"CatalogId {catalog_id!r} is not this home's catalog; sagebox has one catalog, "
            f"the account's: {ctx.home.account_id}. Leave CatalogId out or pass that."
        )
    return Catalog(ctx.home)


def _authorize(ctx: Context, action: str, arn: str) -> None:
    ctx.authorizer.authorize(ctx.principal, f"glue:{action}", arn, {})


# ---- databases -----------------------------------------------------------------------
def create_database(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    catalog = _catalog(ctx, request)
    name = request["DatabaseInput"]["Name"].lower()
    _authorize(ctx, "CreateDatabase", catalog.database_arn(name))
    catalog.create_database(request["DatabaseInput"], request.get("Tags"))
    return {}


def get_database(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"Database": _catalog(ctx, request).get_database(request["Name"])}


def get_databases(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    databases = _catalog(ctx, request).list_databases()
    page, token = paginate(
        databases, lambda d: str(d["Name"]), request.get("MaxResults"), request.get("NextToken")
    )
    return {"DatabaseList": page, "NextToken": token}


def update_database(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _catalog(ctx, request).update_database(request["Name"], request["DatabaseInput"])
    return {}


def delete_database(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _catalog(ctx, request).delete_database(request["Name"])
    return {}


# ---- tables --------------------------------------------------------------------------
def create_table(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    catalog = _catalog(ctx, request)
    database = request["DatabaseName"].lower()
    table_input = request["TableInput"]
    _authorize(ctx, "CreateTable", catalog.table_arn(database, table_input["Name"].lower()))
    if request.get("PartitionIndexes"):
        raise InvalidInput("PartitionIndexes are not supported by sagebox yet; leave them out.")
    catalog.create_table(database, table_input, created_by=ctx.principal.arn)
    return {}


def get_table(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    table = _catalog(ctx, request).get_table(request["DatabaseName"], request["Name"])
    return {"Table": table}


def get_tables(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    tables = _catalog(ctx, request).list_tables(request["DatabaseName"])
    if request.get("Expression"):
        matches = name_pattern(request["Expression"])
        tables = [t for t in tables if matches(t["Name"])]
    page, token = paginate(
        tables, lambda t: str(t["Name"]), request.get("MaxResults"), request.get("NextToken")
    )
    return {"TableList": page, "NextToken": token}


def update_table(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    catalog = _catalog(ctx, request)
    table_input = request["TableInput"]
    name = request.get("Name") or table_input["Name"]
    if name.lower() != table_input["Name"].lower():
        raise InvalidInput(
            f"Name {name!r} and TableInput.Name {table_input['Name']!r} differ; tables "
            "cannot be renamed. Give the same name in both."
        )
    database = request["DatabaseName"].lower()
    _authorize(ctx, "UpdateTable", catalog.table_arn(database, name.lower()))
    catalog.update_table(
        database,
        table_input,
        skip_archive=bool(request.get("SkipArchive", False)),
        expected_version=request.get("VersionId"),
    )
    return {}


def delete_table(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _catalog(ctx, request).delete_table(request["DatabaseName"], request["Name"])
    return {}


def get_table_versions(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    versions = _catalog(ctx, request).table_versions(request["DatabaseName"], request["TableName"])
    # newest first; tokens compare zero-padded version numbers in reverse
    page, token = paginate(
        versions,
        lambda v: f"{10**10 - int(v['VersionId']):011d}",
        request.get("MaxResults"),
        request.get("NextToken"),
    )
    return {"TableVersions": page, "NextToken": token}


def get_table_version(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    version = _catalog(ctx, request).table_version(
        request["DatabaseName"], request["TableName"], request.get("VersionId")
    )
    return {"TableVersion": version}


# ---- partitions ----------------------------------------------------------------------
def _partitions(ctx: Context, request: Mapping[str, Any]) -> Partitions:
    return Partitions(_catalog(ctx, request))


def create_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _partitions(ctx, request).create(
        request["DatabaseName"], request["TableName"], request["PartitionInput"]
    )
    return {}


def batch_create_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    errors = _partitions(ctx, request).create_many(
        request["DatabaseName"], request["TableName"], request["PartitionInputList"]
    )
    return {"Errors": errors}


def get_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    partition = _partitions(ctx, request).get(
        request["DatabaseName"], request["TableName"], request["PartitionValues"]
    )
    return {"Partition": partition}


def _without_columns(partition: dict[str, Any]) -> dict[str, Any]:
    descriptor = partition.get("StorageDescriptor")
    if not descriptor:
        return partition
    return {
        **partition,
        "StorageDescriptor": {k: v for k, v in descriptor.items() if k != "Columns"},
    }


def get_partitions(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    if request.get("Segment", {}).get("TotalSegments", 1) != 1:
        raise InvalidInput("Segment with TotalSegments > 1 is not supported; leave it out.")
    partitions = _partitions(ctx, request).list_partitions(
        request["DatabaseName"], request["TableName"], request.get("Expression")
    )
    if request.get("ExcludeColumnSchema"):
        partitions = [_without_columns(p) for p in partitions]
    page, token = paginate(
        partitions,
        lambda p: "\x00".join(p["Values"]),
        request.get("MaxResults"),
        request.get("NextToken"),
    )
    return {"Partitions": page, "NextToken": token}


def batch_get_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    wanted = [p["Values"] for p in request["PartitionsToGet"]]
    found = _partitions(ctx, request).get_many(
        request["DatabaseName"], request["TableName"], wanted
    )
    return {"Partitions": found, "UnprocessedKeys": []}


def update_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _partitions(ctx, request).update(
        request["DatabaseName"],
        request["TableName"],
        request["PartitionValueList"],
        request["PartitionInput"],
    )
    return {}


def delete_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _partitions(ctx, request).delete(
        request["DatabaseName"], request["TableName"], request["PartitionValues"]
    )
    return {}


def batch_delete_partition(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    partitions = _partitions(ctx, request)
    errors = []
    for item in request["PartitionsToDelete"]:
        try:
            partitions.delete(request["DatabaseName"], request["TableName"], item["Values"])
        except (EntityNotFound, InvalidInput) as error:
            errors.append(
                {
                    "PartitionValues": item["Values"],
                    "ErrorDetail": {"ErrorCode": error.code, "ErrorMessage": error.message},
                }
            )
    return {"Errors": errors}
