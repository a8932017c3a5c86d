"""Split data: random, stratified, by key (group) or by time, into named parts.

The step adds a column (``output_column``, default ``split``) naming each row's part.
With ``mode="outputs"`` (default) an export writes each part to its own folder
(``<output>/train/``, ``<output>/test/``) without that column; with ``mode="column"`` the
column stays, so later steps can use it (target encoding and balancing fit on the
training rows only).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.errors import ValidationError
from sagebox.wrangler.params import (
    Fractions,
    Interval,
    Optional,
    Options,
    ScalarList,
    Text,
    parameter_error,
    require_when,
)
from sagebox.wrangler.transforms._base import State, Transform, check_columns, insert_columns
from sagebox.wrangler.transforms._sql import BatchSQL, quote
from sagebox.wrangler.transforms._stats import as_text

DEFAULT_SPLITS = {"train": 0.8, "test": 0.2}
_GOLDEN = (math.sqrt(5) - 1) / 2
_M = 0xFFFFFFFFFFFFFFFF


def _mix(values: np.ndarray[Any, Any], seed: int) -> np.ndarray[Any, Any]:
    """Uniform floats in [0, 1) from uint64s (splitmix64's finaliser, salted by ``seed``)."""
    salt = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _M)
    z = values.astype(np.uint64) ^ salt
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.asarray((z >> np.uint64(11)).astype(np.float64) * 2.0**-53)


def _cutoff(value: Any, kind: pa.DataType) -> pa.Scalar:
    """``value`` as a scalar of ``kind``; naive times for a zoned column are taken as UTC."""
    if pa.types.is_timestamp(kind) and kind.tz is not None and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return pa.scalar(moment if moment.tzinfo else moment.replace(tzinfo=UTC), kind)
    return pa.scalar(value).cast(kind)


