"""The audit log: one JSON line per authorization decision, in the spirit of CloudTrail.

Lines go to ``<home>/logs/audit/<YYYY-MM-DD>.jsonl`` (UTC days): time, principal,
action, resource, source IP, decision, the deciding statement and the request id.
Writes are appended with one ``write`` call per line, so concurrent processes never
interleave within a line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    eventTime: str
    principal: str
    action: str
    resource: str
    sourceIp: str | None
    decision: str
    statement: dict[str, Any] | None
    requestId: str


_FIELDS = tuple(field.name for field in fields(AuditEvent))
assert _FIELDS[0] == "eventTime" and _FIELDS[-1] == "requestId"  # what AuditLine relies on
_quote = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str


def _encode(event: AuditEvent) -> bytes:
    shallow = {name: getattr(event, name) for name in _FIELDS}  # asdict deep-copies
    return (json.dumps(shallow, separators=(",", ":")) + "\n").encode()


class AuditLine:
    """The encoding of events that differ only in their time and request id (the
    decisions served from a cache), byte for byte the line :meth:`AuditLog.write_many`
    writes: the fields in between are encoded once."""

    def __init__(
        self,
        principal: str,
        action: str,
        resource: str,
        source_ip: str | None,
        decision: str,
        statement: dict[str, Any] | None,
    ) -> None:
        values = (principal, action, resource, source_ip, decision, statement)
        between = json.dumps(dict(zip(_FIELDS[1:-1], values, strict=True)), separators=(",", ":"))
        self._head = '{"eventTime":'
        self._middle = "," + between[1:-1] + ',"requestId":'

    def encode(self, event_time: str, request_id: str) -> bytes:
        return f"{self._head}{_quote(event_time)}{self._middle}{_quote(request_id)}}}\n".encode()


class AuditLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, event: AuditEvent) -> None:
        self.write_many([event])

    def write_many(self, events: Iterable[AuditEvent]) -> None:
        """Append ``events``: one write of whole lines per day file, so writers in several
        processes never interleave within a line."""
        days: dict[str, list[bytes]] = {}
        for event in events:
            days.setdefault(event.eventTime[:10], []).append(_encode(event))
        self.append(days)

    def append(self, days: dict[str, list[bytes]]) -> None:
        """Append encoded lines (:class:`AuditLine`) by UTC day (``YYYY-MM-DD``): one write
        per day file."""
        if not days:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for day, lines in days.items():
            path = self.folder / f"{day}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, b"".join(lines))
            finally:
                os.close(fd)

    def read(self, since: datetime | None = None) -> Iterator[AuditEvent]:
        """Events in time order, from ``since`` (default: everything)."""
        if not self.folder.is_dir():
            return
        first_day = since.strftime("%Y-%m-%d") if since else ""
        for path in sorted(self.folder.glob("*.jsonl")):
            if path.stem < first_day:
                continue
            with path.open() as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    event = AuditEvent(**json.loads(line))
                    if since is None or datetime.fromisoformat(event.eventTime) >= since:
                        yield event


def parse_since(text: str) -> datetime:
    """``7d``, ``12h``, ``30m`` or an ISO-8601 time."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text and text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
