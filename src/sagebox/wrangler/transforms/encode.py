"""Encode categorical: one-hot, ordinal, similarity and target encoding.

Categories are compared as text (``1`` and ``"1"`` are one category), fitted in one
streaming pass (see :mod:`._stats`), and stored in the state in a fixed order, so the
output columns are the same for every batch and every run.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.wrangler.params import Boolean, Interval, Optional, Text
from sagebox.wrangler.transforms._base import (
    State,
    Transform,
    check_columns,
    insert_columns,
    replace_column,
)
from sagebox.wrangler.transforms._stats import CategoryCounter, GroupSums, as_text


class _CategoryFit:
    """Accumulates the text categories of one column."""

    def __init__(self, owner: Transform, column: str, limit: int | None, order: str) -> None:
        self.owner, self.column, self.limit, self.order = owner, column, limit, order
        self.counter = CategoryCounter(as_text=True)

    def update(self, table: pa.Table) -> None:
        check_columns(table, [self.column], self.owner.title)
        self.counter.update(table.column(self.column))

    def finish(self) -> State:
        categories = self.counter.most_frequent(self.limit)
        if self.order == "value":
            categories = sorted(categories)
        return {"categories": categories, "counts": [self.counter.counts[c] for c in categories]}


def _indices(values: pa.ChunkedArray, categories: list[str]) -> np.ndarray[Any, Any]:
    """Each value's index in ``categories``; -1 for unseen values, -2 for nulls."""
    text = as_text(values)
    found = pc.index_in(text, value_set=pa.array(categories, pa.string()))
    index = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    nulls = np.asarray(pc.is_null(text).to_numpy(zero_copy_only=False), dtype=bool)
    index[nulls] = -2
    return index


def _safe(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip()) or "blank"


def _names(prefix: str, categories: list[str]) -> list[str]:
    """``prefix + category`` per category, made unique with ``_2``, ``_3`` ... where two
    categories read the same once blanks are replaced ("a b" and "a_b")."""
    names: list[str] = []
    for category in categories:
        name = base = prefix + _safe(category)
        number = 1
        while name in names:
            number += 1
            name = f"{base}_{number}"
        names.append(name)
    return names


class OneHotEncode(Transform):
    """One 0/1 column per category: ``<column>_<category>``, for the most frequent ones.

    At most ``max_categories`` categories get a column; with ``other`` the rest, any
    category first seen after the fit (and a category named "other" itself) set
    ``<column>_other``. A null sets no column. Categories that read the same once blanks
    become ``_`` get ``_2``, ``_3`` ... suffixes.
    """

    title = "OneHotEncode"
    stateful = True
    parameter_constraints = {
        "column": Text(),
        "max_categories": Interval(1, 10_000, integer=True),
        "other": Boolean(),
        "keep_original": Boolean(),
        "separator": Text(nonempty=False),
    }

    def __init__(
        self,
        *,
        column: str,
        max_categories: int = 20,
        other: bool = True,
        keep_original: bool = False,
        separator: str = "_",
    ) -> None:
        self.column = column
        self.max_categories = max_categories
        self.other = other
        self.keep_original = keep_original
        self.separator = separator

    def accumulator(self) -> _CategoryFit:
        return _CategoryFit(self, self.column, self.max_categories, "count")

    def fit_columns(self) -> frozenset[str]:
        return frozenset([self.column])

    def column_effects(self) -> frozenset[str]:
        return frozenset() if self.keep_original else frozenset([self.column])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        categories: list[str] = self.needs_state(state)["categories"]
        check_columns(table, [self.column], self.title)
        index = _indices(table.column(self.column), categories)
        names = _names(f"{self.column}{self.separator}", categories)
        flags = {name: index == i for i, name in enumerate(names)}
        if self.other:
            # a category named "other" and the catch-all are one column
            rest = f"{self.column}{self.separator}other"
            flags[rest] = flags[rest] | (index == -1) if rest in flags else index == -1
        columns = [(name, pa.array(flag.astype(np.int8))) for name, flag in flags.items()]
        at = table.schema.get_field_index(self.column)
        if not self.keep_original:
            table = table.remove_column(at)
        else:
            at += 1
        return insert_columns(table, at, columns)


