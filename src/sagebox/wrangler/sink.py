"""Where a flow's output batches go: one streaming writer per output part.

Without a split the output is one object under the output prefix; when the flow ends in
a ``split`` step with ``mode="outputs"`` each part (train, test ...) is written under
``<prefix>/<part>/`` without the split column. Each part streams through
:func:`sagebox.data.writers.write_table` in its own thread, fed by a small bounded queue,
so memory stays a few batches whatever the size of the data.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.data.writers import write_table
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectStore

_DONE = object()
_QUEUE_BATCHES = 1


@dataclass
class _Part:
    name: str | None
    uri: str
    rows: int = 0
    keys: list[str] = field(default_factory=list)
    queue: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(_QUEUE_BATCHES))
    thread: threading.Thread | None = None
    error: BaseException | None = None


class OutputSink:
    """Writes batches to ``base_uri`` (a prefix) as ``format``; call ``close`` at the end."""

    def __init__(
        self,
        store: ObjectStore,
        base_uri: str,
        format: str,
        *,
        label_column: str | None = None,
        split: tuple[str, list[str]] | None = None,
    ) -> None:
        self.store = store
        self.base = base_uri.rstrip("/") + "/"
        self.format = format
        self.label_column = label_column
        self.split = split
        names: list[str | None] = list(split[1]) if split else [None]
        self.parts = {n: _Part(n, self.base + (f"{n}/" if n else "")) for n in names}
        self.schema: pa.Schema | None = None

    def _writer(self, part: _Part) -> None:
        def batches() -> Iterator[pa.Table]:
            while (item := part.queue.get()) is not _DONE:
                yield item

        try:
            part.keys = write_table(
                self.store,
                part.uri,
                batches(),
                self.format,  # type: ignore[arg-type]
                csv_header=self.label_column is None,
                label_first=self.label_column,
            )
        except BaseException as error:
            part.error = error
            while part.queue.get() is not _DONE:  # drain, so the producer never blocks
                pass

    def _send(self, part: _Part, table: pa.Table) -> None:
        if part.thread is None:
            part.thread = threading.Thread(target=self._writer, args=(part,), daemon=True)
            part.thread.start()
        if part.error is not None:
            raise part.error
        part.queue.put(table)
        part.rows += table.num_rows

    def _conform(self, table: pa.Table) -> pa.Table:
        """One schema for every batch of a file: the first batch's."""
        if self.schema is None:
            self.schema = table.schema
            return table
        if table.schema.equals(self.schema):
            return table
        try:
            return table.select(self.schema.names).cast(self.schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            raise ValidationError(
                "The flow's output schema changed between batches (first "
                f"{self.schema}, then {table.schema}), so it cannot be one file. Make the "
                "steps give fixed columns and types (a 'cast' step after custom code helps)."
            ) from None

    def write(self, table: pa.Table) -> None:
        if self.split is None:
            self._send(self.parts[None], self._conform(table))
            return
        column, names = self.split
        found = pc.index_in(table.column(column), value_set=pa.array(names, pa.string()))
        index = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False))
        rest = self._conform(table.drop_columns([column]))
        for number, name in enumerate(names):
            rows = np.flatnonzero(index == number)
            if len(rows):
                self._send(self.parts[name], rest.take(pa.array(rows)))

    def abort(self) -> None:
        """Stop every writer after a failure elsewhere (what they wrote is not complete)."""
        for part in self.parts.values():
            if part.thread is not None:
                part.queue.put(_DONE)
                part.thread.join()

    def close(self) -> dict[str, dict[str, Any]]:
        """Finish every part (an empty part gets a file with just the schema); returns
        ``{part: {"Rows", "Keys"}}`` (part ``"data"`` without a split)."""
        for part in self.parts.values():
            if part.thread is None and self.schema is not None:
                self._send(part, self.schema.empty_table())
            if part.thread is not None:
                part.queue.put(_DONE)
                part.thread.join()
        errors = [p.error for p in self.parts.values() if p.error is not None]
        if errors:
            error = errors[0]
            if isinstance(error, ValidationError):
                raise error
            raise ValidationError(f"Writing the output failed: {error!r}") from error
        return {(p.name or "data"): {"Rows": p.rows, "Keys": p.keys} for p in self.parts.values()}
