"""One column's streaming accumulator: fed Arrow arrays batch by batch, finished into a profile."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.data.quality._hashing import as_list, hash_array, missing_mask
from sagebox.data.quality._results import (
    QUANTILES,
    ColumnProfile,
    Histogram,
    Kind,
    NumericSummary,
    Outliers,
    ProfileConfig,
    StringSummary,
    finite_or_none,
)
from sagebox.data.quality._sketches import (
    ExpandingHistogram,
    HashSet,
    HyperLogLog,
    Moments,
    Reservoir,
    TopCounter,
)

_EXTREMES = 5


def kind_of(arrow_type: pa.DataType) -> Kind:
    """The profile kind of an Arrow type."""
    if pa.types.is_dictionary(arrow_type):
        return kind_of(arrow_type.value_type)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "categorical"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
        or pa.types.is_map(arrow_type)
    ):
        return "list"
    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    return "other"


class ColumnAccumulator:
    """Bounded state for one (flattened) column; see :class:`ProfileConfig` for the bounds."""

    def __init__(self, name: str, parent: str | None, config: ProfileConfig) -> None:
        self.name, self.parent, self.config = name, parent, config
        self.arrow_type: pa.DataType = pa.null()
        self.rows = 0
        self.missing = 0
        self.type_mismatches = 0
        self.distinct = HashSet(config.distinct_exact_cap)
        self.hll = HyperLogLog(config.hll_precision)
        self.counter = TopCounter(config.top_values)
        self.moments = Moments()
        self.reservoir = Reservoir(config.reservoir_size)
        self.histogram = ExpandingHistogram()
        self.low = np.empty(0)
        self.high = np.empty(0)
        self.zeros = self.negatives = self.infinite = 0
        self.string_lengths = Moments()
        self.empty = 0

    @property
    def kind(self) -> Kind:
        return kind_of(self.arrow_type)

    def conform(self, array: pa.Array) -> pa.Array:
        """``array`` in this column's type (adopting the first non-null type seen).

        Values that cannot be cast are counted as type mismatches and treated as missing.
        """
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if array.type == self.arrow_type or pa.types.is_null(array.type):
            return array if array.type == self.arrow_type else pa.nulls(len(array), self.arrow_type)
        if pa.types.is_null(self.arrow_type):
            self.arrow_type = array.type
            return array
        if pa.types.is_integer(self.arrow_type) and pa.types.is_floating(array.type):
            self.arrow_type = pa.float64()  # widen, as the readers unify int and float files
        try:
            return array.cast(self.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            self.type_mismatches += len(array) - array.null_count
            return pa.nulls(len(array), self.arrow_type)

    def update(self, array: pa.Array, keys: np.ndarray) -> None:
        """Fold one batch's values into the column's state; ``keys`` are the rows' sample keys."""
        self.rows += len(array)
        missing = missing_mask(array)
        self.missing += int(missing.sum())
        if missing.all():
            return
        present = ~missing
        values = array.filter(pa.array(present))
        hashes = hash_array(values)
        if not self.distinct.full:
            self.distinct.observe(hashes)
        self.hll.update(hashes)
        kind = self.kind
        if kind == "list":
            lengths = pc.list_value_length(as_list(values)).cast(pa.int64())
            self.empty += int(pc.sum(pc.equal(lengths, 0)).as_py() or 0)
            self._count(lengths)
            self._numeric(lengths.to_numpy().astype(np.float64), keys[present])
        elif kind in ("numeric", "datetime"):
            self._count(values)
            as_int = kind == "datetime"
            numbers = _as_float(values, as_int)
            self._numeric(numbers, keys[present])
        elif kind in ("boolean", "categorical"):
            self._count(values)
            if kind == "categorical":
                lengths = pc.utf8_length(values).to_numpy().astype(np.float64)
                self.string_lengths.update(lengths)
                self.empty += int((lengths == 0).sum())

    def _count(self, values: pa.Array) -> None:
        counts = pc.value_counts(values)
        self.counter.update(
            counts.field("values").to_pylist(),
            counts.field("counts").to_numpy().astype(np.int64),
        )

    def _numeric(self, values: np.ndarray, keys: np.ndarray) -> None:
        finite = np.isfinite(values)
        self.infinite += int((~finite).sum())
        values, keys = values[finite], keys[finite]
        if not len(values):
            return
        self.moments.update(values)
        self.histogram.update(values)
        self.reservoir.update(values, keys)
        self.zeros += int((values == 0).sum())
        self.negatives += int((values < 0).sum())
        self.low = np.unique(np.concatenate((self.low, _smallest(values))))[:_EXTREMES]
        self.high = np.unique(np.concatenate((self.high, -_smallest(-values))))[-_EXTREMES:]

    # -- finishing ------------------------------------------------------------------------
    def finish(self) -> ColumnProfile:
        kind = self.kind
        notes: list[str] = []
        if self.distinct.full:
            distinct = max(round(self.hll.estimate()), len(self.distinct))
            notes.append(
                f"More than {self.config.distinct_exact_cap} distinct values: the distinct "
                "count is a HyperLogLog estimate (about 1% error)."
            )
        else:
            distinct = len(self.distinct)
        if self.type_mismatches:
            notes.append(
                f"{self.type_mismatches} values could not be read as {self.arrow_type} and "
                "were counted as missing; the files disagree about this column's type."
            )
        numeric = self._summary() if kind in ("numeric", "datetime", "list") else None
        top = self.counter.top(20)
        if not self.counter.exact:
            notes.append(
                f"More than {self.config.top_values} distinct values compete: value counts "
                f"are lower bounds (each may miss up to {self.counter.error})."
            )
        string = None
        if kind == "categorical" and self.string_lengths.count:
            string = StringSummary(
                min_length=int(self.string_lengths.min),
                max_length=int(self.string_lengths.max),
                mean_length=self.string_lengths.mean,
                empty=self.empty,
            )
        return ColumnProfile(
            name=self.name,
            parent=self.parent,
            arrow_type=str(self.arrow_type),
            kind=kind,
            rows=self.rows,
            missing=self.missing,
            distinct=distinct,
            distinct_exact=not self.distinct.full,
            numeric=numeric,
            histogram=self._histogram() if numeric else None,
            top_values=top,
            top_values_exact=self.counter.exact,
            outliers=self._outliers() if kind in ("numeric", "list") else None,
            rare_categories=self._rare() if kind == "categorical" else None,
            string=string,
            empty_lists=self.empty if kind == "list" else None,
            element_type=_element_type(self.arrow_type) if kind == "list" else None,
            type_mismatches=self.type_mismatches,
            notes=notes,
        )

    def _summary(self) -> NumericSummary:
        values = self.reservoir.values
        quantiles = (
            {
                f"p{round(q * 100):02d}": float(v)
                for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
            }
            if len(values)
            else {}
        )
        m = self.moments
        return NumericSummary(
            count=m.count,
            mean=finite_or_none(m.mean) if m.count else None,
            std=finite_or_none(m.std),
            min=m.min if m.count else None,
            max=m.max if m.count else None,
            quantiles=quantiles,
            quantiles_exact=self.reservoir.exact,
            zeros=self.zeros,
            negatives=self.negatives,
            infinite=self.infinite,
        )

    def _histogram(self) -> Histogram | None:
        m = self.moments
        if not m.count:
            return None
        edges, counts = self.histogram.display(m.min, m.max, self.config.histogram_bins)
        return Histogram(edges=edges, counts=counts)

    def _outliers(self) -> Outliers | None:
        values = self.reservoir.values
        if len(values) < 10:
            return None
        q1, median, q3 = np.quantile(values, (0.25, 0.5, 0.75))
        mad = float(np.median(np.abs(values - median)))
        iqr = float(q3 - q1)
        if mad > 0:
            method, low, high = "robust_z", median - 5 * mad / 0.6745, median + 5 * mad / 0.6745
        elif iqr > 0:
            method, low, high = "iqr", q1 - 3 * iqr, q3 + 3 * iqr
        else:
            return None
        scale = self.reservoir.seen / len(values)

        def beyond(lo: float, hi: float) -> int:
            return round(int(((values < lo) | (values > hi)).sum()) * scale)

        extremes = np.unique(np.concatenate((self.low, self.high)))
        examples = [float(v) for v in extremes if v < low or v > high]
        count = max(beyond(low, high), len(examples))
        iqr_count = beyond(q1 - 3 * iqr, q3 + 3 * iqr) if iqr > 0 else 0
        if not count and not iqr_count:
            return None
        return Outliers(
            method=method,  # type: ignore[arg-type]
            low=float(low),
            high=float(high),
            count=count,
            share=count / max(self.moments.count, 1),
            estimated=not self.reservoir.exact,
            iqr_count=iqr_count,
            examples=examples,
        )

    def _rare(self) -> list[tuple[Any, int]] | None:
        non_missing = self.rows - self.missing
        if not self.counter.exact or not non_missing or len(self.counter.counts) > 50:
            return None
        limit = self.config.rare_share * non_missing
        rare = [(v, c) for v, c in self.counter.top(len(self.counter.counts)) if c < limit]
        return sorted(rare, key=lambda item: (item[1], str(item[0])))[:10] or None


def _element_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_map(arrow_type):
        return f"struct<key: {arrow_type.key_type}, value: {arrow_type.item_type}>"
    return str(arrow_type.value_type)


def _smallest(values: np.ndarray) -> np.ndarray:
    """The few smallest of ``values`` (unordered), without sorting them all."""
    if len(values) <= _EXTREMES:
        return values
    return np.partition(values, _EXTREMES - 1)[:_EXTREMES]


def _as_float(values: pa.Array, as_int: bool) -> np.ndarray:
    """Numbers as float64; datetimes as their epoch value in the type's own unit."""
    if as_int:
        kind = values.type
        widened = values.cast(pa.int64()) if kind.bit_width == 64 else values.cast(pa.int32())
        return widened.to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_decimal(values.type):
        values = values.cast(pa.float64())
    return values.to_numpy(zero_copy_only=False).astype(np.float64)
