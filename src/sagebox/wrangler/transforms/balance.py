"""Balance data: random over-sampling, random under-sampling, SMOTE (imbalanced-learn)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Interval, Optional, Options, Text
from sagebox.wrangler.transforms._base import State, Transform, check_columns
from sagebox.wrangler.transforms._stats import CategoryCounter, as_text


class _ClassFit:
    def __init__(self, owner: BalanceData) -> None:
        self.owner = owner
        self.counter = CategoryCounter(as_text=True)

    def update(self, table: pa.Table) -> None:
        table = self.owner.training_rows(table)
        self.counter.update(table.column(self.owner.target))

    def finish(self) -> State:
        classes = self.counter.most_frequent()
        return {"classes": classes, "counts": [self.counter.counts[c] for c in classes]}


class BalanceData(Transform):
    """Make the classes of ``target`` (closer to) equally frequent.

    ``ratio`` is the wanted size of every other class relative to the largest one (1:
    equal). ``random-oversample`` repeats rows of the smaller classes, ``random-undersample``
    keeps a random share of the larger ones, ``smote`` adds synthetic rows between
    near neighbours of the same class (imbalanced-learn's SMOTE; every other column must be
    numeric and without nulls: encode and impute first).

    Streaming: class counts are fitted over all the data, then each batch is re-sampled
    on its own with the global rates, so the result is balanced in expectation and memory
    stays at one batch; SMOTE's neighbours are searched within a batch. With
    ``split_column`` only the rows of ``train_split`` are re-sampled (never balance test
    data). Reproducible for a ``seed`` and batch size.
    """

    title = "BalanceData"
    stateful = True
    parameter_constraints = {
        "target": Text(),
        "method": Options(("random-oversample", "random-undersample", "smote")),
        "ratio": Interval(0, 1, closed="right"),
        "k_neighbors": Interval(1, 100, integer=True),
        "seed": Interval(0, None, integer=True),
        "split_column": Optional(Text()),
        "train_split": Text(),
    }

    def __init__(
        self,
        *,
        target: str,
        method: str = "random-oversample",
        ratio: float = 1.0,
        k_neighbors: int = 5,
        seed: int = 0,
        split_column: str | None = None,
        train_split: str = "train",
    ) -> None:
        self.target = target
        self.method = method
        self.ratio = ratio
        self.k_neighbors = k_neighbors
        self.seed = seed
        self.split_column = split_column
        self.train_split = train_split

    def training_rows(self, table: pa.Table) -> pa.Table:
        check_columns(
            table, [self.target, *([self.split_column] if self.split_column else [])], self.title
        )
        if self.split_column is None:
            return table
        return table.filter(self._train_mask(table))

    def _train_mask(self, table: pa.Table) -> pa.ChunkedArray:
        text = as_text(table.column(self.split_column))
        return pc.fill_null(pc.equal(text, self.train_split), False)

    def accumulator(self) -> _ClassFit:
        return _ClassFit(self)

    def fit_columns(self) -> frozenset[str]:
        return frozenset([self.target, *([self.split_column] if self.split_column else [])])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        return self._balance(table, self.needs_state(state), 0)

    def stream(self, tables: Iterable[pa.Table], state: State | None = None) -> Iterator[pa.Table]:
        fitted = self.needs_state(state)
        for number, table in enumerate(tables):
            yield self._balance(table, fitted, number)

    def _rates(self, fitted: State) -> dict[str, float]:
        """Per class: the expected number of output rows per input row."""
        counts = dict(zip(fitted["classes"], fitted["counts"], strict=True))
        if not counts:
            return {}
        largest, smallest = max(counts.values()), min(counts.values())
        if self.method == "random-undersample":
            ceiling = smallest / self.ratio
            return {c: min(1.0, ceiling / n) for c, n in counts.items()}
        wanted = self.ratio * largest
        return {c: max(1.0, wanted / n) for c, n in counts.items()}

    def _balance(self, table: pa.Table, fitted: State, number: int) -> pa.Table:
        check_columns(table, [self.target], self.title)
        rng = np.random.default_rng([self.seed, number])
        if self.split_column is not None:
            mask = self._train_mask(table)
            rest = table.filter(pc.invert(mask))
            table = table.filter(mask)
        labels = np.asarray(as_text(table.column(self.target)).to_numpy(zero_copy_only=False))
        rates = self._rates(fitted)
        if self.method == "smote":
            out = self._smote(table, labels, rates, rng)
        else:
            copies = np.ones(len(labels), dtype=np.int64)
            for label, rate in rates.items():
                rows = labels == label
                whole, part = int(np.floor(rate)), rate - np.floor(rate)
                copies[rows] = whole + (rng.random(int(rows.sum())) < part)
            out = table.take(pa.array(np.repeat(np.arange(len(labels)), copies)))
        if self.split_column is not None:
            out = pa.concat_tables([out, rest.cast(out.schema)])
        return out

    def _smote(
        self,
        table: pa.Table,
        labels: np.ndarray[Any, Any],
        rates: dict[str, float],
        rng: np.random.Generator,
    ) -> pa.Table:
        from imblearn.over_sampling import SMOTE

        features = [n for n in table.column_names if n not in (self.target, self.split_column)]
        kinds = {n: table.schema.field(n).type for n in features}
        wrong = [
            n
            for n, t in kinds.items()
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))
        ]
        if wrong:
            raise ValidationError(
                f"BalanceData (smote) synthesizes numeric features; the columns "
                f"{', '.join(map(repr, wrong[:10]))} are not numeric. Encode or drop them first."
            )
        matrix = (
            np.column_stack(
                [
                    table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False)
                    for n in features
                ]
            )
            if features
            else np.zeros((len(labels), 0))
        )
        if np.isnan(matrix).any():
            raise ValidationError(
                "BalanceData (smote) needs complete rows; some features are null or NaN. "
                "Add a 'handle-missing' step before it."
            )
        strategy: dict[str, int] = {}
        present = {c: int((labels == c).sum()) for c in np.unique(labels)}
        for label, count in present.items():
            extra = round(count * (rates.get(label, 1.0) - 1.0))
            if extra > 0 and count >= 2:
                strategy[label] = count + extra
        if not strategy or not len(features):
            return table
        neighbours = min(self.k_neighbors, *(present[c] - 1 for c in strategy))
        sampler = SMOTE(
            sampling_strategy=strategy,
            k_neighbors=neighbours,
            random_state=int(rng.integers(2**31)),
        )
        resampled, new_labels = sampler.fit_resample(matrix, labels)
        synthetic, synthetic_labels = resampled[len(labels) :], new_labels[len(labels) :]
        columns: dict[str, pa.Array] = {}
        for index, name in enumerate(features):
            values = synthetic[:, index]
            kind = kinds[name]
            if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
                values = np.round(values)
            columns[name] = pa.array(values).cast(kind)
        first_of = {c: int(np.argmax(labels == c)) for c in strategy}
        target = table.column(self.target)
        columns[self.target] = target.take(pa.array([first_of[c] for c in synthetic_labels]))
        if self.split_column:
            columns[self.split_column] = pa.array([self.train_split] * len(synthetic_labels))
        extra_rows = pa.table({n: columns[n] for n in table.column_names})
        return pa.concat_tables([table, extra_rows.cast(table.schema)])
