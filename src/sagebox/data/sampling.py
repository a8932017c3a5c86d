"""Samples of data too large to load: the first rows, a uniform random sample, a stratified one.

Random and stratified samples take one streaming pass with reservoir sampling (Vitter's
Algorithm R, vectorised per batch), so memory holds the sample, not the data. A
stratified sample keeps a reservoir per class and, at the end, takes from each class a
share proportional to its size (at least one row per class when ``n`` allows), so rare
classes such as defaults keep their share. The same seed gives the same sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa

from sagebox.data.formats import DataSource
from sagebox.data.readers import read_batches
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectStore

SampleMethod = Literal["first", "random", "stratified"]
MAX_STRATA = 1000
_BATCH_ROWS = 65536


class _Reservoir:
    """A uniform random sample of up to ``size`` rows of a stream of tables."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.seen = 0
        self.rows: pa.Table | None = None
        self._rng = rng

    def add(self, table: pa.Table) -> None:
        held = 0 if self.rows is None else self.rows.num_rows
        fill = min(self.size - held, table.num_rows)
        if fill:
            head = table.slice(0, fill)
            self.rows = head if self.rows is None else pa.concat_tables([self.rows, head])
        rest = table.slice(fill)
        count = rest.num_rows
        if count and self.rows is not None:
            index = self.seen + fill + np.arange(count)  # each row's 0-based position
            slot = self._rng.integers(0, index + 1)  # Algorithm R: keep if slot < size
            hit = slot < self.size
            if hit.any():
                slots, rows = slot[hit][::-1], np.arange(count)[hit][::-1]
                # when two rows draw one slot, the later row wins, as in the sequential form
                kept_slots, first = np.unique(slots, return_index=True)
                source = np.arange(self.size)
                source[kept_slots] = self.size + np.arange(len(kept_slots))
                incoming = rest.take(pa.array(rows[first]))
                self.rows = pa.concat_tables([self.rows, incoming]).take(pa.array(source))
        self.seen += table.num_rows


def _first(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def sample(
    store: ObjectStore,
    source: DataSource,
    n: int,
    *,
    method: SampleMethod = "first",
    column: str | None = None,
    seed: int = 0,
) -> pa.Table:
    """``n`` rows of the data under ``source.uri`` (fewer if it has fewer).

    ``method``: ``first`` (the first n rows, reading no further), ``random`` (uniform,
    one pass), ``stratified`` (proportional per value of ``column``, one pass).
    """
    if not isinstance(n, int) or n < 1:
        raise ValidationError(f"The sample size n must be a whole number >= 1; got {n!r}.")
    if method not in ("first", "random", "stratified"):
        raise ValidationError(
            f"Unknown sampling method {method!r}. Use 'first', 'random' or 'stratified'."
        )
    if method == "stratified" and not column:
        raise ValidationError(
            "A stratified sample needs column=, the column whose classes keep their "
            "proportions (e.g. column='default')."
        )
    batches = read_batches(
        store, source, batch_rows=min(n, _BATCH_ROWS) if method == "first" else _BATCH_ROWS
    )
    rng = np.random.default_rng(seed)
    if method == "first":
        taken: list[pa.RecordBatch] = []
        have = 0
        schema = None
        for batch in batches:
            schema = batch.schema
            taken.append(batch.slice(0, n - have))
            have += taken[-1].num_rows
            if have >= n:
                break
        if schema is None:
            return _empty(store, source)
        return _first(taken, schema)
    if method == "random":
        reservoir = _Reservoir(n, rng)
        schema = None
        for batch in batches:
            schema = batch.schema
            reservoir.add(pa.Table.from_batches([batch]))
        if reservoir.rows is None:
            return _empty(store, source) if schema is None else schema.empty_table()
        return reservoir.rows.combine_chunks()
    assert column is not None
    return _stratified(batches, n, column, rng, store, source)


def _empty(store: ObjectStore, source: DataSource) -> pa.Table:
    from sagebox.data.readers import infer_schema

    return infer_schema(store, source).empty_table()


def _stratified(
    batches: Iterator[pa.RecordBatch],
    n: int,
    column: str,
    rng: np.random.Generator,
    store: ObjectStore,
    source: DataSource,
) -> pa.Table:
    reservoirs: dict[object, _Reservoir] = {}
    schema = None
    for batch in batches:
        schema = batch.schema
        if column not in schema.names:
            raise ValidationError(
                f"The stratification column {column!r} is not in the data. Its columns are: "
                f"{', '.join(schema.names)}."
            )
        table = pa.Table.from_batches([batch])
        encoded = table.column(column).combine_chunks().dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        values = encoded.dictionary.to_pylist()
        for code in np.unique(codes):
            key = None if code < 0 else values[code]
            if key not in reservoirs:
                if len(reservoirs) >= MAX_STRATA:
                    raise ValidationError(
                        f"The column {column!r} has more than {MAX_STRATA} distinct values; "
                        "stratify on a column of classes (such as the label), or bin it first."
                    )
                reservoirs[key] = _Reservoir(n, rng)
            reservoirs[key].add(table.take(pa.array(np.flatnonzero(codes == code))))
    if schema is None:
        return _empty(store, source)
    keys = list(reservoirs)
    sizes = np.array([reservoirs[k].seen for k in keys], dtype=float)
    quotas = _allocate(n, sizes)
    parts = []
    for key, quota in zip(keys, quotas, strict=True):
        rows = reservoirs[key].rows
        if rows is None or quota == 0:
            continue
        # a reservoir that never filled holds its rows in stream order: pick among them
        chosen = np.sort(rng.choice(rows.num_rows, size=int(quota), replace=False))
        parts.append(rows.take(pa.array(chosen)))
    return pa.concat_tables(parts).combine_chunks() if parts else schema.empty_table()


def _allocate(n: int, sizes: np.ndarray) -> np.ndarray:
    """Rows per class: proportional to size (largest remainder), at least 1 each if n allows,
    never more than a class has."""
    total = sizes.sum()
    if total <= n:
        return sizes.astype(int)
    exact = n * sizes / total
    quotas = np.floor(exact).astype(int)
    if n >= len(sizes):
        quotas = np.maximum(quotas, 1)
    while quotas.sum() > n:
        quotas[np.argmax(quotas - exact)] -= 1
    remainder = exact - quotas
    for index in np.argsort(-remainder, kind="stable"):
        if quotas.sum() >= n:
            break
        if quotas[index] < sizes[index]:
            quotas[index] += 1
    return np.minimum(quotas, sizes.astype(int))
