"""What happens to a malformed row: the error policy, the read report and the quarantine file."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Literal, cast

from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectStore, parse_s3_uri

ErrorPolicy = Literal["fail", "skip", "quarantine"]
ERROR_POLICIES = ("fail", "skip", "quarantine")
MAX_EXAMPLES = 20
SNIPPET_CHARS = 200


@dataclass
class ReadReport:
    """What a read took in and what it skipped, so that nothing is lost silently.

    ``examples`` holds at most 20 bad rows as ``{"file", "line" or "row", "error", "raw"}``
    (``raw`` cut to 200 characters); ``quarantine`` is the URI the bad rows went to.
    """

    rows: int = 0
    bad_rows: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    quarantine: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "examples": list(self.examples),
            "files": list(self.files),
            "quarantine": self.quarantine,
        }


def check_policy(on_error: str, quarantine_uri: str | None) -> None:
    if on_error not in ERROR_POLICIES:
        raise ValidationError(
            f"Unknown error policy on_error={on_error!r}. Use 'fail', 'skip' or 'quarantine'."
        )
    if on_error == "quarantine" and not quarantine_uri:
        raise ValidationError(
            "on_error='quarantine' needs quarantine_uri, the s3:// object that receives the "
            "bad rows (e.g. s3://bucket/errors/bad-rows.jsonl)."
        )
    if quarantine_uri:
        parse_s3_uri(quarantine_uri)


def _text(raw: str | bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class BadRows:
    """Applies one read's error policy to each malformed row it is told about."""

    def __init__(
        self,
        policy: ErrorPolicy,
        report: ReadReport,
        store: ObjectStore,
        quarantine_uri: str | None,
    ) -> None:
        self.policy = policy
        self.report = report
        self._store = store
        self._quarantine_uri = quarantine_uri
        self._spool: IO[bytes] | None = None
        self._count = 0

    def add(self, file: str, where: str, number: int | None, error: str, raw: str | bytes) -> None:
        """One bad row of ``file`` at ``where`` ("line" or "row") ``number``."""
        text = _text(raw)
        place = f"{where} {number}" if number is not None else "a row"
        if self.policy == "fail":
            snippet = text[:SNIPPET_CHARS]
            raise ValidationError(
                f"Malformed data in {file} at {place}: {error}. Text: {snippet!r}. Fix the "
                "input, or read it with on_error='skip' (count and drop bad rows) or "
                "'quarantine' (also keep them in an error file)."
            )
        self.report.bad_rows += 1
        if len(self.report.examples) < MAX_EXAMPLES:
            example: dict[str, Any] = {"file": file, where: number, "error": error}
            example["raw"] = text[:SNIPPET_CHARS]
            self.report.examples.append(example)
        if self.policy == "quarantine":
            if self._spool is None:
                self._spool = tempfile.TemporaryFile("w+b")  # noqa: SIM115 (closed in close())
            record = {"file": file, where: number, "error": error, "raw": text}
            self._spool.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
            self._count += 1

    def close(self) -> None:
        """Write the quarantined rows (if any) as one JSONL object, atomically."""
        spool, self._spool = self._spool, None
        if spool is None:
            return
        with spool:
            assert self._quarantine_uri is not None
            uri = parse_s3_uri(self._quarantine_uri)
            key = uri.key if uri.key and not uri.key.endswith("/") else uri.key + "bad-rows.jsonl"
            spool.seek(0)
            self._store.put_object(
                uri.bucket, key, cast(BinaryIO, spool), content_type="application/x-ndjson"
            )
            self.report.quarantine = f"s3://{uri.bucket}/{key}"


class IgnoredBadRows(BadRows):
    """Bad rows met while sampling a file's schema: left out; the real read reports them."""

    def __init__(self) -> None:
        self.policy = "skip"

    def add(self, file: str, where: str, number: int | None, error: str, raw: str | bytes) -> None:
        return None

    def close(self) -> None:
        return None


IGNORED = IgnoredBadRows()
