"""SQL over the lake, as Athena does it: DuckDB over Data Catalog tables.

:func:`run_query` finds the ``db.table`` references of a SELECT, gets each table and its
partitions from the catalog through the control plane (``glue:GetTable`` and
``glue:GetPartitions``, authorized as the caller), keeps only the partitions the query's
filters on partition keys can match (:mod:`pruning`), and reads just their objects, each
list and read authorized as the caller (``s3:ListBucket``, ``s3:GetObject``). Each table
is loaded into an in-memory DuckDB schema ``db`` with its partition keys as columns, typed
as the catalog says; then the query runs in that connection with file access disabled and
its configuration locked, so SQL can reach nothing but the tables it was given. Results
come back as a pyarrow Table and, with ``output``, are written to S3 as CSV or Parquet
(``s3:PutObject`` as the caller).

Every column of a chosen partition is read (no projection pushdown yet): pruning is where
a query saves its reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sagebox.control.authorize import Principal
from sagebox.control.job_access import CallerObjects
from sagebox.errors import ValidationError
from sagebox.glue.errors import InvalidInput
from sagebox.glue.predicates import Key, keys_of, matching, parse_sql, quote
from sagebox.glue.pruning import TableRef, assign_conditions, table_refs
from sagebox.home import Home

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from sagebox.store.objects import ObjectStore

OutputFormat = Literal["csv", "parquet"]


@dataclass
class TableScan:
    """What a query read of one table."""

    partitions_total: int = 0
    partitions_scanned: int = 0
    objects: int = 0
    bytes: int = 0
    partitioned: bool = False


@dataclass
class QueryStats:
    """Filled in by :func:`run_query`: what was read, and where results went."""

    tables: dict[str, TableScan] = field(default_factory=dict)
    output_uri: str | None = None
    rows: int = 0

    def line(self) -> str:
        """``scanned 3 of 12 partitions, 4 objects, 1.2 MB``."""
        scans = self.tables.values()
        total = sum(s.partitions_total for s in scans if s.partitioned)
        scanned = sum(s.partitions_scanned for s in scans if s.partitioned)
        objects = sum(s.objects for s in scans)
        size = sum(s.bytes for s in scans)
        parts = [f"scanned {scanned} of {total} partitions"] if total else ["scanned"]
        text = f"{objects} object{'s' * (objects != 1)}, {_human(size)}"
        return f"{parts[0]}, {text}" if total else f"scanned {text}"


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@dataclass(frozen=True)
class _Access:
    control: Any  # ControlPlane or RemoteControlPlane
    objects: ObjectStore
    principal: Principal | None


def _access(
    session_or_home: Any, principal: Principal | None, context_keys: Mapping[str, Any] | None
) -> _Access:
    from sagebox.control import ControlPlane

    if isinstance(session_or_home, str | Path | Home):
        home = session_or_home if isinstance(session_or_home, Home) else Home.open(session_or_home)
        control: Any = ControlPlane(home)
    else:
        home, control = session_or_home.home, session_or_home.control
    if home is None:  # remote: the server authorizes the catalog, the store its own keys
        return _Access(control, session_or_home.objects, None)
    caller = principal or control.root
    return _Access(control, CallerObjects(home, caller, control.authorizer, context_keys), caller)


def run_query(
    session_or_home: Any,
    sql: str,
    *,
    principal: Principal | None = None,
    output: str | None = None,
    output_format: OutputFormat | None = None,
    database: str | None = None,
    stats: QueryStats | None = None,
    context_keys: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Run one SELECT over catalog tables (``db.table``); the result as a pyarrow Table.

    ``session_or_home`` is a :class:`sagebox.Session`, a Home or a home's path.
    ``principal`` is who asks (default: the home's root). ``database`` resolves
    unqualified table names. ``output`` (``s3://bucket/key`` or a prefix ending in ``/``)
    also writes the result there, as ``output_format`` (default: by the key's extension,
    else CSV). ``stats`` is filled in with what was scanned.
    """
    stats = stats if stats is not None else QueryStats()
    access = _access(session_or_home, principal, context_keys)
    con = connect_unlocked()
    try:
        try:
            statements = parse_sql(con, sql)
        except InvalidInput as error:
            raise ValidationError(
                "A query is one SELECT over catalog tables (no COPY, ATTACH, INSTALL or "
                f"writes). DuckDB says: {error.message}"
            ) from None
        if len(statements) != 1:
            raise ValidationError(
                f"Run one SELECT statement at a time; the query holds {len(statements)}."
            )
        refs = table_refs(statements, database.lower() if database else None)
        tables = {ref.qualified: _get_table(access, *ref.qualified) for ref in refs}
        keys = {q: keys_of(t.get("PartitionKeys", [])) for q, t in tables.items()}
        columns = {
            q: [c["Name"].lower() for c in t.get("StorageDescriptor", {}).get("Columns", [])]
            for q, t in tables.items()
        }
        assign_conditions(statements, refs, keys, columns)
        for qualified, table in tables.items():
            chosen = _choose_partitions(access, con, table, keys[qualified], refs, stats)
            _load(con, access.objects, table, keys[qualified], chosen, stats)
        if database:
            con.execute(f"SET schema = {_literal(database.lower())}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        result = _execute(con, sql)
    finally:
        con.close()
    stats.rows = result.num_rows
    if output:
        stats.output_uri = write_result(access.objects, result, output, output_format)
    return result


def connect_unlocked() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection; it is locked before the user's SQL runs."""
    import duckdb

    return duckdb.connect(":memory:")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _execute(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    try:
        relation = con.sql(sql)
        if relation is None:
            raise ValidationError("The statement returns no rows; run a SELECT.")
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
        table: pa.Table = fetch()
        return table
    except ValidationError:
        raise
    except Exception as error:  # DuckDB's parser, binder and runtime errors
        raise ValidationError(f"The query failed: {str(error).strip()}") from None


def _get_table(access: _Access, database: str, name: str) -> dict[str, Any]:
    params = {"DatabaseName": database, "Name": name}
    table: dict[str, Any] = _call(access, "GetTable", params)["Table"]
    return table


def _call(access: _Access, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if access.principal is None:
        result: dict[str, Any] = access.control.call(operation, params, service="glue")
        return result
    result = access.control.call(operation, params, service="glue", principal=access.principal)
    return result


def _all_partitions(access: _Access, database: str, name: str) -> list[dict[str, Any]]:
    partitions: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"DatabaseName": database, "TableName": name}
        if token:
            params["NextToken"] = token
        page = _call(access, "GetPartitions", params)
        partitions += page.get("Partitions", [])
        token = page.get("NextToken")
        if not token:
            return partitions


def _choose_partitions(
    access: _Access,
    con: duckdb.DuckDBPyConnection,
    table: Mapping[str, Any],
    keys: Sequence[Key],
    refs: Sequence[TableRef],
    stats: QueryStats,
) -> list[tuple[tuple[str, ...], str]]:
    """(values, location) of every partition the query may need; one () for a plain table."""
    database, name = table["DatabaseName"], table["Name"]
    scan = stats.tables.setdefault(f"{database}.{name}", TableScan())
    location = table.get("StorageDescriptor", {}).get("Location", "")
    if not keys:
        return [((), location)]
    scan.partitioned = True
    partitions = _all_partitions(access, database, name)
    scan.partitions_total = len(partitions)
    rows = [p["Values"] for p in partitions]
    wanted: set[int] = set()
    for ref in refs:
        if (ref.database, ref.table) != (database, name):
            continue
        if not ref.prunable:
            wanted = set(range(len(rows)))
            break
        wanted |= matching(con, keys, rows, ref.conditions)
    scan.partitions_scanned = len(wanted)
    return [
        (
            tuple(partitions[i]["Values"]),
            partitions[i].get("StorageDescriptor", {}).get("Location") or location,
        )
        for i in sorted(wanted)
    ]


def _load(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    table: Mapping[str, Any],
    keys: Sequence[Key],
    chosen: Sequence[tuple[tuple[str, ...], str]],
    stats: QueryStats,
) -> None:
    import pyarrow as pa

    from sagebox.glue.reading import data_schema, table_batches

    database, name = table["DatabaseName"], table["Name"]
    schema = data_schema(table, keys)
    scan = stats.tables[f"{database}.{name}"]

    failures: list[Exception] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for values, location in chosen:
                yield from table_batches(store, table, schema, keys, values, location, scan)
        except Exception as error:  # DuckDB wraps it; it is raised as it is below
            failures.append(error)
            raise

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(database)}")
    con.register("__sagebox_source", reader)
    try:
        con.execute(
            f"CREATE TABLE {quote(database)}.{quote(name)} AS SELECT * FROM __sagebox_source"
        )
    except Exception:
        if failures:  # an access denial or a bad file, not a DuckDB problem
            raise failures[0] from None
        raise
    finally:
        con.unregister("__sagebox_source")


def write_result(
    store: ObjectStore, result: pa.Table, output: str, output_format: OutputFormat | None
) -> str:
    """Write ``result`` to ``output`` as CSV or Parquet; the object's URI.

    A prefix (ending in ``/``) gets ``<query id>.csv`` as Athena names results. CSV cells
    that a spreadsheet would run as formulas are neutralised by the data writers.
    """
    from sagebox.data.writers import write_table
    from sagebox.store.objects import parse_s3_uri

    uri = parse_s3_uri(output)
    fmt = output_format or ("parquet" if uri.key.endswith((".parquet", ".pq")) else "csv")
    if fmt not in ("csv", "parquet"):
        raise ValidationError(f"Unknown output format {fmt!r}; use 'csv' or 'parquet'.")
    key = uri.key
    if not key or key.endswith("/"):
        key = f"{key}{uuid.uuid4()}.{fmt}"
    elif not key.endswith((".csv", ".parquet", ".pq")):
        key = f"{key}.{fmt}"
    if fmt == "csv":
        result = _nested_as_json(result)
    written = write_table(store, f"s3://{uri.bucket}/{key}", result, fmt)
    return f"s3://{uri.bucket}/{written[0]}"


def _nested_as_json(result: pa.Table) -> pa.Table:
    """Structs, lists and maps as JSON text, so CSV can hold them (as Athena writes them)."""
    import json

    import pyarrow as pa

    for index, column in enumerate(result.schema):
        if pa.types.is_nested(column.type):
            text = [
                None if v is None else json.dumps(v, default=str)
                for v in result.column(index).to_pylist()
            ]
            result = result.set_column(index, column.name, pa.array(text, pa.string()))
    return result
