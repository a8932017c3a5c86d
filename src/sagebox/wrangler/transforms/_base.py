"""The transform contract every Data Wrangler step implements.

A transform is built from validated parameters (its constructor only stores them), then:

- ``accumulator()`` (stateful transforms only) starts a streaming fit: ``update`` it with
  every batch of the data the step will see, ``finish`` it for the fitted state. The
  state is a JSON-serialisable dict (categories, means, scaler parameters ...), small and
  independent of the number of rows. ``fit(data)`` does the same over a table or batches.
- ``apply(batch, state)`` transforms one batch (table or record batch) with that state
  and returns a new table; subclasses implement it as ``_apply(table, state)``.
- ``fit_columns()`` and ``column_effects()`` (optional declarations) say what a fit reads
  and what a row-preserving step changes, so independent fits can share one pass.
- ``stream(tables, state)`` transforms a sequence of batches; by default it is ``apply``
  batch by batch. The few transforms that carry something from one batch to the next
  (drop duplicates: the hashes seen; split: row counters; balance: a batch counter for
  its random draws) override it, and their docstrings say how large that state grows.

Invariants: ``apply`` never mutates its input; the output schema of a step depends only
on its input schema and fitted state, so batches stream into one output file.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sagebox.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from sagebox.wrangler.params import Constraint

State = dict[str, Any]


class Accumulator(Protocol):
    """A streaming fit: ``update`` with each batch, then ``finish`` once."""

    def update(self, table: pa.Table) -> None: ...

    def finish(self) -> State: ...


class Transform(abc.ABC):
    """Base of every transform; subclasses set ``title`` and ``parameter_constraints``."""

    title: ClassVar[str]  # the name in messages: "HandleMissing"
    parameter_constraints: ClassVar[Mapping[str, Constraint]] = {}
    stateful: ClassVar[bool] = False

    @classmethod
    def check_parameters(cls, values: Mapping[str, Any]) -> None:
        """Rules between parameters, checked after each one alone (override as needed)."""
        return None

    def is_stateful(self) -> bool:
        """Whether the step must be fitted before it applies (some depend on parameters)."""
        return self.stateful

    def fit_columns(self) -> frozenset[str] | None:
        """The columns a fit reads; None when unknown (all of them)."""
        return None

    def column_effects(self) -> frozenset[str] | None:
        """For a step that keeps every row and only changes, removes or adds columns it
        names: the existing columns it changes or removes. None: anything may change.

        These two let the engine fit a later step in the same pass as an earlier one when
        the steps between cannot change what the later fit reads.
        """
        return None

    def accumulator(self) -> Accumulator:
        raise TypeError(f"{self.title} has no fit: it is stateless.")

    def fit(self, data: pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch]) -> State:
        """The fitted state over all of ``data`` (one table or many batches)."""
        import pyarrow as pa

        accumulator = self.accumulator()
        tables = [data] if isinstance(data, pa.Table | pa.RecordBatch) else data
        for table in tables:
            accumulator.update(as_table(table))
        return accumulator.finish()

    def apply(self, data: pa.Table | pa.RecordBatch, state: State | None = None) -> pa.Table:
        """``data`` transformed with the fitted ``state`` (a new table; ``data`` is kept)."""
        return self._apply(as_table(data), state)

    @abc.abstractmethod
    def _apply(self, table: pa.Table, state: State | None) -> pa.Table:
        """What ``apply`` does, on a table: each transform's own work."""

    def stream(self, tables: Iterable[pa.Table], state: State | None = None) -> Iterator[pa.Table]:
        for table in tables:
            yield self._apply(table, state)

    def needs_state(self, state: State | None) -> State:
        if state is None:
            raise ValidationError(
                f"{self.title} is stateful: fit it first (Transform.fit) and pass the state."
            )
        return state


def as_table(data: pa.Table | pa.RecordBatch) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data


def _listing(names: Iterable[str], limit: int = 30) -> str:
    items = list(names)
    shown = ", ".join(items[:limit])
    return shown + (f" ... ({len(items)} columns)" if len(items) > limit else "")


def check_columns(table: pa.Table, names: Iterable[str], owner: str) -> None:
    """ValidationError naming the missing columns and the ones that exist."""
    present = set(table.column_names)
    missing = [n for n in names if n not in present]
    if missing:
        raise ValidationError(
            f"{owner}: the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} "
            f"{'are' if len(missing) > 1 else 'is'} not in the data. "
            f"Its columns are: {_listing(table.column_names)}. Check the name (nested fields "
            "become 'parent.child' after a flatten step)."
        )


def numeric_columns(table: pa.Table, names: Iterable[str] | None, owner: str) -> list[str]:
    """``names`` (checked to be numeric), or every numeric column when ``names`` is None."""
    import pyarrow.types as pt

    def is_numeric(name: str) -> bool:
        kind = table.schema.field(name).type
        return bool(pt.is_integer(kind) or pt.is_floating(kind) or pt.is_decimal(kind))

    if names is None:
        return [n for n in table.column_names if is_numeric(n)]
    chosen = list(names)
    check_columns(table, chosen, owner)
    wrong = [n for n in chosen if not is_numeric(n)]
    if wrong:
        kinds = ", ".join(f"{n!r} ({table.schema.field(n).type})" for n in wrong)
        raise ValidationError(
            f"{owner} needs numeric columns; {kinds} {'are' if len(wrong) > 1 else 'is'} not. "
            "Cast them first (a 'cast' step) or choose other columns."
        )
    return chosen


def replace_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` with column ``name`` replaced in place (its type may change)."""
    import pyarrow as pa

    index = table.schema.get_field_index(name)
    return table.set_column(index, pa.field(name, values.type), values)


def insert_columns(
    table: pa.Table,
    at: int,
    columns: Iterable[tuple[str, pa.Array | pa.ChunkedArray]],
) -> pa.Table:
    """``table`` with ``columns`` inserted at position ``at``, in order."""
    import pyarrow as pa

    for offset, (name, values) in enumerate(columns):
        if name in table.column_names:
            raise ValidationError(
                f"The output column {name!r} already exists. Rename or drop it first, or "
                "choose another output name."
            )
        table = table.add_column(at + offset, pa.field(name, values.type), values)
    return table
