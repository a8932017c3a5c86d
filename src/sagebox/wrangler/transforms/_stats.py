"""Streaming statistics that fits accumulate batch by batch, in bounded memory.

- :class:`NumericSummary`: count, mean and variance (Chan's parallel merge, exact), min,
  max, and a uniform sample of at most ``RESERVOIR_SIZE`` values (bottom-k of random
  keys) for quantiles: exact while the column has no more values than that, otherwise an
  estimate whose rank error is about 1/sqrt(RESERVOIR_SIZE) (0.3%).
- :class:`CategoryCounter`: value counts, exact up to ``MAX_DISTINCT`` distinct values;
  beyond that the rarest half is dropped (a frequent-items sketch), so the most frequent
  categories stay right while memory stays bounded.
- :class:`GroupSums`: count and sum of a target per category, for target encoding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RESERVOIR_SIZE = 100_000
MAX_DISTINCT = 1_000_000


def float_values(values: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """The non-null values as float64 (NaN dropped too)."""
    array = pc.drop_null(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.float64())
    floats = np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return floats[~np.isnan(floats)]


class NumericSummary:
    """Exact moments and a bounded uniform sample of one numeric column."""

    def __init__(self, seed: int = 0, reservoir_size: int = RESERVOIR_SIZE) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.nulls = 0
        self._size = reservoir_size
        self._rng = np.random.default_rng(seed)
        self._sample = np.empty(0, dtype=np.float64)
        self._keys = np.empty(0, dtype=np.float64)

    def update(self, values: pa.Array | pa.ChunkedArray) -> None:
        floats = float_values(values)
        self.nulls += len(values) - len(floats)
        n = len(floats)
        if n == 0:
            return
        batch_mean = float(floats.mean())
        batch_m2 = float(((floats - batch_mean) ** 2).sum())
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total
        self.minimum = min(self.minimum, float(floats.min()))
        self.maximum = max(self.maximum, float(floats.max()))
        keys = self._rng.random(n)
        sample = np.concatenate([self._sample, floats])
        all_keys = np.concatenate([self._keys, keys])
        if len(sample) > self._size:
            keep = np.argpartition(all_keys, self._size)[: self._size]
            sample, all_keys = sample[keep], all_keys[keep]
        self._sample, self._keys = sample, all_keys

    def std(self) -> float:
        """The population standard deviation (ddof=0, as scikit-learn's scalers use)."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    def quantile(self, q: float) -> float:
        if not len(self._sample):
            return math.nan
        return float(np.quantile(self._sample, q))

    def exact(self) -> bool:
        return self.count <= self._size


class CategoryCounter:
    """How often each value occurs (values kept as Python scalars)."""

    def __init__(self, as_text: bool = False, max_distinct: int = MAX_DISTINCT) -> None:
        self.counts: dict[Any, int] = {}
        self.nulls = 0
        self._as_text = as_text
        self._max = max_distinct

    def update(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.nulls += values.null_count
        if self._as_text:
            values = as_text(values)
        counted = pc.value_counts(pc.drop_null(values))
        keys = counted.field("values").to_pylist()
        numbers = counted.field("counts").to_pylist()
        counts = self.counts
        for key, number in zip(keys, numbers, strict=True):
            counts[key] = counts.get(key, 0) + number
        if len(counts) > self._max:
            kept = sorted(counts.items(), key=lambda kv: -kv[1])[: self._max // 2]
            self.counts = dict(kept)

    def most_frequent(self, limit: int | None = None) -> list[Any]:
        """Values by descending count, ties broken by the value, at most ``limit``."""
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], _sort_key(kv[0])))
        return [k for k, _ in ordered[:limit]]


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


class GroupSums:
    """Row count and target sum per category (categories as text)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.sums: dict[str, float] = {}
        self.total_count = 0
        self.total_sum = 0.0

    def update(self, category: pa.ChunkedArray, target: pa.ChunkedArray) -> None:
        target = target.cast(pa.float64())
        valid = pc.invert(pc.is_null(target, nan_is_null=True))
        frame = pa.table({"c": as_text(category), "t": target}).filter(valid)
        self.total_count += frame.num_rows
        self.total_sum += float(pc.sum(frame["t"]).as_py() or 0.0)
        grouped = frame.group_by("c").aggregate([("t", "sum"), ("t", "count")])
        names = grouped["c"].to_pylist()
        sums = grouped["t_sum"].to_pylist()
        counts = grouped["t_count"].to_pylist()
        for name, total, count in zip(names, sums, counts, strict=True):
            if name is None:
                continue
            self.counts[name] = self.counts.get(name, 0) + count
            self.sums[name] = self.sums.get(name, 0.0) + float(total)


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Values as strings (categories are compared and named as text)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_large_string(values.type):
        return values.cast(pa.string())
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "true", "false")
    return values.cast(pa.string())