class OrdinalEncode(Transform):
    """Each category becomes its index (0, 1, ...) in sorted order of the categories.

    Categories first seen after the fit, and nulls, become null (``unknown_value`` sets
    another value for unseen ones). ``output_column`` keeps the original column.
    """

    title = "OrdinalEncode"
    stateful = True
    parameter_constraints = {
        "column": Text(),
        "max_categories": Optional(Interval(1, None, integer=True)),
        "unknown_value": Optional(Interval(None, None, integer=True)),
        "output_column": Optional(Text()),
    }

    def __init__(
        self,
        *,
        column: str,
        max_categories: int | None = None,
        unknown_value: int | None = None,
        output_column: str | None = None,
    ) -> None:
        self.column = column
        self.max_categories = max_categories
        self.unknown_value = unknown_value
        self.output_column = output_column

    def accumulator(self) -> _CategoryFit:
        return _CategoryFit(self, self.column, self.max_categories, "value")

    def fit_columns(self) -> frozenset[str]:
        return frozenset([self.column])

    def column_effects(self) -> frozenset[str]:
        return frozenset() if self.output_column else frozenset([self.column])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        categories: list[str] = self.needs_state(state)["categories"]
        check_columns(table, [self.column], self.title)
        index = _indices(table.column(self.column), categories)
        codes = index.copy()
        if self.unknown_value is not None:
            codes[index == -1] = self.unknown_value
            mask = index == -2
        else:
            mask = index < 0
        values = pa.array(codes, type=pa.int64(), mask=mask)
        if self.output_column:
            at = table.schema.get_field_index(self.column) + 1
            return insert_columns(table, at, [(self.output_column, values)])
        return replace_column(table, self.column, values)


def _ngrams(text: str, low: int, high: int) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)}


def similarity(a: str, b: str, low: int = 2, high: int = 4) -> float:
    """Jaccard similarity of the character n-gram sets of ``a`` and ``b``, in [0, 1]."""
    first, second = _ngrams(a, low, high), _ngrams(b, low, high)
    union = len(first | second)
    return len(first & second) / union if union else 1.0


class SimilarityEncode(Transform):
    """Each value becomes its similarity to the ``top_k`` most frequent categories.

    As Data Wrangler's similarity encoding (after dirty_cat's): the similarity of two
    strings is the Jaccard index of their character n-gram sets (``ngram_min`` ..
    ``ngram_max``, padded with a space), so misspellings and variants ("Self employed",
    "self-employed") get close vectors. Output: ``<column>_sim_<category>`` floats;
    nulls give nulls.
    """

    title = "SimilarityEncode"
    stateful = True
    parameter_constraints = {
        "column": Text(),
        "top_k": Interval(1, 1_000, integer=True),
        "ngram_min": Interval(1, 10, integer=True),
        "ngram_max": Interval(1, 10, integer=True),
        "keep_original": Boolean(),
    }

    def __init__(
        self,
        *,
        column: str,
        top_k: int = 30,
        ngram_min: int = 2,
        ngram_max: int = 4,
        keep_original: bool = False,
    ) -> None:
        self.column = column
        self.top_k = top_k
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.keep_original = keep_original

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        from sagebox.wrangler.params import parameter_error

        if values["ngram_max"] < values["ngram_min"]:
            raise parameter_error(
                cls.title, "ngram_max", f">= ngram_min ({values['ngram_min']})", values["ngram_max"]
            )

    def accumulator(self) -> _CategoryFit:
        return _CategoryFit(self, self.column, self.top_k, "count")

    def fit_columns(self) -> frozenset[str]:
        return frozenset([self.column])

    def column_effects(self) -> frozenset[str]:
        return frozenset() if self.keep_original else frozenset([self.column])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        prototypes: list[str] = self.needs_state(state)["categories"]
        check_columns(table, [self.column], self.title)
        text = as_text(table.column(self.column))
        encoded = pc.dictionary_encode(text).combine_chunks()
        distinct = encoded.dictionary.to_pylist()
        grams = [_ngrams(p, self.ngram_min, self.ngram_max) for p in prototypes]
        matrix = np.zeros((len(distinct), len(prototypes)), dtype=np.float64)
        for row, value in enumerate(distinct):
            own = _ngrams(value, self.ngram_min, self.ngram_max)
            for col, other in enumerate(grams):
                union = len(own | other)
                matrix[row, col] = len(own & other) / union if union else 1.0
        codes = encoded.indices
        mask = np.asarray(pc.is_null(codes).to_numpy(zero_copy_only=False), dtype=bool)
        positions = np.asarray(pc.fill_null(codes, 0).to_numpy(zero_copy_only=False), np.int64)
        columns = []
        names = _names(f"{self.column}_sim_", prototypes)
        for col, name in enumerate(names):
            values = matrix[positions, col] if len(distinct) else np.zeros(len(positions))
            columns.append((name, pa.array(values, mask=mask)))
        at = table.schema.get_field_index(self.column)
        if not self.keep_original:
            table = table.remove_column(at)
        else:
            at += 1
        return insert_columns(table, at, columns)


