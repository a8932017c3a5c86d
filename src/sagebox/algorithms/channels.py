"""Reading training channels the way SageMaker's built-in algorithms do.

Content types: ``text/csv`` (label in the first column, no header), ``text/libsvm``
(``<label> <index>:<value> ...``) and ``application/x-parquet`` (first column the label).
gzip is detected by content. A channel is either a folder of files (File and FastFile
mode: ``$SM_CHANNEL_<NAME>``) or, in Pipe mode, one FIFO per epoch beside it
(``/opt/ml/input/data/<name>_<epoch>``) that streams the channel's objects while
training runs; every reader here takes either.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sagebox.errors import ValidationError

__all__ = [
    "CONTENT_TYPES",
    "Dataset",
    "channel_config",
    "channel_sources",
    "combine",
    "content_type",
    "csv_dataset",
    "has_channel",
    "iter_batches",
    "match_width",
    "open_text",
    "read_channel",
    "read_file",
]

CONTENT_TYPES = ("text/csv", "text/libsvm", "application/x-parquet")
_ALIASES = {"csv": "text/csv", "libsvm": "text/libsvm", "parquet": "application/x-parquet"}


@dataclass(frozen=True)
class Dataset:
    """Features (dense float32 ndarray or scipy CSR) and labels read from a channel."""

    features: Any
    labels: Any

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])


def channel_dir(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}") or f"/opt/ml/input/data/{name}")


def _pipe(name: str, epoch: int) -> Path:
    return channel_dir(name).parent / f"{name}_{epoch}"


def is_pipe(name: str) -> bool:
    """Whether the channel streams through FIFOs (Pipe mode)."""
    path = _pipe(name, 0)
    try:
        return stat.S_ISFIFO(path.stat().st_mode)
    except OSError:
        return False


def has_channel(name: str, config: dict[str, Any] | None = None) -> bool:
    return bool(config and name in config) or channel_dir(name).is_dir() or is_pipe(name)


def channel_config(config_dir: Path) -> dict[str, Any]:
    """``inputdataconfig.json``: channel name -> its ContentType, input mode, ..."""
    path = config_dir / "inputdataconfig.json"
    try:
        value = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON ({exc}); fix the file.") from None
    return value if isinstance(value, dict) else {}


def content_type(config: dict[str, Any], channel: str, who: str, default: str) -> str:
    """The channel's content type, normalised; refused when ``who`` cannot read it."""
    raw = (config.get(channel) or {}).get("ContentType") or default
    base = str(raw).split(";")[0].strip().lower()
    base = _ALIASES.get(base, base)
    if base not in CONTENT_TYPES:
        raise ValidationError(
            f"The {channel!r} channel has content type {raw!r}, which {who} cannot read. "
            f"Use one of {', '.join(CONTENT_TYPES)}."
        )
    return base


