"""Flow documents in the home's metadata store, one record per flow with every version.

Record kind ``data-wrangler-flow``, name = the flow's name, document::

    {"FlowName": "loans", "LatestVersion": 2,
     "Versions": [{"Version": 1, "Flow": {...}, "CreatedAt": "2024-...+00:00"}, ...]}

Saving appends a version in one atomic read-modify-write of the record, so two
concurrent saves get versions n+1 and n+2, never the same number. Saving a flow equal to
the latest version adds nothing and returns that version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sagebox.errors import ResourceInUse, ResourceNotFound, ValidationError
from sagebox.store.metadata import Change, ListQuery

if TYPE_CHECKING:
    from sagebox.home import Home
    from sagebox.session import Session
    from sagebox.store.metadata import MetadataStore, Record

KIND = "data-wrangler-flow"


@dataclass(frozen=True)
class FlowSummary:
    name: str
    latest_version: int
    steps: int
    source: str
    created: datetime
    modified: datetime


def _home(session: Session) -> Home:
    if session.home is None:
        raise ValidationError(
            "Flows are stored in the home's metadata store, and this remote session has no "
            "home. Use an embedded session (sagebox.Session() on the home) to save, load, "
            "preview and export flows."
        )
    return session.home


def _metadata(session: Session) -> MetadataStore:
    return _home(session).metadata


def _version(number: int, flow: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": number, "Flow": dict(flow), "CreatedAt": datetime.now(UTC).isoformat()}


def save(session: Session, name: str, flow: Mapping[str, Any]) -> int:
    """Store ``flow`` (a flow document) as the next version of ``name``; returns its number."""
    home = _home(session)
    metadata = home.metadata
    try:
        metadata.get(KIND, name)
    except ResourceNotFound:
        document = {"FlowName": name, "LatestVersion": 1, "Versions": [_version(1, flow)]}
        arn = home.arn("sagemaker", f"data-wrangler-flow/{name}")
        try:
            metadata.create(KIND, name, arn, None, document)
            return 1
        except ResourceInUse:  # created meanwhile by another writer: append instead
            pass
    saved: list[int] = []

    def append(current: Record) -> Change | None:
        document = dict(current.document)
        versions = list(document["Versions"])
        latest = int(document["LatestVersion"])
        if versions and versions[-1]["Flow"] == dict(flow):
            saved.append(latest)
            return None
        versions.append(_version(latest + 1, flow))
        saved.append(latest + 1)
        return Change(None, {**document, "Versions": versions, "LatestVersion": latest + 1})

    metadata.update(KIND, name, append)
    return saved[-1]


def _record(session: Session, name: str) -> Record:
    try:
        return _metadata(session).get(KIND, name)
    except ResourceNotFound:
        raise ResourceNotFound(
            f"There is no flow named {name!r}. List flows with 'sagebox flows list'; create "
            "one with Flow(name, source=...).save(session) or 'sagebox flows create'."
        ) from None


def load(session: Session, name: str, version: int | None = None) -> tuple[dict[str, Any], int]:
    """The document of version ``version`` (the latest by default) and its number."""
    document = _record(session, name).document
    versions = document["Versions"]
    wanted = int(document["LatestVersion"]) if version is None else version
    for entry in versions:
        if entry["Version"] == wanted:
            return dict(entry["Flow"]), wanted
    raise ResourceNotFound(
        f"The flow {name!r} has no version {version!r}; its versions are "
        f"1 to {document['LatestVersion']}."
    )


def history(session: Session, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``: ``{"Version", "CreatedAt", "Flow"}``, oldest first."""
    return [dict(v) for v in _record(session, name).document["Versions"]]


def list_flows(session: Session, name_contains: str | None = None) -> list[FlowSummary]:
    """Every stored flow, newest first."""
    metadata = _metadata(session)
    summaries: list[FlowSummary] = []
    cursor = None
    while True:
        page = metadata.list(KIND, ListQuery(name_contains=name_contains, cursor=cursor))
        for record in page.records:
            latest = record.document["Versions"][-1]["Flow"]
            summaries.append(
                FlowSummary(
                    name=record.name,
                    latest_version=int(record.document["LatestVersion"]),
                    steps=len(latest.get("Steps", [])),
                    source=str(latest.get("Source", {}).get("Uri", "")),
                    created=record.creation_time,
                    modified=record.last_modified_time,
                )
            )
        cursor = page.next_cursor
        if cursor is None:
            return summaries


def delete(session: Session, name: str) -> None:
    _record(session, name)
    _metadata(session).delete(KIND, name)
