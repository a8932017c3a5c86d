"""Which catalog tables a query reads, and which of their partitions it can skip.

DuckDB parses the query (``json_serialize_sql``, which accepts only SELECT statements, so
a query can never write). Every ``db.table`` reference is found. For each reference in a
``FROM`` clause, the conjuncts of that SELECT's ``WHERE`` (and of ``INNER JOIN ... ON``)
that use only partition keys of the reference are its partition filters. References on
the side of an outer join that may come out NULL, or under anti/semi joins, are never
pruned: filtering their partitions first could change the answer. A table read through
several references keeps the union of what each needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagebox.glue.predicates import Key, Node, unsupported

_PRESERVED = {"INNER": (True, True), "LEFT": (True, False), "RIGHT": (False, True)}


@dataclass
class TableRef:
    """One ``db.table`` reference in the query."""

    database: str
    table: str
    alias: str
    node: Node
    prunable: bool = False
    conditions: list[Node] = field(default_factory=list)

    @property
    def qualified(self) -> tuple[str, str]:
        return (self.database, self.table)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _cte_names(statements: Sequence[Node]) -> set[str]:
    names = set()
    for node in _walk(list(statements)):
        for entry in node.get("cte_map", {}).get("map", []) if "cte_map" in node else []:
            names.add(str(entry.get("key", "")).lower())
    return names


def table_refs(statements: Sequence[Node], default_database: str | None) -> list[TableRef]:
    """Every catalog table reference in the parsed statements."""
    ctes = _cte_names(statements)
    refs = []
    for node in _walk(list(statements)):
        if node.get("type") != "BASE_TABLE":
            continue
        schema, name = node.get("schema_name", ""), node.get("table_name", "")
        if node.get("catalog_name"):
            continue  # three-part names address DuckDB catalogs, not the Glue catalog
        if not schema:
            if name.lower() in ctes or default_database is None:
                continue
            schema = default_database
        refs.append(
            TableRef(schema.lower(), name.lower(), (node.get("alias") or name).lower(), node)
        )
    return refs


def _from_refs(from_table: Any, refs: Mapping[int, TableRef]) -> Iterator[tuple[TableRef, bool]]:
    """The references directly in a FROM tree, and whether each is on a preserved side."""
    if not isinstance(from_table, dict):
        return
    if from_table.get("type") == "BASE_TABLE":
        ref = refs.get(id(from_table))
        if ref is not None:
            yield ref, True
        return
    if from_table.get("type") == "JOIN":
        kind = from_table.get("join_type", "INNER")
        plain = from_table.get("ref_type", "REGULAR") in ("REGULAR", "CROSS", "NATURAL")
        left, right = _PRESERVED.get(kind, (False, False)) if plain else (False, False)
        for side, kept in (("left", left), ("right", right)):
            for ref, preserved in _from_refs(from_table.get(side), refs):
                yield ref, preserved and kept


def _conjuncts(node: Any) -> list[Node]:
    if not isinstance(node, dict):
        return []
    if node.get("class") == "CONJUNCTION" and node.get("type") == "CONJUNCTION_AND":
        return [c for child in node.get("children", []) for c in _conjuncts(child)]
    return [node]


def _inner_join_conditions(from_table: Any) -> list[Node]:
    if not isinstance(from_table, dict) or from_table.get("type") != "JOIN":
        return []
    found = _inner_join_conditions(from_table.get("left"))
    found += _inner_join_conditions(from_table.get("right"))
    if from_table.get("join_type") == "INNER" and from_table.get("ref_type") == "REGULAR":
        found += _conjuncts(from_table.get("condition"))
    return found


def assign_conditions(
    statements: Sequence[Node],
    refs: Sequence[TableRef],
    keys: Mapping[tuple[str, str], Sequence[Key]],
    columns: Mapping[tuple[str, str], Sequence[str]],
) -> None:
    """Mark each prunable reference and give it the filters on its partition keys."""
    import copy

    by_node = {id(r.node): r for r in refs}
    for node in _walk(list(statements)):
        if node.get("type") != "SELECT_NODE":
            continue
        in_from = list(_from_refs(node.get("from_table"), by_node))
        if not in_from:
            continue
        candidates = _conjuncts(node.get("where_clause"))
        candidates += _inner_join_conditions(node.get("from_table"))
        for ref, preserved in in_from:
            if not preserved:
                continue
            ref.prunable = True
            names = {k.name for k in keys.get(ref.qualified, ())}
            others = [r for r, _ in in_from if r is not ref]

            def resolve(
                parts: Sequence[str],
                ref: TableRef = ref,
                names: set[str] = names,
                others: list[TableRef] = others,
            ) -> str | None:
                lowered = [p.lower() for p in parts]
                column = lowered[-1]
                if column not in names:
                    return None
                if len(lowered) == 1:
                    shared = any(
                        column in columns.get(o.qualified, ())
                        or column in {k.name for k in keys.get(o.qualified, ())}
                        for o in others
                    )
                    return None if shared else column
                if len(lowered) == 2 and lowered[0] == ref.alias:
                    return column
                if lowered[:-1] == [ref.database, ref.table] and ref.alias == ref.table:
                    return column
                return None

            for condition in candidates:
                mine = copy.deepcopy(condition)
                if _mentions_column(mine) and unsupported(mine, resolve) is None:
                    ref.conditions.append(mine)


def _mentions_column(node: Node) -> bool:
    return any(n.get("class") == "COLUMN_REF" for n in _walk(node))
