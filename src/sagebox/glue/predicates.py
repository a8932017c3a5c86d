"""Predicates on partition keys: Glue's ``GetPartitions`` expressions and query pruning.

One evaluator serves both. An expression is parsed by DuckDB's own SQL parser
(``json_serialize_sql``), checked against a small grammar (comparisons, ``AND``/``OR``/
``NOT``, ``IN``, ``BETWEEN``, ``LIKE``, ``IS NULL``, casts, literals and a few string
functions, on partition keys only), and evaluated by DuckDB over a tiny table holding one
row per partition with each key typed as the table declares it (``bigint`` keys compare
as numbers, ``string`` keys as text, ``date`` keys as dates). The SQL that runs is
regenerated from the checked tree, in a connection with file access disabled, so an
expression can only ever filter partitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagebox.glue.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb

Node = dict[str, Any]
TABLE = "__partitions"
_OPERATORS = frozenset(
    {"OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "COMPARE_IN", "COMPARE_NOT_IN"}
)
_FUNCTIONS = frozenset(
    {"~~", "!~~", "~~*", "!~~*", "lower", "upper", "trim", "length", "substring", "substr"}
)
_DUCKDB_TYPES = {
    "tinyint": "BIGINT",
    "smallint": "BIGINT",
    "int": "BIGINT",
    "integer": "BIGINT",
    "bigint": "BIGINT",
    "long": "BIGINT",
    "float": "DOUBLE",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class Key:
    """A partition key: its name (lower case) and Glue type string."""

    name: str
    type: str

    @property
    def sql_type(self) -> str:
        glue = self.type.lower().strip()
        if glue.startswith("decimal"):
            return glue.upper()
        return _DUCKDB_TYPES.get(glue, "VARCHAR")


def keys_of(partition_keys: Iterable[Mapping[str, Any]]) -> tuple[Key, ...]:
    """The keys of a table's ``PartitionKeys`` member."""
    return tuple(Key(c["Name"].lower(), c.get("Type", "string")) for c in partition_keys)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can touch no file and cannot be reconfigured."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _serialize(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    rows = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()
    parsed: dict[str, Any] = json.loads(rows[0][0])
    return parsed


def parse_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[Node]:
    """The statements of ``sql`` as DuckDB's parse trees; InvalidInput on a syntax error."""
    parsed = _serialize(con, sql)
    if parsed.get("error"):
        raise InvalidInput(f"{parsed.get('error_message', 'syntax error')} in {sql!r}.")
    return [s["node"] for s in parsed["statements"]]


def parse_expression(con: duckdb.DuckDBPyConnection, expression: str, keys: Sequence[Key]) -> Node:
    """A Glue partition ``Expression`` as a checked tree; InvalidInput when it is not one."""
    hint = (
        "Write a filter on partition keys, e.g. \"year = '2024' AND month IN ('01', '02')\" "
        f"(keys: {', '.join(k.name for k in keys) or 'none'})."
    )
    try:
        statements = parse_sql(con, f"SELECT 1 FROM {TABLE} WHERE {expression}")
    except InvalidInput as error:
        raise InvalidInput(
            f"The Expression {expression!r} is not valid: {error.message} {hint}"
        ) from None
    node = statements[0] if len(statements) == 1 else {}
    plain = (
        node.get("type") == "SELECT_NODE"
        and node.get("from_table", {}).get("table_name") == TABLE
        and not node.get("modifiers")
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and not node.get("cte_map", {}).get("map")
    )
    if not plain or node.get("where_clause") is None:
        raise InvalidInput(f"The Expression {expression!r} is not a filter. {hint}")
    where: Node = node["where_clause"]
    problem = unsupported(where, lambda ref: _key_name(ref, keys))
    if problem:
        raise InvalidInput(f"The Expression {expression!r} {problem}. {hint}")
    return where


def _key_name(column_names: Sequence[str], keys: Sequence[Key]) -> str | None:
    name = column_names[-1].lower()
    return name if len(column_names) == 1 and name in {k.name for k in keys} else None


def unsupported(node: Any, resolve: Any) -> str | None:
    """Why ``node`` is not a partition predicate, or None when it is.

    ``resolve(column_names)`` gives the key a column reference names, or None. Column
    references are rewritten in place to the bare key name.
    """
    if isinstance(node, list):
        return next((p for p in (unsupported(n, resolve) for n in node) if p), None)
    if not isinstance(node, dict):
        return None
    kind = node.get("class")
    if kind == "COLUMN_REF":
        key = resolve(node["column_names"])
        if key is None:
            return f"uses {'.'.join(node['column_names'])!r}, which is not a partition key"
        node["column_names"] = [key]
        return None
    if kind == "CONSTANT":
        return None
    if kind == "CAST":
        return unsupported(node.get("child"), resolve)
    if kind == "OPERATOR" and node.get("type") not in _OPERATORS:
        return f"uses the operator {node.get('type')}, which filters cannot use"
    if kind == "FUNCTION":
        if node.get("function_name") not in _FUNCTIONS or node.get("filter") is not None:
            return f"calls {node.get('function_name')!r}, which filters cannot use"
        return unsupported([a.get("expression") for a in node.get("arguments", [])], resolve)
    if kind not in ("COMPARISON", "CONJUNCTION", "BETWEEN", "OPERATOR"):
        return f"holds a {str(kind).lower()} expression, which filters cannot use"
    parts = [node.get(m) for m in ("left", "right", "input", "lower", "upper")]
    return unsupported([*parts, *node.get("children", [])], resolve)


def matching(
    con: duckdb.DuckDBPyConnection,
    keys: Sequence[Key],
    rows: Sequence[Sequence[str]],
    conditions: Sequence[Node],
) -> set[int]:
    """Indexes of the ``rows`` (partition values, as strings) every condition holds for."""
    import pyarrow as pa

    if not conditions:
        return set(range(len(rows)))
    raw = pa.table(
        {
            "__i": pa.array(range(len(rows)), pa.int64()),
            **{
                f"k{i}": pa.array([r[i] if i < len(r) else None for r in rows], pa.string())
                for i in range(len(keys))
            },
        }
    )
    con.register("__raw", raw)
    try:
        typed = ", ".join(
            f"TRY_CAST(k{i} AS {key.sql_type}) AS {quote(key.name)}" for i, key in enumerate(keys)
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT __i, {typed} FROM __raw")
    finally:
        con.unregister("__raw")
    template = _serialize(con, f"SELECT __i FROM {TABLE} WHERE TRUE")
    where = conditions[0]
    for condition in conditions[1:]:
        where = {
            "class": "CONJUNCTION",
            "type": "CONJUNCTION_AND",
            "alias": "",
            "query_location": 0,
            "children": [where, condition],
        }
    template["statements"][0]["node"]["where_clause"] = where
    rows = con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(template)]).fetchall()
    try:
        return {int(r[0]) for r in con.execute(rows[0][0]).fetchall()}
    except Exception as error:  # duckdb's binder and conversion errors
        raise InvalidInput(
            f"The partition filter cannot be evaluated: {str(error).splitlines()[0]}. Compare "
            "keys with values of their type (e.g. year = 2024 for a bigint key)."
        ) from None


def filter_partitions(
    expression: str, keys: Sequence[Key], rows: Sequence[Sequence[str]]
) -> set[int]:
    """Indexes of the partitions whose values satisfy a Glue ``Expression``."""
    con = connect()
    try:
        where = parse_expression(con, expression, keys)
        return matching(con, keys, rows, [where])
    finally:
        con.close()