class _TargetFit:
    def __init__(self, owner: TargetEncode) -> None:
        self.owner = owner
        self.sums = GroupSums()

    def update(self, table: pa.Table) -> None:
        owner = self.owner
        needed = [owner.column, owner.target] + ([owner.split_column] if owner.split_column else [])
        check_columns(table, needed, owner.title)
        if owner.split_column:
            table = table.filter(
                pc.equal(as_text(table.column(owner.split_column)), owner.train_split)
            )
        self.sums.update(table.column(owner.column), table.column(owner.target))

    def finish(self) -> State:
        sums, m = self.sums, self.owner.smoothing
        prior = sums.total_sum / sums.total_count if sums.total_count else 0.0
        names = sorted(sums.counts)
        encoded = [(sums.sums[n] + m * prior) / (sums.counts[n] + m) for n in names]
        return {
            "prior": prior,
            "categories": names,
            "encoding": encoded,
            "counts": [sums.counts[n] for n in names],
        }


class TargetEncode(Transform):
    """Each category becomes the smoothed mean of the target over its rows.

    encoding = (sum of target + smoothing * prior) / (count + smoothing), where prior is
    the target's mean over all fitted rows: rare categories lean towards the prior. Fit on
    the training rows only, to keep the test rows' labels out of their features: put a
    ``split`` step (``mode="column"``) before this one and name its column in
    ``split_column``. Unseen categories and nulls get the prior.
    """

    title = "TargetEncode"
    stateful = True
    parameter_constraints = {
        "column": Text(),
        "target": Text(),
        "smoothing": Interval(0, None),
        "split_column": Optional(Text()),
        "train_split": Text(),
        "output_column": Optional(Text()),
    }

    def __init__(
        self,
        *,
        column: str,
        target: str,
        smoothing: float = 10.0,
        split_column: str | None = None,
        train_split: str = "train",
        output_column: str | None = None,
    ) -> None:
        self.column = column
        self.target = target
        self.smoothing = smoothing
        self.split_column = split_column
        self.train_split = train_split
        self.output_column = output_column

    def accumulator(self) -> _TargetFit:
        return _TargetFit(self)

    def fit_columns(self) -> frozenset[str]:
        split = [self.split_column] if self.split_column else []
        return frozenset([self.column, self.target, *split])

    def column_effects(self) -> frozenset[str]:
        return frozenset() if self.output_column else frozenset([self.column])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        fitted = self.needs_state(state)
        check_columns(table, [self.column], self.title)
        index = _indices(table.column(self.column), fitted["categories"])
        lookup = np.append(np.asarray(fitted["encoding"], dtype=np.float64), fitted["prior"])
        values = pa.array(lookup[np.where(index < 0, len(lookup) - 1, index)])
        if self.output_column:
            at = table.schema.get_field_index(self.column) + 1
            return insert_columns(table, at, [(self.output_column, values)])
        return replace_column(table, self.column, values)
