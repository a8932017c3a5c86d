"""Balancing (over, under, SMOTE) and splitting (random, stratified, by key, by time)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from sagebox.errors import ValidationError
from sagebox.wrangler import registry


def imbalanced(n: int = 1000, positives: int = 100) -> pa.Table:
    rng = np.random.default_rng(0)
    label = np.array([1] * positives + [0] * (n - positives))
    return pa.table(
        {
            "income": rng.normal(50, 10, n) + 20 * label,
            "age": rng.integers(20, 70, n),
            "default": label,
        }
    )


def run(step_type: str, table: pa.Table, batches: int = 1, **parameters: Any) -> pa.Table:
    transform = registry.create(step_type, parameters)
    state = transform.fit(table) if transform.is_stateful() else None
    size = -(-table.num_rows // batches)
    parts = [table.slice(i, size) for i in range(0, table.num_rows, size)]
    return pa.concat_tables(list(transform.stream(parts, state)))


def counts(table: pa.Table, column: str) -> Counter[Any]:
    return Counter(table.column(column).to_pylist())


def test_random_oversample_and_undersample() -> None:
    table = imbalanced()
    over = run("balance", table, batches=4, target="default", method="random-oversample")
    got = counts(over, "default")
    assert got[0] == 900 and abs(got[1] - 900) < 60, got
    under = run("balance", table, target="default", method="random-undersample", ratio=0.5)
    got = counts(under, "default")
    assert got[1] == 100 and abs(got[0] - 200) < 40, got


def test_smote_output_is_balanced_with_synthetic_rows_between_neighbours() -> None:
    table = imbalanced()
    out = run("balance", table, target="default", method="smote")
    assert counts(out, "default") == {0: 900, 1: 900}
    assert out.schema == table.schema, "types kept (ages stay integers)"
    synthetic = out.slice(table.num_rows).to_pandas()
    minority = table.to_pandas().query("default == 1")
    assert synthetic["income"].between(minority["income"].min(), minority["income"].max()).all()
    with pytest.raises(ValidationError, match="'name' are not numeric"):
        run(
            "balance",
            table.append_column("name", pa.array(["x"] * 1000)),
            target="default",
            method="smote",
        )


def test_balance_only_the_training_rows() -> None:
    table = imbalanced().append_column("split", pa.array(["train"] * 500 + ["test"] * 500))
    out = run("balance", table, target="default", method="smote", split_column="split")
    test_rows = out.filter(pa.compute.equal(out.column("split"), "test"))
    assert test_rows.num_rows == 500, "test rows untouched"
    train = out.filter(pa.compute.equal(out.column("split"), "train"))
    assert counts(train, "default") == {0: 400, 1: 400}


def test_random_split_proportions_and_independence_from_batch_size() -> None:
    table = imbalanced(10_000)
    one = run("split", table, splits={"train": 0.7, "validation": 0.2, "test": 0.1})
    got = counts(one, "split")
    assert abs(got["train"] - 7000) < 200 and abs(got["test"] - 1000) < 100, got
    many = run("split", table, batches=7, splits={"train": 0.7, "validation": 0.2, "test": 0.1})
    assert many.column("split") == one.column("split"), "same rows, same parts"


def test_stratified_split_keeps_the_class_proportions_in_every_part() -> None:
    table = imbalanced(1000, positives=300)
    out = run("split", table, batches=3, method="stratified", target="default")
    by_part = Counter(
        zip(out.column("split").to_pylist(), out.column("default").to_pylist(), strict=True)
    )
    assert abs(by_part["train", 1] - 240) <= 2 and abs(by_part["test", 1] - 60) <= 2, by_part
    assert abs(by_part["train", 0] - 560) <= 2 and abs(by_part["test", 0] - 140) <= 2, by_part


def test_split_by_key_keeps_groups_together() -> None:
    customers = [f"c{i % 97}" for i in range(2000)]
    table = pa.table({"customer": customers, "x": list(range(2000))})
    out = run("split", table, batches=5, method="key", key="customer", splits={"a": 0.5, "b": 0.5})
    parts_of = {}
    for customer, part in zip(
        out.column("customer").to_pylist(), out.column("split").to_pylist(), strict=True
    ):
        parts_of.setdefault(customer, set()).add(part)
    assert all(len(parts) == 1 for parts in parts_of.values())
    assert {next(iter(p)) for p in parts_of.values()} == {"a", "b"}


def test_split_by_time_cutoffs() -> None:
    days = [date(2024, 1, 1), date(2024, 3, 1), date(2024, 6, 1), date(2024, 9, 1), None]
    table = pa.table({"applied": pa.array(days, pa.date32())})
    out = run(
        "split",
        table,
        method="time",
        time_column="applied",
        splits={"train": 0.6, "validation": 0.2, "test": 0.2},
        cutoffs=["2024-03-01", "2024-07-01"],
        mode="column",
    )
    assert out.column("split").to_pylist() == ["train", "validation", "validation", "test", "test"]
    with pytest.raises(ValidationError, match="does not compare with the column"):
        run(
            "split",
            pa.table({"applied": [1, 2]}),
            method="time",
            time_column="applied",
            cutoffs=["x"],
        )
