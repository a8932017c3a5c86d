"""Data capture: sampled requests and responses of an endpoint, in SageMaker's format.

An endpoint config's ``DataCaptureConfig`` becomes a :class:`CaptureConfig`. For each
invocation the router calls :meth:`CaptureWriter.offer`, which decides the sample
(``InitialSamplingPercentage``) and queues the raw bytes; a background thread turns
them into SageMaker's capture records (``captureData.endpointInput`` /
``endpointOutput`` with ``observedContentType``, ``mode``, ``data``, ``encoding``;
``eventMetadata``; ``eventVersion`` "0") and writes JSON-lines objects through the
home's object store at

    <DestinationS3Uri>/<EndpointName>/<VariantName>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl

one object per endpoint, variant and hour per flush: every few seconds, when a buffer
passes its size limit, and at exit. ``encoding`` is ``CSV`` or ``JSON`` for content
types listed in ``CaptureContentTypeHeader`` (``CsvContentTypes`` / ``JsonContentTypes``,
matched on the media type), ``BASE64`` otherwise, as SageMaker does.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagebox.home import Home
    from sagebox.store.objects import ObjectStore

__all__ = ["CaptureConfig", "CaptureWriter", "capture_record", "writer"]

log = logging.getLogger("sagebox.serving.capture")

FLUSH_SECONDS = 5.0
MAX_BUFFER_BYTES = 4 * 1024 * 1024  # a flush starts early past this much pending data


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CaptureConfig:
    """An endpoint's data capture settings, from the API's ``DataCaptureConfig``."""

    destination: str  # s3://bucket/prefix, no trailing slash
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str] = frozenset()
    json_types: frozenset[str] = frozenset()

    @classmethod
    def from_api(cls, config: Mapping[str, Any] | None) -> CaptureConfig | None:
        """None when there is no config or ``EnableCapture`` is false."""
        if not config or not config.get("EnableCapture", True):
            return None
        modes = {str(o.get("CaptureMode")) for o in config.get("CaptureOptions", [])}
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=str(config["DestinationS3Uri"]).rstrip("/"),
            sampling_percentage=int(config.get("InitialSamplingPercentage", 100)),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            csv_types=frozenset(_media_type(t) for t in header.get("CsvContentTypes", [])),
            json_types=frozenset(_media_type(t) for t in header.get("JsonContentTypes", [])),
        )

    def sampled(self) -> bool:
        """Whether to capture one more invocation."""
        percentage = self.sampling_percentage
        return percentage >= 100 or (percentage > 0 and random.random() * 100 < percentage)

    def encoding(self, content_type: str) -> str:
        media = _media_type(content_type)
        if media in self.csv_types:
            return "CSV"
        if media in self.json_types:
            return "JSON"
        return "BASE64"


@dataclass(frozen=True)
class _Event:
    config: CaptureConfig
    endpoint: str
    variant: str
    when: float  # epoch seconds
    event_id: str
    request: bytes
    request_type: str
    response: bytes | None
    response_type: str | None
    inference_id: str | None
    custom_attributes: str | None

    @property
    def size(self) -> int:
        return len(self.request) + len(self.response or b"") + 256


def _payload(data: bytes, content_type: str, mode: str, encoding: str) -> dict[str, str]:
    text: str | None = None
    if encoding != "BASE64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # not the text its type claims: keep it exactly
            encoding = "BASE64"
    if text is None:
        text = base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def capture_record(
    config: CaptureConfig,
    *,
    event_id: str,
    when: float,
    request: bytes,
    request_type: str,
    response: bytes | None = None,
    response_type: str | None = None,
    inference_id: str | None = None,
    custom_attributes: str | None = None,
) -> dict[str, Any]:
    """One line of a capture file, as SageMaker writes it."""
    data: dict[str, Any] = {}
    if config.capture_input:
        encoding = config.encoding(request_type)
        data["endpointInput"] = _payload(request, request_type, "INPUT", encoding)
    if config.capture_output and response is not None and response_type is not None:
        encoding = config.encoding(response_type)
        data["endpointOutput"] = _payload(response, response_type, "OUTPUT", encoding)
    metadata: dict[str, Any] = {"eventId": event_id}
    if inference_id:
        metadata["inferenceId"] = inference_id
    if custom_attributes:
        metadata["customAttributes"] = custom_attributes
    metadata["inferenceTime"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}


class CaptureWriter:
    """Queues sampled invocations and writes them in the background. Thread-safe."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_buffer_bytes: int = MAX_BUFFER_BYTES,
    ) -> None:
        self._objects = objects
        self._flush_seconds = flush_seconds
        self._max_buffer = max_buffer_bytes
        self._lock = threading.Lock()
        self._pending: list[_Event] = []
        self._pending_bytes = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._writing = threading.Lock()
        self._warned: set[str] = set()

    def offer(
        self,
        config: CaptureConfig,
        endpoint: str,
        variant: str,
        *,
        request: bytes,
        request_type: str,
        response: bytes | None,
        response_type: str | None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
        when: float | None = None,
    ) -> bool:
        """Capture this invocation if it falls in the sample; True when it does."""
        if not config.sampled():
            return False
        event = _Event(
            config,
            endpoint,
            variant,
            time.time() if when is None else when,
            str(uuid.uuid4()),
            request,
            request_type,
            response,
            response_type,
            inference_id,
            custom_attributes,
        )
        self._start()
        with self._lock:
            self._pending.append(event)
            self._pending_bytes += event.size
            full = self._pending_bytes >= self._max_buffer
        if full:
            self._wake.set()
        return True

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._writing:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="sagebox-capture", daemon=True)
                self._thread = thread
                thread.start()
                _register_exit(self)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never kill the thread: what failed is logged and dropped
                log.exception("writing captured data failed")

    def flush(self) -> None:
        """Write everything queued so far, one object per endpoint, variant and hour."""
        with self._lock:
            events, self._pending, self._pending_bytes = self._pending, [], 0
        if not events:
            return
        files: dict[tuple[str, str, str, str], list[_Event]] = {}
        for event in events:
            hour = time.strftime("%Y/%m/%d/%H", time.gmtime(event.when))
            key = (event.config.destination, event.endpoint, event.variant, hour)
            files.setdefault(key, []).append(event)
        with self._writing:
            for (destination, endpoint, variant, hour), group in files.items():
                self._write(destination, endpoint, variant, hour, group)

    def _write(
        self, destination: str, endpoint: str, variant: str, hour: str, events: list[_Event]
    ) -> None:
        from sagebox.errors import SageboxError
        from sagebox.store.objects.uri import parse_s3_uri

        lines = [
            json.dumps(
                capture_record(
                    e.config,
                    event_id=e.event_id,
                    when=e.when,
                    request=e.request,
                    request_type=e.request_type,
                    response=e.response,
                    response_type=e.response_type,
                    inference_id=e.inference_id,
                    custom_attributes=e.custom_attributes,
                ),
                separators=(",", ":"),
            )
            for e in events
        ]
        first = events[0].when
        stamp = time.strftime("%M-%S", time.gmtime(first)) + f"-{int(first * 1000) % 1000:03d}"
        uri = f"{destination}/{endpoint}/{variant}/{hour}/{stamp}-{uuid.uuid4()}.jsonl"
        try:
            target = parse_s3_uri(uri)
            body = ("\n".join(lines) + "\n").encode()
            self._objects.put_object(
                target.bucket, target.key, body, content_type="application/jsonlines"
            )
        except SageboxError as error:
            if destination not in self._warned:  # once per destination, not per flush
                self._warned.add(destination)
                log.warning(
                    "Data capture of endpoint %s to %s failed: %s. Captured records are "
                    "dropped until it works; check DataCaptureConfig.DestinationS3Uri.",
                    endpoint,
                    destination,
                    error,
                )

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self.flush()


_writers: dict[Path, CaptureWriter] = {}
_writers_lock = threading.Lock()
_exit_registered: list[CaptureWriter] = []


def writer(home: Home) -> CaptureWriter:
    """This process's capture writer for ``home`` (made on first use)."""
    found = _writers.get(home.path)
    if found is not None:
        return found
    with _writers_lock:
        found = _writers.get(home.path)
        if found is None:
            found = _writers[home.path] = CaptureWriter(home.objects)
        return found


def _register_exit(instance: CaptureWriter) -> None:
    with _writers_lock:
        if not _exit_registered:
            atexit.register(_close_all)
        _exit_registered.append(instance)


def _close_all() -> None:
    for instance in _exit_registered:
        try:
            instance.close()
        except Exception:  # at exit: a store already gone is nothing to report
            log.debug("final capture flush failed", exc_info=True)
