"""Flatten, explode, columns, rows, custom SQL and custom Python on small known tables."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from sagebox.errors import ValidationError
from sagebox.wrangler import registry


def apply(step_type: str, table: pa.Table, **parameters: Any) -> pa.Table:
    transform = registry.create(step_type, parameters)
    state = transform.fit(table) if transform.is_stateful() else None
    return transform.apply(table, state)


def test_flatten_nested_struct_recursively(nested: pa.Table) -> None:
    out = apply("flatten", nested, column="applicant")
    names = out.column_names
    assert names[:6] == [
        "id",
        "applicant.name",
        "applicant.age",
        "applicant.employment.status",
        "applicant.employment.years",
        "applicant.address.city",
    ]
    assert names[6:] == ["credit_history", "loan", "default"]
    assert out.column("applicant.employment.status").to_pylist()[:3] == [
        "employed",
        "self-employed",
        "unemployed",
    ]
    one_level = apply("flatten", nested, column="applicant", recursive=False, separator="__")
    assert "applicant__employment" in one_level.column_names
    assert pa.types.is_struct(one_level.schema.field("applicant__employment").type)


def test_flatten_null_struct_gives_nulls_and_all_structs_by_default() -> None:
    table = pa.table({"user": [{"name": "a", "tags": {"x": 1}}, None]})
    out = apply("flatten", table)
    assert out.to_pylist() == [
        {"user.name": "a", "user.tags.x": 1},
        {"user.name": None, "user.tags.x": None},
    ]


def test_flatten_refuses_a_list_and_says_to_explode(nested: pa.Table) -> None:
    with pytest.raises(ValidationError, match="explode it first"):
        apply("flatten", nested, column="credit_history")
    with pytest.raises(ValidationError, match="'nope' is not in the data"):
        apply("flatten", nested, column="nope")


def test_explode_keeps_or_drops_empty_lists() -> None:
    table = pa.table({"id": [1, 2, 3, 4], "xs": [[10, 20], [], None, [30]]})
    kept = apply("explode", table, column="xs", position_column="pos")
    assert kept.to_pylist() == [
        {"id": 1, "xs": 10, "pos": 0},
        {"id": 1, "xs": 20, "pos": 1},
        {"id": 2, "xs": None, "pos": None},
        {"id": 3, "xs": None, "pos": None},
        {"id": 4, "xs": 30, "pos": 0},
    ]
    dropped = apply("explode", table, column="xs", empty="drop")
    assert dropped.to_pylist() == [{"id": 1, "xs": 10}, {"id": 1, "xs": 20}, {"id": 4, "xs": 30}]


def test_explode_a_sliced_batch() -> None:
    table = pa.table({"id": [1, 2, 3], "xs": [[1], [2, 3], [4]]}).slice(1)
    assert apply("explode", table, column="xs").to_pylist() == [
        {"id": 2, "xs": 2},
        {"id": 2, "xs": 3},
        {"id": 3, "xs": 4},
    ]


def test_explode_list_of_structs_then_flatten(nested: pa.Table) -> None:
    exploded = apply("explode", nested.slice(0, 4), column="credit_history")
    # rows 0..3 have 0, 1, 2, 3 accounts: 1 (kept empty) + 1 + 2 + 3
    assert exploded.num_rows == 7
    flat = apply("flatten", exploded, column="credit_history")
    assert flat.column("credit_history.account").to_pylist() == [
        None,
        "acc-1-0",
        "acc-2-0",
        "acc-2-1",
        "acc-3-0",
        "acc-3-1",
        "acc-3-2",
    ]
    assert flat.column("id").to_pylist()[:3] == ["app-00000", "app-00001", "app-00002"]


def test_cast_drop_rename_reorder() -> None:
    table = pa.table({"a": ["1", "2", "x"], "b": [1.5, 2.5, 3.5], "c": [True, False, None]})
    with pytest.raises(ValidationError, match="set on_error to 'null'"):
        apply("cast", table, columns={"a": "long"})
    cast = apply("cast", table, columns={"a": "long", "b": "string"}, on_error="null")
    assert cast.column("a").to_pylist() == [1, 2, None]
    assert cast.schema.field("b").type == pa.string()
    assert apply("drop-columns", table, columns=["b"]).column_names == ["a", "c"]
    renamed = apply("rename-columns", table, columns={"a": "x"})
    assert renamed.column_names == ["x", "b", "c"]
    with pytest.raises(ValidationError, match="two columns named 'b'"):
        apply("rename-columns", table, columns={"a": "b"})
    assert apply("reorder-columns", table, columns=["c", "a"]).column_names == ["c", "a", "b"]
    assert apply("reorder-columns", table, columns=["c"], rest="drop").column_names == ["c"]


def test_filter_rows_sql_and_pandas() -> None:
    table = pa.table({"loan.amount": [500, 1500, None, 3000], "purpose": ["a", "b", "c", "d"]})
    sql = apply("filter-rows", table, expression='"loan.amount" > 1000')
    assert sql.column("purpose").to_pylist() == ["b", "d"]
    assert sql.schema == table.schema, "a filter keeps the types"
    pandas = apply("filter-rows", table, expression="`loan.amount` > 1000", dialect="pandas")
    assert pandas.column("purpose").to_pylist() == ["b", "d"]
    with pytest.raises(ValidationError, match="not true/false"):
        apply("filter-rows", table, expression='"loan.amount" + 1')
    with pytest.raises(ValidationError, match="DuckDB could not run the query"):
        apply("filter-rows", table, expression="no_such_column > 1")


def test_drop_duplicates_on_all_or_some_columns_across_batches() -> None:
    table = pa.table({"k": [1, 1, 2, 2, 3], "v": ["a", "a", "b", "c", "d"], "s": [{"x": 1}] * 5})
    assert apply("drop-duplicates", table).column("v").to_pylist() == ["a", "b", "c", "d"]
    assert apply("drop-duplicates", table, columns=["k"]).column("v").to_pylist() == ["a", "b", "d"]
    transform = registry.create("drop-duplicates", {"columns": ["k"]})
    batches = [table.slice(0, 2), table.slice(2, 2), table.slice(4), table]
    out = pa.concat_tables(list(transform.stream(batches)))
    assert out.column("v").to_pylist() == ["a", "b", "d"], "duplicates across batches go too"


def test_custom_sql_over_the_batch() -> None:
    table = pa.table({"loan.amount": [100.0, 200.0], "income": [1000.0, 400.0]})
    out = apply(
        "custom-sql",
        table,
        query='SELECT *, "loan.amount" / income AS dti FROM df WHERE income > 500',
    )
    assert out.to_pylist() == [{"loan.amount": 100.0, "income": 1000.0, "dti": 0.1}]


def test_custom_python_function() -> None:
    code = (
        "def transform(df):\n"
        "    df['ratio'] = df['a'] / df['b']\n"
        "    return df[df['ratio'] > np.float64(1)]\n"
    )
    table = pa.table({"a": [4.0, 1.0], "b": [2.0, 2.0]})
    assert apply("custom-python", table, code=code).to_pylist() == [
        {"a": 4.0, "b": 2.0, "ratio": 2.0}
    ]
    with pytest.raises(ValidationError, match="defines no function 'transform'"):
        apply("custom-python", table, code="def other(df):\n    return df\n")
    with pytest.raises(ValidationError, match="returned int, not a pandas DataFrame"):
        apply("custom-python", table, code="def transform(df):\n    return 3\n")


def test_apply_takes_a_record_batch_too(nested: pa.Table) -> None:
    batch = nested.to_batches()[0]
    out = registry.create("flatten", {"column": "loan"}).apply(batch)
    assert isinstance(out, pa.Table) and "loan.purpose" in out.column_names
