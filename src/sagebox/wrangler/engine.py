"""Running a flow's steps: streaming over the full data, or on a sample for a preview.

Streaming execution reads the source once and holds one batch per step at a time:

1. Fit. For each stateful step in order, the batches coming out of the steps before it
   are fed to its accumulator *and* spilled to a local Arrow file. Later stateful steps
   whose fit cannot be affected by the steps in between (they keep every row and change
   none of the columns the fit reads, as the transforms declare) are fitted on the same
   pass. Once fitted, the step
   is known, and the next fit (or the final pass) reads the spill instead of the source,
   so every fit sees exactly the output of the steps before it, yet the source (JSON
   parsing, S3 reads) is read only once. A spill file is deleted as soon as it is read.
2. Apply. The last spill (or the source, for a flow without stateful steps) streams
   through the remaining steps into the sink, batch by batch.

Memory is bounded by the batch size and the fitted states, except for the steps whose
docstrings state the bounded state they keep (drop duplicates: 8 bytes per distinct row).
Disk use is at most two spill files, each the size of one step's output.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from sagebox.errors import SageboxError, ValidationError
from sagebox.wrangler import registry
from sagebox.wrangler.transforms._base import State, Transform, as_table

if TYPE_CHECKING:
    from sagebox.store.objects import ObjectStore
    from sagebox.wrangler.flow import Flow


class StepFailed(ValidationError):
    """A step could not run on the data; the message names the step."""


def _failed(run: StepRun, error: SageboxError) -> StepFailed:
    return StepFailed(f"Step {run.id!r} ({run.type}): {error.message}")


class StepLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]: ...


@dataclass
class StepRun:
    """One step in a run: its transform, fitted state and row counts."""

    id: str
    type: str
    transform: Transform
    state: State | None = None
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0

    def report(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Type": self.type,
            "RowsIn": self.rows_in,
            "RowsOut": self.rows_out,
            "Seconds": round(self.seconds, 3),
            "State": self.state,
        }


@dataclass
class RunResult:
    steps: list[StepRun]
    rows_in: int = 0
    rows_out: int = 0
    spilled_rows: int = 0
    fit_passes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def states(self) -> dict[str, State | None]:
        return {s.id: s.state for s in self.steps}


@dataclass(frozen=True)
class StepPreview:
    """A step's output on the sample: its first rows and its schema."""

    step_id: str
    type: str
    table: pa.Table
    schema: pa.Schema
    rows: int  # rows the step produced from the whole sample
    state: State | None


def compile_steps(steps: Sequence[StepLike]) -> list[StepRun]:
    return [StepRun(s.id, s.type, registry.create(s.type, s.parameters)) for s in steps]


def split_outputs(runs: Sequence[StepRun]) -> tuple[str, list[str]] | None:
    """The split column and part names when the last ``split`` step makes separate outputs."""
    from sagebox.wrangler.transforms.split import SplitData

    for run in reversed(runs):
        if isinstance(run.transform, SplitData):
            return (
                (run.transform.output_column, run.transform.names)
                if (run.transform.mode == "outputs")
                else None
            )
    return None


