"""What the hosting resources share (models, endpoint configs, endpoints): records, listing.

Each is stored as its Describe* document under a kind ("model", "endpoint-config",
"endpoint"). SageMaker answers a missing or duplicate hosting resource with a
``ValidationException`` naming its ARN (``Could not find model "arn:..."``), not a
``ResourceNotFound``; these helpers do the same, with a hint of what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagebox.control.listing import list_query, summaries_page
from sagebox.errors import ResourceInUse, ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.store.metadata import Record


@dataclass(frozen=True)
class ResourceKind:
    kind: str  # metadata-store kind and ARN resource type: "endpoint-config"
    title: str  # as AWS words it in messages: "endpoint configuration"
    name_field: str  # "EndpointConfigName"
    arn_field: str  # "EndpointConfigArn"
    list_hint: str  # "sagebox endpoint-configs list" or the operation

    def arn(self, home: Home, name: str) -> str:
        # SageMaker writes resource names in ARNs in lower case.
        return home.arn("sagemaker", f"{self.kind}/{name.lower()}")


def get(home: Home, kind: ResourceKind, name: str) -> Record:
    try:
        return home.metadata.get(kind.kind, name)
    except ResourceNotFound:
        raise ValidationError(
            f'Could not find {kind.title} "{kind.arn(home, name)}". Check the name '
            f"({kind.list_hint} lists them), or create it first."
        ) from None


def describe(home: Home, kind: ResourceKind, name: str) -> dict[str, Any]:
    record = get(home, kind, name)
    return {**record.document, "LastModifiedTime": record.last_modified_time.isoformat()}


def create(
    home: Home,
    kind: ResourceKind,
    name: str,
    status: str | None,
    document: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]] | None,
    now: datetime,
) -> str:
    """Record a new resource with its tags; its ARN. AWS's message when it exists."""
    arn = kind.arn(home, name)
    try:
        home.metadata.create(kind.kind, name, arn, status, document, creation_time=now)
    except ResourceInUse:
        raise ValidationError(
            f'Cannot create already existing {kind.title} "{arn}". Choose another name, '
            f"or delete the existing one first."
        ) from None
    if tags:
        home.metadata.set_tags(arn, {t["Key"]: t.get("Value", "") for t in tags})
    return arn


def list_page(
    home: Home,
    kind: ResourceKind,
    params: Mapping[str, Any],
    member: str,
    summary_fields: Sequence[str],
) -> dict[str, Any]:
    """One page of a List* operation: summaries under ``member``, and NextToken."""
    return summaries_page(home, kind.kind, list_query(params), member, summary_fields)
