"""Bounded-memory summaries that are updated one batch at a time.

Each sketch holds at most a fixed amount of state whatever the number of rows, and says
whether what it reports is exact:

- :class:`Moments`: count, mean, variance (Chan's parallel update), min and max; exact.
- :class:`Reservoir`: a uniform sample of at most ``size`` values (bottom-k of random keys);
  exact while fewer than ``size`` values were seen.
- :class:`ExpandingHistogram`: power-of-two-wide aligned bins that merge in pairs when
  values fall outside them; counts are always exact.
- :class:`HashSet`: the distinct 64-bit hashes seen, up to a cap.
- :class:`HyperLogLog`: a distinct-count estimate (about 0.8% error at precision 14).
- :class:`TopCounter`: value counts, exact until more than ``capacity`` values compete.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Moments:
    """Streaming count, mean, variance, min and max of finite float64 values."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def update(self, values: np.ndarray) -> None:
        n = len(values)
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self._m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))

    @property
    def std(self) -> float | None:
        """The sample standard deviation (``ddof=1``, as pandas reports it)."""
        return math.sqrt(self._m2 / (self.count - 1)) if self.count > 1 else None


class Reservoir:
    """A uniform random sample of at most ``size`` values: those with the smallest keys.

    Keys come from the caller (one uniform draw per row), so the sample does not depend on
    how the rows were split into batches.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.seen = 0
        self.values = np.empty(0, dtype=np.float64)
        self._keys = np.empty(0, dtype=np.float64)

    def update(self, values: np.ndarray, keys: np.ndarray) -> None:
        self.seen += len(values)
        if len(self._keys) >= self.size:
            keep = keys < self._keys.max()
            values, keys = values[keep], keys[keep]
        if not len(values):
            return
        all_values = np.concatenate((self.values, values))
        all_keys = np.concatenate((self._keys, keys))
        if len(all_keys) > self.size:
            chosen = np.argpartition(all_keys, self.size - 1)[: self.size]
            all_values, all_keys = all_values[chosen], all_keys[chosen]
        self.values, self._keys = all_values, all_keys

    @property
    def exact(self) -> bool:
        """Whether the sample holds every value seen."""
        return self.seen <= self.size


class ExpandingHistogram:
    """Exact counts in ``bins`` aligned bins of width ``2**exponent``.

    Bin ``i`` covers ``[(start + i) * 2**exponent, (start + i + 1) * 2**exponent)``. The
    exponent is the smallest that fits every value seen into ``bins`` bins (and no finer
    than float64 can tell apart); when new values widen the range, the exponent grows and
    aligned bins merge exactly. The final bins depend only on the minimum and maximum, not
    on how the rows were cut into batches, and the counts are always exact.
    """

    def __init__(self, bins: int = 1024) -> None:
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.exponent: int | None = None
        self.start = 0
        self._low = math.inf
        self._high = -math.inf

    def update(self, values: np.ndarray) -> None:
        if not len(values):
            return
        low = min(self._low, float(values.min()))
        high = max(self._high, float(values.max()))
        exponent = self._fitting_exponent(low, high)
        start = math.floor(math.ldexp(low, -exponent))
        if (exponent, start) != (self.exponent, self.start):
            self._relayout(exponent, start)
        self._low, self._high = low, high
        index = np.floor(np.ldexp(values, -exponent)).astype(np.int64) - start
        self.counts += np.bincount(np.clip(index, 0, self.bins - 1), minlength=self.bins)

    def _fitting_exponent(self, low: float, high: float) -> int:
        largest = max(abs(low), abs(high))
        # Bins finer than float64's resolution at this magnitude would tell nothing apart.
        exponent = math.frexp(largest)[1] - 53 if largest > 0 else -1000
        if high > low:
            exponent = max(exponent, math.floor(math.log2((high - low) / self.bins)))
        if self.exponent is not None:
            exponent = max(exponent, self.exponent)
        while (
            math.floor(math.ldexp(high, -exponent)) - math.floor(math.ldexp(low, -exponent))
            >= self.bins
        ):
            exponent += 1
        return exponent

    def _relayout(self, exponent: int, start: int) -> None:
        if self.exponent is not None:
            occupied = np.flatnonzero(self.counts)
            merged = (self.start + occupied) >> (exponent - self.exponent)
            counts = np.zeros(self.bins, dtype=np.int64)
            np.add.at(counts, merged - start, self.counts[occupied])
            self.counts = counts
        self.exponent, self.start = exponent, start

    def display(self, vmin: float, vmax: float, target: int = 20) -> tuple[list[float], list[int]]:
        """Edges and counts in about ``target`` bins (groups of whole bins) over the data."""
        occupied = np.flatnonzero(self.counts)
        if self.exponent is None or not len(occupied):
            return [], []
        first, last = int(occupied[0]), int(occupied[-1])
        group = max(1, math.ceil((last - first + 1) / target))
        counts = [
            int(self.counts[begin : begin + group].sum()) for begin in range(first, last + 1, group)
        ]
        edges = [
            math.ldexp(float(self.start + first + group * k), self.exponent)
            for k in range(len(counts) + 1)
        ]
        edges[0], edges[-1] = vmin, vmax
        return edges, counts


class HashSet:
    """The distinct uint64 hashes seen, as a sorted array, holding at most ``cap`` of them."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.values = np.empty(0, dtype=np.uint64)
        self.full = False

    def observe(self, hashes: np.ndarray) -> int:
        """Add ``hashes``; return how many of them repeat a hash seen before (in or out of it).

        Once full, new hashes are no longer remembered, so later repeats of them go uncounted:
        the count is then a lower bound.
        """
        unique = np.unique(hashes)
        position = np.searchsorted(self.values, unique)
        present = np.zeros(len(unique), dtype=bool)
        inside = position < len(self.values)
        present[inside] = self.values[position[inside]] == unique[inside]
        new, where = unique[~present], position[~present]
        repeats = len(hashes) - len(new)
        room = self.cap - len(self.values)
        if len(new) > room:
            self.full = True
            new, where = new[:room], where[:room]
        if len(new):
            self.values = np.insert(self.values, where, new)
        return repeats

    def __len__(self) -> int:
        return len(self.values)