def channel_sources(name: str, epoch: int = 0) -> list[Path]:
    """What to read for one pass over a channel: its FIFO for ``epoch``, or its files."""
    if is_pipe(name):
        pipe = _pipe(name, epoch)
        if not pipe.exists():
            raise ValidationError(f"Pipe-mode channel {name!r} has no FIFO for epoch {epoch}.")
        return [pipe]
    directory = channel_dir(name)
    files = sorted(  # a missing folder globs to nothing; hidden files are not data
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.stat().st_size > 0
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not files:
        raise ValidationError(
            f"The {name!r} channel at {directory} holds no data: "
            f"upload at least one non-empty file to its S3 prefix."
        )
    return files


def _open_binary(path: Path) -> IO[bytes]:
    raw = io.BufferedReader(open(path, "rb"))  # noqa: SIM115 - closed by the caller
    if raw.peek(2)[:2] == b"\x1f\x8b":  # peek works on FIFOs, where seeking does not
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8")


# --- one reader per content type ------------------------------------------------------


def csv_dataset(frame: Any, source: str, who: str, first_row: int) -> Dataset:
    import pandas as pd

    text = frame.apply(lambda column: column.str.strip())
    numeric = text.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (text != "")
    if first_row == 0 and frame.shape[1] > 1 and bool(bad.iloc[0, 1:].any()):
        header_like = len(frame) == 1 or not bool(bad.iloc[1, 1:][bad.iloc[0, 1:]].any())
        if header_like:
            raise ValidationError(
                f"The CSV has a header; SageMaker's {who} expects none: remove it, or "
                f"write the file without one (pandas: to_csv(header=False, index=False)). "
                f"File {source} starts with {', '.join(frame.iloc[0, :4])}."
            )
    for row, column in zip(*bad.to_numpy().nonzero(), strict=True):
        value = frame.iat[row, column]
        if column == 0:
            raise ValidationError(
                f"Non-numeric label {value!r} in row {first_row + row + 1} of {source}: {who} "
                f"reads the label from the first column, a number; encode classes as 0..n-1."
            )
        raise ValidationError(
            f"Non-numeric value {value!r} in row {first_row + row + 1}, column {column + 1} of "
            f"{source}: {who} needs numeric features; encode it, or leave the cell empty for "
            f"missing."
        )
    labels = numeric.iloc[:, 0]
    if bool(labels.isna().any()):
        row = int(labels.isna().to_numpy().nonzero()[0][0])
        raise ValidationError(
            f"Missing label in row {first_row + row + 1} of {source}: every row needs one."
        )
    return Dataset(numeric.iloc[:, 1:].to_numpy(dtype="float32"), labels.to_numpy("float32"))


class _NotNumeric(Exception):
    """The fast CSV path met something it cannot judge; the checked path explains it."""


def _arrow_dataset(batch: Any, source: str, first_row: int) -> Dataset:
    import numpy as np
    import pyarrow as pa

    for column in batch.columns:
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            raise _NotNumeric
    columns = [
        np.asarray(c.to_numpy(zero_copy_only=False), dtype="float32")
        if not pa.types.is_null(c.type)
        else np.full(len(c), np.nan, dtype="float32")
        for c in batch.columns
    ]
    labels = columns[0]
    missing = np.isnan(labels)
    if missing.any():
        row = first_row + int(missing.nonzero()[0][0]) + 1
        raise ValidationError(f"Missing label in row {row} of {source}: every row needs one.")
    features = np.column_stack(columns[1:]) if len(columns) > 1 else np.empty((len(labels), 0))
    return Dataset(features.astype("float32", copy=False), labels)


def _iter_csv_fast(path: Path, rows: int | None, done: list[int]) -> Iterator[Dataset]:
    """pyarrow's multithreaded reader: all-numeric CSV at full speed, streamed in blocks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24)
    with _open_binary(path) as fh:
        try:
            if rows is None:
                table = pacsv.read_csv(fh, read_options=options)
                if table.num_rows:
                    yield _arrow_dataset(table, path.name, 0)
                    done[0] += table.num_rows
                return
            reader = pacsv.open_csv(fh, read_options=options)
            for batch in reader:
                for start in range(0, batch.num_rows, rows):
                    part = batch.slice(start, rows)
                    yield _arrow_dataset(part, path.name, done[0])
                    done[0] += part.num_rows
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise _NotNumeric from exc


def _iter_csv_checked(path: Path, who: str, rows: int | None, skip: int) -> Iterator[Dataset]:
    """pandas over strings: slower, but names the row, column and value that is wrong."""
    import pandas as pd

    with open_text(path) as fh:
        try:
            reader = pd.read_csv(
                fh, header=None, dtype=str, keep_default_na=False, chunksize=rows or 1 << 62
            )
            done = 0
            for frame in reader:
                data = csv_dataset(frame, path.name, who, done)
                done += len(frame)
                if done <= skip:
                    continue
                cut = max(0, skip - (done - len(frame)))
                yield Dataset(data.features[cut:], data.labels[cut:]) if cut else data
        except pd.errors.EmptyDataError:
            return
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Cannot parse CSV file {path.name}: {exc}.") from None


def _iter_csv(path: Path, who: str, rows: int | None) -> Iterator[Dataset]:
    done = [0]
    try:
        yield from _iter_csv_fast(path, rows, done)
        return
    except _NotNumeric as exc:
        if not path.is_file():  # a Pipe-mode FIFO cannot be read twice
            cause = str(exc.__cause__ or "a non-numeric value").splitlines()[0]
            raise ValidationError(
                f"Cannot read the CSV stream {path.name} as numbers ({cause}). {who} expects "
                f"a numeric label in the first column, numeric features and no header."
            ) from None
    # Read again, checking every cell, from where the fast path stopped.
    yield from _iter_csv_checked(path, who, rows, done[0])


def _iter_parquet(path: Path, who: str, rows: int | None) -> Iterator[Dataset]:
    import pyarrow.parquet as pq

    try:
        with _open_binary(path) as fh:
            source: Any = fh if path.is_file() else io.BytesIO(fh.read())
            parquet = pq.ParquetFile(source)
            for batch in parquet.iter_batches(batch_size=rows or 65536):
                frame = batch.to_pandas()
                if frame.empty:
                    continue
                yield _parquet_dataset(frame, path.name, who)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(f"Cannot read Parquet file {path.name}: {exc}.") from None


def _parquet_dataset(frame: Any, source: str, who: str) -> Dataset:
    import pandas as pd

    non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValidationError(
            f"Parquet file {source} has non-numeric column(s) {', '.join(non_numeric)}: "
            f"{who} needs a numeric label (first column) and numeric features."
        )
    values = frame.to_numpy(dtype="float32")
    return Dataset(values[:, 1:], values[:, 0])


def _iter_libsvm(path: Path, who: str, rows: int | None) -> Iterator[Dataset]:
    import numpy as np
    from scipy.sparse import csr_matrix

    labels: list[float] = []
    indptr: list[int] = [0]
    indices: list[int] = []
    data: list[float] = []

    def flush() -> Dataset:
        width = max(indices, default=-1) + 1
        shape = (len(labels), width)
        features = csr_matrix((np.asarray(data, "float32"), indices, indptr), shape)
        return Dataset(features, np.asarray(labels, "float32"))

    with open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            try:
                labels.append(float(tokens[0].split(":")[0]))
                for token in tokens[1:]:
                    key, value = token.split(":", 1)
                    if key != "qid":
                        indices.append(int(key))
                        data.append(float(value))
            except ValueError:
                raise ValidationError(
                    f"Line {number} of {path.name} is not LIBSVM ('<label> <index>:<value> ...'): "
                    f"{line.strip()[:80]!r}."
                ) from None
            indptr.append(len(indices))
            if rows and len(labels) >= rows:
                yield flush()
                labels, indptr, indices, data = [], [0], [], []
    if labels:
        yield flush()


_READERS = {
    "text/csv": _iter_csv,
    "text/libsvm": _iter_libsvm,
    "application/x-parquet": _iter_parquet,
}


def combine(parts: list[Dataset], content: str, what: str) -> Dataset:
    import numpy as np
    import scipy.sparse as sp

    labels = np.concatenate([p.labels for p in parts])
    if content == "text/libsvm":
        width = max(p.features.shape[1] for p in parts)
        for p in parts:
            p.features.resize((p.features.shape[0], width))
        return Dataset(sp.vstack([p.features for p in parts]).tocsr(), labels)
    widths = {p.features.shape[1] for p in parts}
    if len(widths) > 1:
        raise ValidationError(
            f"The files of {what} have different numbers of columns ({sorted(widths)}); "
            f"every file needs the label plus the same features."
        )
    return Dataset(np.vstack([p.features for p in parts]), labels)


def match_width(data: Dataset, width: int, name: str) -> None:
    """Widen a sparse channel to ``train``'s ``width`` features (a LIBSVM file need not name
    the last one); refuse any other difference in the number of features."""
    features = data.features
    if hasattr(features, "tocsr") and features.shape[1] < width:  # sparse (LIBSVM) only
        features.resize((features.shape[0], width))
    if features.shape[1] != width:
        raise ValidationError(
            f"The {name!r} channel has {features.shape[1]} features but 'train' has "
            f"{width}; both need the same columns."
        )


def read_file(path: Path, content: str, who: str = "the algorithm") -> Dataset:
    """All rows of one file (or FIFO) of ``content`` type."""
    parts = list(_READERS[content](path, who, None))
    if not parts:
        raise ValidationError(f"{path.name} holds no rows of {content}.")
    return combine(parts, content, path.name)


def read_channel(name: str, content: str, who: str, epoch: int = 0) -> Dataset:
    """All rows of a channel, in file-name order (one pass: ``epoch`` in Pipe mode)."""
    reader = _READERS[content]
    parts = [d for source in channel_sources(name, epoch) for d in reader(source, who, None)]
    if not parts:
        raise ValidationError(f"The {name!r} channel holds files but no rows of {content}.")
    return combine(parts, content, f"the {name!r} channel")


def iter_batches(name: str, content: str, who: str, rows: int, epoch: int = 0) -> Iterator[Dataset]:
    """One pass over a channel in batches of at most ``rows`` rows, never all in memory."""
    for source in channel_sources(name, epoch):
        yield from _READERS[content](source, who, rows)