class SplitData(Transform):
    """Assign each row to a named part (``splits``: name -> fraction, adding up to 1).

    - ``random``: each row independently, by a hash of its position and ``seed``
      (proportions hold in expectation; the same for any batch size);
    - ``stratified``: the proportions hold within each class of ``target`` up to a row
      or two (a low-discrepancy sequence per class over rows shuffled within the batch);
      the state carried between batches is one counter per class;
    - ``key``: by a hash of ``key``, so all rows of one key (an applicant, a customer)
      land in one part; proportions hold over keys, not rows;
    - ``time``: by ``time_column`` against ascending ``cutoffs`` (one fewer than the
      parts): rows before the first cut-off go to the first part, and so on; rows without
      a time go to the last part.
    """

    title = "SplitData"
    parameter_constraints = {
        "method": Options(("random", "stratified", "key", "time")),
        "splits": Optional(Fractions()),
        "target": Optional(Text()),
        "key": Optional(Text()),
        "time_column": Optional(Text()),
        "cutoffs": Optional(ScalarList()),
        "seed": Interval(0, None, integer=True),
        "output_column": Text(),
        "mode": Options(("outputs", "column")),
    }

    def __init__(
        self,
        *,
        method: str = "random",
        splits: Mapping[str, float] | None = None,
        target: str | None = None,
        key: str | None = None,
        time_column: str | None = None,
        cutoffs: list[Any] | None = None,
        seed: int = 0,
        output_column: str = "split",
        mode: str = "outputs",
    ) -> None:
        self.method = method
        self.splits = dict(splits or DEFAULT_SPLITS)
        self.target = target
        self.key = key
        self.time_column = time_column
        self.cutoffs = cutoffs
        self.seed = seed
        self.output_column = output_column
        self.mode = mode
        self._sql = BatchSQL(self.title)

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        method = values["method"]
        for name, wanted in (("target", "stratified"), ("key", "key"), ("time_column", "time")):
            when = f"when method is '{wanted}'"
            unless = f"unless method is '{wanted}'"
            require_when(
                cls.title, values, name, when if method == wanted else unless, method == wanted
            )
        if method == "time":
            require_when(cls.title, values, "cutoffs", "when method is 'time'")
            parts = len(values["splits"] or DEFAULT_SPLITS)
            cutoffs = values["cutoffs"]
            if len(cutoffs) != parts - 1:
                raise parameter_error(
                    cls.title,
                    "cutoffs",
                    f"a list of {parts - 1} value(s), one fewer than the splits",
                    cutoffs,
                )
            if any(type(a) is not type(b) or a >= b for a, b in itertools.pairwise(cutoffs)):
                raise parameter_error(cls.title, "cutoffs", "ascending values of one type", cutoffs)

    @property
    def names(self) -> list[str]:
        return list(self.splits)

    def _bucket(self, uniform: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        edges = np.cumsum(list(self.splits.values()))[:-1]
        return np.searchsorted(edges, uniform, side="right")

    def column_effects(self) -> frozenset[str]:
        return frozenset()  # it only adds its column

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        return next(self.stream([table], state))

    def stream(self, tables: Iterable[pa.Table], state: State | None = None) -> Iterator[pa.Table]:
        offset = 0
        counters: dict[str, int] = {}
        for number, table in enumerate(tables):
            rows = table.num_rows
            if self.method == "random":
                bucket = self._bucket(
                    _mix(np.arange(offset, offset + rows, dtype=np.uint64), self.seed)
                )
            elif self.method == "stratified":
                bucket = self._stratified(table, counters, number)
            elif self.method == "key":
                bucket = self._by_key(table)
            else:
                bucket = self._by_time(table)
            offset += rows
            names = pa.array(self.names, pa.string())
            column = names.take(pa.array(bucket.astype(np.int64)))
            yield insert_columns(table, table.num_columns, [(self.output_column, column)])

    def _stratified(
        self, table: pa.Table, counters: dict[str, int], number: int
    ) -> np.ndarray[Any, Any]:
        assert self.target is not None
        check_columns(table, [self.target], self.title)
        labels = as_text(table.column(self.target))
        labels = np.asarray(pc.fill_null(labels, "\0null").to_numpy(zero_copy_only=False))
        rng = np.random.default_rng([self.seed, number])
        bucket = np.zeros(len(labels), dtype=np.int64)
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            start = counters.get(label, 0)
            phase = _mix(np.array([zlib.crc32(label.encode())], np.uint64), self.seed)[0]
            sequence = np.mod(phase + _GOLDEN * np.arange(start, start + len(rows)), 1.0)
            bucket[rng.permutation(rows)] = self._bucket(sequence)
            counters[label] = start + len(rows)
        return bucket

    def _by_key(self, table: pa.Table) -> np.ndarray[Any, Any]:
        assert self.key is not None
        check_columns(table, [self.key], self.title)
        if table.num_rows == 0:
            return np.empty(0, dtype=np.int64)
        hashed = self._sql.query(f"SELECT hash({quote(self.key)}) AS h FROM df", table)["h"]
        return self._bucket(_mix(np.asarray(hashed.to_numpy(), dtype=np.uint64), self.seed))

    def _by_time(self, table: pa.Table) -> np.ndarray[Any, Any]:
        assert self.time_column is not None and self.cutoffs is not None
        check_columns(table, [self.time_column], self.title)
        values = table.column(self.time_column)
        bucket = np.zeros(table.num_rows, dtype=np.int64)
        for cutoff in self.cutoffs:
            try:
                edge = _cutoff(cutoff, values.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                raise ValidationError(
                    f"SplitData: the cut-off {cutoff!r} does not compare with the column "
                    f"{self.time_column!r} ({values.type}). Give cut-offs of that type "
                    "(ISO dates like '2024-01-01' for dates and timestamps), or cast the column."
                ) from None
            after = pc.fill_null(pc.greater_equal(values, edge), True)
            bucket += np.asarray(after.to_numpy(zero_copy_only=False), dtype=np.int64)
        return bucket
