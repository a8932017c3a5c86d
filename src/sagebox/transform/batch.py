"""The program each transform-job instance runs: its input files through the model.

``python -m sagebox.transform.batch SETTINGS MODEL_DIR DATA_DIR OUTPUT_DIR [MANIFEST_DIR]``
(container paths under ``/opt/ml``, mapped by the job runner). It unpacks the staged
model, loads it ``MaxConcurrentTransforms`` times (:mod:`sagebox.transform.pool`), then
for each input file, in S3 key order, sends its requests (:mod:`~sagebox.transform.records`)
with that many in flight and writes the answers to ``<file>.out`` strictly in input
order (:mod:`~sagebox.transform.assemble`). A record that cannot be sent, or a request
the model fails (after ``InvocationsMaxRetries`` retries of a 5xx or a timeout), ends
the job with ``/opt/ml/output/failure`` naming the file and the record.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sagebox.transform.assemble import Assembler
from sagebox.transform.filters import CsvPath, JsonPath, parse_filter
from sagebox.transform.pool import Answer, InvocationTimeout, Invoker, make_invoker
from sagebox.transform.records import Piece, RecordError, open_input, pieces
from sagebox.transform.settings import BatchSettings, media_family

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"


class TransformFailure(Exception):
    """Ends the job; the message becomes its FailureReason. ``client``: the data or the
    request is at fault (AWS's ``ClientError``), not the model."""

    def __init__(self, message: str, *, client: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.client = client


@dataclass(frozen=True)
class InputFile:
    path: Path
    name: str  # the key relative to the input prefix: the output is <name>.out
    uri: str  # for messages


@dataclass
class _Output:
    source: InputFile
    handle: BinaryIO
    records: int = 0
    started: float = 0.0


# ---- preparing the instance ---------------------------------------------------------------


def _extract(archive: Path, destination: Path, what: str) -> None:
    from sagebox import archives

    def refused(member: str, problem: str) -> Exception:
        return TransformFailure(
            f"Refusing the {what} {archive.name}: member {member!r} {problem}. Pack plain "
            "files only (tar -czf model.tar.gz -C model .)."
        )

    def unreadable(reason: str) -> Exception:
        return TransformFailure(f"The {what} {archive.name} is not a readable tar.gz: {reason}.")

    archives.safe_extract(archive, destination, refused, unreadable)
    archive.unlink()  # a read-only link to the object store's file: only the link goes


def prepare_model(model_dir: Path, settings: BatchSettings) -> dict[str, str]:
    """Unpack the staged model (and source directory); the environment handlers get."""
    if settings.model_archive:
        _extract(model_dir / settings.model_archive, model_dir, "model data")
    code = model_dir / "code"
    if settings.code_archive:
        _extract(code / settings.code_archive, code, "source directory")
    environment = dict(os.environ)
    if settings.code_staged:
        environment[SUBMIT_DIRECTORY] = str(code)
    return environment


def input_files(
    data_dir: Path, manifest_dir: Path | None, settings: BatchSettings
) -> list[InputFile]:
    """This instance's input files in key order, with the names their outputs take."""
    base_key, base_uri = "", settings.input_uri.rstrip("/")
    if settings.manifest and manifest_dir is not None:
        manifest = next(p for p in sorted(manifest_dir.rglob("*")) if p.is_file())
        prefix = json.loads(manifest.read_text())[0]["prefix"]
        base_uri = prefix.rstrip("/")
        base_key = prefix.split("/", 3)[3] if prefix.count("/") >= 3 else ""
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        name = path.relative_to(data_dir).as_posix()
        if base_key and name.startswith(base_key):
            name = name[len(base_key) :].lstrip("/")
        uri = base_uri if base_uri.endswith("/" + name) else f"{base_uri}/{name}"
        found.append(InputFile(path, name, uri))
    return found


# ---- running ------------------------------------------------------------------------------


class Transformer:
    """Sends one instance's files through an invoker, writing answers in input order."""

    def __init__(
        self,
        settings: BatchSettings,
        invoker: Invoker,
        output_dir: Path,
        input_filter: CsvPath | JsonPath,
        assembler: Assembler,
    ) -> None:
        self.settings = settings
        self.invoker = invoker
        self.output_dir = output_dir
        self.input_filter = input_filter
        self.assembler = assembler
        self.depth = max(2, 2 * settings.max_concurrent)  # requests in flight or queued
        self.window: deque[tuple[Piece | None, Future[Answer] | None, _Output]] = deque()
        self.records = 0
        self.bytes_in = 0

    def run(self, files: Sequence[InputFile]) -> None:
        for source in files:
            target = self.output_dir / f"{source.name}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            output = _Output(source, target.open("wb"), started=time.monotonic())
            with open_input(source.path, self.settings.compression) as stream:
                for piece in self._pieces(stream, source):
                    self.bytes_in += len(piece.body)
                    self.window.append((piece, self._submit(piece, source), output))
                    while len(self.window) >= self.depth:
                        self._drain_one()
            self.window.append((None, None, output))  # close it once all before are written
        while self.window:
            self._drain_one()

    def _submit(self, piece: Piece, source: InputFile) -> Future[Answer]:
        where = None
        if piece.offset is not None and self.settings.compression != "Gzip":
            where = (str(source.path), piece.offset)  # the body as it lies in the file
        return self.invoker.submit(piece.body, where)

    def _pieces(self, stream: BinaryIO, source: InputFile) -> Iterator[Piece]:
        try:
            yield from pieces(stream, self.settings, self.input_filter)
        except RecordError as exc:
            raise TransformFailure(f"{source.uri}: {exc.message}") from None
        except OSError as exc:  # a corrupt gzip file, a read error
            raise TransformFailure(
                f"Could not read {source.uri}: {exc}. With CompressionType Gzip every input "
                "object must be gzip-compressed."
            ) from None

    def _drain_one(self) -> None:
        piece, future, output = self.window.popleft()
        if piece is None or future is None:
            output.handle.close()
            seconds = time.monotonic() - output.started
            print(
                f"transform: {output.source.uri} -> {output.source.name}.out: "
                f"{output.records} records in {seconds:.2f} s",
                flush=True,
            )
            return
        body = self._answer(piece, future, output.source)
        try:
            rendered = self.assembler.render(piece, body)
        except RecordError as exc:
            raise TransformFailure(f"{output.source.uri}: {exc.message}") from None
        output.handle.write(rendered)
        output.records += piece.count
        self.records += piece.count

    def _answer(self, piece: Piece, future: Future[Answer], source: InputFile) -> bytes:
        from concurrent.futures.process import BrokenProcessPool

        from sagebox.serving.errors import ModelError

        retries = self.settings.invocation_max_retries
        attempt = 0
        while True:
            try:
                return self._wait(future)[0]
            except ModelError as exc:
                if exc.status < 500 or attempt >= retries:
                    raise TransformFailure(
                        self._model_failed(piece, source, exc), client=exc.status < 500
                    ) from None
                reason = f"{exc.status}: {exc.message}"
            except InvocationTimeout:
                if attempt >= retries:
                    raise TransformFailure(
                        f"{source.uri}: the model did not answer the records {_span(piece)} "
                        f"within InvocationsTimeoutInSeconds "
                        f"({self.settings.invocation_timeout_seconds} s), {attempt + 1} "
                        "time(s). Raise ModelClientConfig.InvocationsTimeoutInSeconds (at most "
                        "3600), or send fewer records a request (MaxPayloadInMB).",
                        client=False,
                    ) from None
                reason = "timed out"
            except BrokenProcessPool:
                raise TransformFailure(
                    f"{source.uri}: a model worker process died while answering the records "
                    f"{_span(piece)} (killed, or out of memory: the instance type's memory is "
                    "shared by MaxConcurrentTransforms workers). Use fewer concurrent "
                    "transforms, a smaller MaxPayloadInMB, or an instance type with more memory.",
                    client=False,
                ) from None
            attempt += 1
            print(
                f"transform: retrying records {_span(piece)} of {source.uri} "
                f"({attempt}/{retries}) after: {reason}",
                flush=True,
            )
            future = self._submit(piece, source)

    def _wait(self, future: Future[Answer]) -> Answer:
        while True:
            try:
                return future.result(timeout=0.5)
            except FutureTimeout:
                if self.invoker.overdue(future):
                    raise InvocationTimeout from None

    def _model_failed(self, piece: Piece, source: InputFile, exc: Exception) -> str:
        status = getattr(exc, "status", 500)
        message = getattr(exc, "message", str(exc))
        hint = ""
        if status == 415 and not self.settings.content_type:
            hint = " Set TransformInput.ContentType (text/csv, application/json ...)."
        return (
            f"{source.uri}: the model answered {status} for the records {_span(piece)}: "
            f"{message}{hint}"
        )


def _span(piece: Piece) -> str:
    if piece.count == 1:
        return f"at line {piece.first_line}"
    return f"at lines {piece.first_line} to about {piece.first_line + piece.count - 1}"


# ---- the program ---------------------------------------------------------------------------


def _fail(output_dir: Path, message: str, client: bool) -> int:
    if client:
        message = f"ClientError: {message}"
    failure = output_dir.parent / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message + "\n")
    print(f"transform: failed: {message}", file=sys.stderr, flush=True)
    return 1


def run(argv: Sequence[str]) -> int:
    settings_path, model_dir, data_dir, output_dir = (Path(a) for a in argv[:4])
    manifest_dir = Path(argv[4]) if len(argv) > 4 else None
    settings = BatchSettings.from_json(settings_path.read_text())
    output_dir.mkdir(parents=True, exist_ok=True)
    from sagebox.serving.errors import ModelLoadError

    try:
        environment = prepare_model(model_dir, settings)
        files = input_files(data_dir, manifest_dir, settings)
        input_filter = parse_filter(
            settings.input_filter, media_family(settings.content_type), "InputFilter"
        )
        output_filter = parse_filter(
            settings.output_filter, media_family(settings.output_type), "OutputFilter"
        )
        cpus = int(os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1)
        started = time.monotonic()
        invoker = make_invoker(
            model_dir,
            environment,
            slots=settings.max_concurrent,
            workers=os.environ.get("SAGEBOX_TRANSFORM_WORKERS") or settings.workers,
            content_type=settings.content_type or "",
            accept=settings.accept,
            timeout=settings.invocation_timeout_seconds,
            cpus=cpus,
        )
        loaded = time.monotonic()
        print(
            f"transform: model loaded into {settings.max_concurrent} slot(s) in "
            f"{loaded - started:.2f} s; {len(files)} file(s) to transform",
            flush=True,
        )
        transformer = Transformer(
            settings, invoker, output_dir, input_filter, Assembler(settings, output_filter)
        )
        try:
            transformer.run(files)
        finally:
            invoker.close()
    except ModelLoadError as exc:
        return _fail(output_dir, f"Could not load the model: {exc.message}", client=False)
    except TransformFailure as exc:
        return _fail(output_dir, exc.message, exc.client)
    seconds = max(time.monotonic() - loaded, 1e-9)
    print(
        f"transform: {transformer.records} records, {transformer.bytes_in / 1e6:.1f} MB in "
        f"{seconds:.2f} s: throughput={transformer.records / seconds:.1f} records/s",
        flush=True,
    )
    return 0


def main() -> None:
    code = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # A thread stuck in a model that timed out must not keep the instance alive.
    os._exit(code)


if __name__ == "__main__":
    main()
