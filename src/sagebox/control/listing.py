"""The query of a List* request: its filters, sort order and page, as one ``ListQuery``.

SageMaker's List operations share these members (``NameContains``, ``StatusEquals``,
``CreationTimeAfter/Before``, ``LastModifiedTimeAfter/Before``, ``SortBy``, ``SortOrder``,
``MaxResults``, ``NextToken``); every list handler reads them here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sagebox.errors import ValidationError
from sagebox.home import Home
from sagebox.store.metadata import ListQuery

SORT_KEYS = {"Name": "name", "CreationTime": "creation_time", "Status": "status"}


def list_query(
    params: Mapping[str, Any],
    default_order: str = "Descending",
    document_equals: Mapping[str, str] | None = None,
) -> ListQuery:
    """The query of a List* request; ``document_equals``: document members that must
    have these values (a model package group's versions, an approval status)."""
    sort_by = SORT_KEYS.get(params.get("SortBy", "CreationTime"))
    if sort_by is None:
        raise ValidationError(
            f"SortBy {params['SortBy']!r} is not valid; use one of {', '.join(SORT_KEYS)}."
        )
    return ListQuery(
        name_contains=params.get("NameContains"),
        status=params.get("StatusEquals"),
        created_after=params.get("CreationTimeAfter"),
        created_before=params.get("CreationTimeBefore"),
        modified_after=params.get("LastModifiedTimeAfter"),
        modified_before=params.get("LastModifiedTimeBefore"),
        sort_by=sort_by,  # type: ignore[arg-type]
        descending=params.get("SortOrder", default_order) == "Descending",
        limit=int(params.get("MaxResults", 10)),
        cursor=params.get("NextToken"),
        document_equals=dict(document_equals or {}),
    )


def summaries_page(
    home: Home, kind: str, query: ListQuery, member: str, fields: Sequence[str]
) -> dict[str, Any]:
    """One page of a List* response: each record's ``fields`` (``LastModifiedTime``
    among them when asked for) under ``member``, and ``NextToken`` when there is more."""
    page = home.metadata.list(kind, query)
    summaries = []
    for record in page.records:
        doc = {**record.document, "LastModifiedTime": record.last_modified_time.isoformat()}
        summaries.append({f: doc[f] for f in fields if f in doc})
    response: dict[str, Any] = {member: summaries}
    if page.next_cursor:
        response["NextToken"] = page.next_cursor
    return response
