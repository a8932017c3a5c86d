"""Per-column profiles in one streaming pass over Arrow record batches, in bounded memory.

:class:`Profiler` is fed batches (``update``) and returns a :class:`DatasetProfile`
(``finish``). Each column keeps only sketches bounded by :class:`ProfileConfig`, so a
profile of millions of rows needs no more memory than one of a few thousand:

- type and kind, missing share (null or NaN);
- distinct count: exact up to ``distinct_exact_cap`` hashes, a HyperLogLog estimate after;
- numeric summary: exact count, mean, std, min, max; quantiles from a uniform reservoir;
- histogram: exact counts in bins that grow from the first batch's range;
- top values (exact while few values compete) and rare categories;
- anomalous values: a robust z-score over 5 (IQR x 3 fences where the MAD is 0);
- nested columns: structs are flattened one level (``parent.child``); lists are profiled by
  their length distribution.

Duplicate rows are counted from 64-bit row hashes (up to ``duplicate_cap`` remembered), and
a uniform sample of up to ``sample_rows`` rows (struct fields flattened, lists as lengths)
is kept for the statistics that need rows together: correlations, leakage, the quick model.
Every random choice comes from one key per row drawn from ``seed``, so the result does not
depend on how the rows were cut into batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.data.quality._column import ColumnAccumulator, kind_of
from sagebox.data.quality._hashing import NULL_HASH, as_list, combine, hash_array
from sagebox.data.quality._results import DatasetProfile, ProfileConfig
from sagebox.data.quality._sketches import HashSet

Data = Any  # pa.Table | pa.RecordBatch | pandas.DataFrame | Iterable[pa.RecordBatch]
_DUPLICATE_EXAMPLES = 5
_SAMPLED_KINDS = ("numeric", "boolean", "categorical", "datetime", "list")


class Profiler:
    """Streaming profiler: ``update(batch)`` for every batch, then ``finish()`` once."""

    def __init__(self, config: ProfileConfig | None = None) -> None:
        self.config = config or ProfileConfig()
        self.rows = 0
        self._columns: dict[str, ColumnAccumulator] = {}
        self._inputs: dict[str, pa.DataType] = {}
        self._rng = np.random.default_rng(self.config.seed)
        self._row_hashes = HashSet(self.config.duplicate_cap)
        self._duplicates = 0
        self._duplicate_examples: list[dict[str, Any]] = []
        self._sample: list[pa.Table] = []
        self._sample_keys = np.empty(0)
        self._sample_index = np.empty(0, dtype=np.int64)
        self._threshold = np.inf

    @property
    def column_names(self) -> list[str]:
        """The (flattened) columns seen so far."""
        return list(self._columns)

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Fold one batch into the profile."""
        if isinstance(batch, pa.Table):
            for piece in batch.to_batches():
                self.update(piece)
            return
        n = batch.num_rows
        if n == 0:
            return
        keys = self._rng.random(n)
        for field in batch.schema:
            self._inputs.setdefault(field.name, field.type)
        flat = dict(self._flatten(batch))
        for name, accumulator in self._columns.items():
            if name not in flat:  # a column absent from this batch: all missing here
                flat[name] = (accumulator.parent, pa.nulls(n, accumulator.arrow_type))
        sample_arrays: dict[str, pa.Array] = {}
        for name, (parent, raw) in flat.items():
            if name not in self._columns:
                fresh = self._columns[name] = ColumnAccumulator(name, parent, self.config)
                # Rows before this column appeared had no value for it.
                fresh.rows = fresh.missing = self.rows
            accumulator = self._columns[name]
            array = accumulator.conform(raw)
            accumulator.update(array, keys)
            if accumulator.kind in _SAMPLED_KINDS:
                if accumulator.kind == "list":
                    array = pc.list_value_length(as_list(array)).cast(pa.int64())
                sample_arrays[name] = array
        self._count_duplicates(batch)
        self._add_to_sample(sample_arrays, keys)
        self.rows += n

    def _flatten(self, batch: pa.RecordBatch) -> Iterator[tuple[str, tuple[str | None, pa.Array]]]:
        for field, array in zip(batch.schema, batch.columns, strict=True):
            if pa.types.is_struct(field.type):
                for child_field, child in zip(field.type, array.flatten(), strict=True):
                    yield f"{field.name}.{child_field.name}", (field.name, child)
            else:
                yield field.name, (None, array)

    def _count_duplicates(self, batch: pa.RecordBatch) -> None:
        hashes = np.full(batch.num_rows, NULL_HASH, dtype=np.uint64)
        present = dict(zip(batch.schema.names, batch.columns, strict=True))
        for name in self._inputs:  # a fixed column order, whatever order the batch has
            column = present.get(name)
            column_hashes = (
                hash_array(column)
                if column is not None
                else np.full(batch.num_rows, NULL_HASH, dtype=np.uint64)
            )
            hashes = combine(hashes, column_hashes)
        repeats = self._row_hashes.observe(hashes)
        if not repeats:
            return
        self._duplicates += repeats
        if len(self._duplicate_examples) < _DUPLICATE_EXAMPLES:
            _, first = np.unique(hashes, return_index=True)
            repeated = np.setdiff1d(np.arange(batch.num_rows), first)
            if len(repeated):
                wanted = _DUPLICATE_EXAMPLES - len(self._duplicate_examples)
                rows = batch.take(pa.array(repeated[:wanted])).to_pylist()
                self._duplicate_examples.extend(rows)

    def _add_to_sample(self, arrays: dict[str, pa.Array], keys: np.ndarray) -> None:
        chosen = np.flatnonzero(keys < self._threshold)
        if not len(chosen) or not arrays:
            return
        indices = pa.array(chosen)
        table = pa.table({name: array.take(indices) for name, array in arrays.items()})
        self._sample.append(table)
        self._sample_keys = np.concatenate((self._sample_keys, keys[chosen]))
        self._sample_index = np.concatenate((self._sample_index, self.rows + chosen))
        if len(self._sample_keys) >= 2 * self.config.sample_rows:
            self._compact_sample()

    def _compact_sample(self) -> None:
        if not self._sample:
            return
        table = pa.concat_tables(self._sample, promote_options="permissive")
        keep = np.arange(len(self._sample_keys))
        if len(keep) > self.config.sample_rows:
            keep = np.argpartition(self._sample_keys, self.config.sample_rows - 1)
            keep = keep[: self.config.sample_rows]
            self._threshold = float(self._sample_keys[keep].max())
        keep = keep[np.argsort(self._sample_index[keep])]  # back in input order
        self._sample = [table.take(pa.array(keep))]
        self._sample_keys = self._sample_keys[keep]
        self._sample_index = self._sample_index[keep]

    def finish(self) -> DatasetProfile:
        """The profile of every row seen so far."""
        import pandas as pd

        self._compact_sample()
        sample = self._sample[0].to_pandas(types_mapper=None) if self._sample else pd.DataFrame()
        return DatasetProfile(
            rows=self.rows,
            columns=[c.finish() for c in self._columns.values()],
            input_columns=[(name, str(kind)) for name, kind in self._inputs.items()],
            duplicate_rows=self._duplicates,
            duplicates_exact=not self._row_hashes.full,
            duplicate_examples=self._duplicate_examples,
            sample=sample,
            config=self.config,
        )


def iter_batches(data: Data) -> Iterator[pa.RecordBatch]:
    """Record batches from a table, a batch, a pandas frame or an iterable of any of those."""
    import pandas as pd

    if isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pd.DataFrame):
        yield from pa.Table.from_pandas(data, preserve_index=False).to_batches()
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        for item in data:
            yield from iter_batches(item)
    else:
        from sagebox.errors import ValidationError

        raise ValidationError(
            "Expected a pyarrow Table or RecordBatch, a pandas DataFrame or an iterable of "
            f"record batches; got {type(data).__name__}. Read files with "
            "sagebox.data.readers.read_batches."
        )


def profile(data: Data, config: ProfileConfig | None = None) -> DatasetProfile:
    """Profile ``data`` (see :func:`iter_batches` for what it may be) in one pass."""
    profiler = Profiler(config)
    for batch in iter_batches(data):
        profiler.update(batch)
    return profiler.finish()


__all__ = ["Profiler", "iter_batches", "kind_of", "profile"]