class HyperLogLog:
    """Flajolet et al.'s distinct-count estimator over 64-bit hashes (2**precision registers)."""

    def __init__(self, precision: int = 14) -> None:
        self.precision = precision
        self.registers = np.zeros(1 << precision, dtype=np.uint8)

    def update(self, hashes: np.ndarray) -> None:
        if not len(hashes):
            return
        p = np.uint64(self.precision)
        index = (hashes >> (np.uint64(64) - p)).astype(np.int64)
        # A guard bit keeps the remaining bits non-zero, capping the rank at 64 - p + 1.
        rest = (hashes << p) | (np.uint64(1) << (p - np.uint64(1)))
        rank = (65 - _bit_length(rest)).astype(np.uint8)
        np.maximum.at(self.registers, index, rank)

    def estimate(self) -> float:
        m = float(len(self.registers))
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)  # linear counting for small cardinalities
        return raw


def _bit_length(values: np.ndarray) -> np.ndarray:
    """Bit length of each uint64, exactly (float64 holds 32-bit halves without rounding)."""
    high = (values >> np.uint64(32)).astype(np.float64)
    low = (values & np.uint64(0xFFFFFFFF)).astype(np.float64)
    out = np.zeros(len(values), dtype=np.int64)
    has_high = high > 0
    out[has_high] = 33 + np.floor(np.log2(high[has_high])).astype(np.int64)
    only_low = ~has_high & (low > 0)
    out[only_low] = 1 + np.floor(np.log2(low[only_low])).astype(np.int64)
    return out


class TopCounter:
    """Counts per value; exact until more than ``capacity`` distinct values compete.

    Past that, only the most frequent values are kept and their counts become lower bounds
    (``error`` bounds how much any count, or any dropped value's count, may be missing).
    """

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.counts: dict[Any, int] = {}
        self.error = 0
        self.exact = True

    def update(self, values: list[Any], counts: np.ndarray) -> None:
        if len(values) > self.capacity:
            order = np.argsort(-counts, kind="stable")
            self.error += int(counts[order[self.capacity]])
            self.exact = False
            kept = order[: self.capacity]
            values, counts = [values[i] for i in kept], counts[kept]
        for value, count in zip(values, counts.tolist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count
        if len(self.counts) > 2 * self.capacity:
            ranked = sorted(self.counts.items(), key=lambda item: -item[1])
            self.error += ranked[self.capacity][1]
            self.exact = False
            self.counts = dict(ranked[: self.capacity])

    def top(self, k: int) -> list[tuple[Any, int]]:
        """The ``k`` most frequent values, most frequent first (ties by value's text)."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], str(item[0])))
        return ranked[:k]