def _staged(run: StepRun, tables: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """``run``'s transform over ``tables``, counting rows and naming the step in errors."""

    upstream = 0.0  # time spent in the steps before, to leave out of this step's time

    def counted() -> Iterator[pa.Table]:
        nonlocal upstream
        source = iter(tables)
        while True:
            started = time.perf_counter()
            table = next(source, None)
            upstream += time.perf_counter() - started
            if table is None:
                return
            run.rows_in += table.num_rows
            yield table

    outputs = run.transform.stream(counted(), run.state)
    while True:
        started, before = time.perf_counter(), upstream
        try:
            table = next(outputs)
        except StopIteration:
            return
        except StepFailed:
            raise
        except SageboxError as error:
            raise _failed(run, error) from None
        finally:
            run.seconds += time.perf_counter() - started - (upstream - before)
        run.rows_out += table.num_rows
        yield table


def _chain(runs: Sequence[StepRun], tables: Iterable[pa.Table]) -> Iterator[pa.Table]:
    stream: Iterable[pa.Table] = tables
    for run in runs:
        stream = _staged(run, stream)
    yield from stream


class _Spill:
    """Batches written to local Arrow IPC files (a new file when the schema changes)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.paths: list[Path] = []
        self.rows = 0
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None or not table.schema.equals(self._schema):
            self._close_writer()
            path = self.folder / f"{self.name}-{len(self.paths)}.arrow"
            self.paths.append(path)
            self._schema = table.schema
            self._writer = pa.ipc.new_stream(str(path), table.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def read(self) -> Iterator[pa.Table]:
        """Each batch once, then the files are gone (plain reads, no memory map, so
        memory stays one batch rather than the file's size)."""
        self._close_writer()
        for path in self.paths:
            with pa.OSFile(str(path)) as source:
                reader = pa.ipc.open_stream(source)
                for batch in reader:
                    yield pa.Table.from_batches([batch])
            path.unlink(missing_ok=True)


def _fit_along(runs: Sequence[StepRun], index: int, first: pa.Table | None) -> list[int]:
    """Later fitted steps that can be fitted on the same batches as step ``index``.

    Step k can when every step from ``index`` to k-1 keeps every row and declares the
    columns it changes, none of which step k's fit reads, and the columns it reads are all
    in the batches already: its fit then sees exactly what it would after those steps.
    """
    if first is None:
        return []
    present = set(first.column_names)
    touched: set[str] = set()
    together = []
    for k in range(index + 1, len(runs)):
        effects = runs[k - 1].transform.column_effects()
        if effects is None:
            break
        touched |= effects
        transform = runs[k].transform
        if transform.is_stateful():
            needed = transform.fit_columns()
            if needed is None or not needed <= present or needed & touched:
                break
            together.append(k)
    return together


def run_steps(
    runs: Sequence[StepRun],
    batches: Iterable[pa.Table | pa.RecordBatch],
    sink: Callable[[pa.Table], None],
    *,
    spill_dir: str | Path | None = None,
) -> RunResult:
    """Fit every stateful step, then stream all batches through every step into ``sink``.

    ``runs`` come from :func:`compile_steps`; ``batches`` is iterated once. Returns the
    fitted states and per-step row counts (also kept on the runs).
    """
    started = time.perf_counter()
    result = RunResult(list(runs))

    def source() -> Iterator[pa.Table]:
        for batch in batches:
            table = as_table(batch)
            result.rows_in += table.num_rows
            yield table

    with tempfile.TemporaryDirectory(prefix="sagebox-flow-", dir=spill_dir) as folder:
        current: Iterator[pa.Table] = source()
        pending: list[StepRun] = []
        fitted: set[int] = set()
        for index, run in enumerate(runs):
            if not run.transform.is_stateful() or index in fitted:
                pending.append(run)
                continue
            spill = _Spill(Path(folder), f"before-{index}")
            chain = _chain(pending, current)
            first = next(chain, None)
            group = [index, *_fit_along(runs, index, first)]
            accumulators = [(runs[i], runs[i].transform.accumulator()) for i in group]
            for table in itertools.chain([first] if first is not None else [], chain):
                for owner, accumulator in accumulators:
                    try:
                        accumulator.update(table)
                    except SageboxError as error:
                        raise _failed(owner, error) from None
                spill.write(table)
            for owner, accumulator in accumulators:
                owner.state = accumulator.finish()
            fitted.update(group)
            result.fit_passes += 1
            result.spilled_rows += spill.rows
            current = spill.read()
            pending = [run]
        for table in _chain(pending, current):
            result.rows_out += table.num_rows
            sink(table)
    result.seconds = time.perf_counter() - started
    return result


def preview_table(
    steps: Sequence[StepLike], sample: pa.Table, rows: int = 100
) -> list[StepPreview]:
    """Each step's output on ``sample`` (stateful steps are fitted on the sample itself)."""
    previews = []
    table = sample
    for run in compile_steps(steps):
        if run.transform.is_stateful():
            try:
                run.state = run.transform.fit(table)
            except SageboxError as error:
                raise _failed(run, error) from None
        outputs = list(_staged(run, [table]))
        table = pa.concat_tables(outputs) if len(outputs) != 1 else outputs[0]
        head = table.slice(0, rows)
        previews.append(
            StepPreview(run.id, run.type, head, table.schema, table.num_rows, run.state)
        )
    return previews


def read_sample(flow: Flow, store: ObjectStore, rows: int) -> pa.Table:
    """The first ``rows`` rows of the flow's source (only the first files are read)."""
    from sagebox.data.readers import read_batches

    if rows < 1:
        raise ValidationError(f"rows must be at least 1; got {rows}.")
    policy = "skip" if flow.error_policy == "quarantine" else flow.error_policy
    batches = read_batches(store, flow.source, batch_rows=rows, on_error=policy)
    try:
        first = next(batches, None)
    finally:
        batches.close()  # type: ignore[attr-defined]
    if first is None:
        raise ValidationError(f"The source {flow.source.uri} has no rows to preview.")
    return as_table(first)


def preview_steps(flow: Flow, store: ObjectStore, rows: int = 100) -> list[StepPreview]:
    """Each step's output on the first ``rows`` rows of the source."""
    return preview_table(flow.steps, read_sample(flow, store, rows), rows)
