"""IAM managed policies, inline policies, attachments and permissions boundaries.

Managed policies are records of kind ``iam-policy`` named by policy name, whose
document is the AWS ``Policy`` shape plus ``_Versions`` (version id -> document and
date). Inline policies live in their entity's document. Every policy document is parsed
and validated by the policy engine when stored, so a malformed one is refused, never
ignored later. The operations for users, groups and roles are made by one factory each.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from sagebox.control.context import Context
from sagebox.control.iam_entities import (
    ATTACHED,
    GROUP,
    INLINE,
    ROLE,
    USER,
    EntityKind,
    check_path,
    get_entity,
    mutate,
    new_id,
)
from sagebox.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    NoSuchEntity,
    ResourceInUse,
    ResourceNotFound,
)
from sagebox.store.metadata import Change, ListQuery, Record

POLICY_KIND = "iam-policy"
VERSIONS = "_Versions"
Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def get_managed_policy(ctx: Context, arn: str) -> Record:
    try:
        record = ctx.home.metadata.get(POLICY_KIND, _policy_name(arn))
    except ResourceNotFound:
        record = None
    if record is None or record.arn != arn:
        raise NoSuchEntity(
            f"Policy {arn} does not exist or is not attachable. Check the ARN, or list "
            "policies to find it."
        )
    return record


def policy_document(record: Record) -> str:
    """The default version's JSON text of a managed policy."""
    doc = record.document
    return str(doc[VERSIONS][doc["DefaultVersionId"]]["Document"])


def _public(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if not k.startswith("_")}


def create_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    from sagebox.iam import parse_policy

    name = request["PolicyName"]
    parse_policy(request["PolicyDocument"], "identity")
    path = check_path(request.get("Path", "/"))
    arn = ctx.home.arn("iam", f"policy{path}{name}")
    now = ctx.now().isoformat()
    document: dict[str, Any] = {
        "PolicyName": name,
        "PolicyId": new_id("ANPA"),
        "Arn": arn,
        "Path": path,
        "DefaultVersionId": "v1",
        "AttachmentCount": 0,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": now,
        "UpdateDate": now,
        VERSIONS: {"v1": {"Document": request["PolicyDocument"], "CreateDate": now}},
    }
    if request.get("Description"):
        document["Description"] = request["Description"]
    if request.get("Tags"):
        document["Tags"] = list(request["Tags"])
    try:
        ctx.home.metadata.create(POLICY_KIND, name, arn, "Active", document)
    except ResourceInUse:
        raise EntityAlreadyExists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        ) from None
    return {"Policy": _public(document)}


def get_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": _public(dict(get_managed_policy(ctx, request["PolicyArn"]).document))}


def get_policy_version(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    record = get_managed_policy(ctx, request["PolicyArn"])
    version = record.document[VERSIONS].get(request["VersionId"])
    if version is None:
        raise NoSuchEntity(
            f"Policy {request['PolicyArn']} version {request['VersionId']} does not exist."
        )
    return {
        "PolicyVersion": {
            "Document": urllib.parse.quote(version["Document"]),
            "VersionId": request["VersionId"],
            "IsDefaultVersion": request["VersionId"] == record.document["DefaultVersionId"],
            "CreateDate": version["CreateDate"],
        }
    }


def list_policies(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    limit = int(request.get("MaxItems", 100))
    page = ctx.home.metadata.list(
        POLICY_KIND,
        ListQuery(sort_by="name", descending=False, limit=limit, cursor=request.get("Marker")),
    )
    prefix = request.get("PathPrefix", "/")
    policies = [
        _public(dict(r.document))
        for r in page.records
        if str(r.document["Path"]).startswith(prefix)
    ]
    if request.get("OnlyAttached"):
        policies = [p for p in policies if p["AttachmentCount"] > 0]
    response: dict[str, Any] = {"Policies": policies, "IsTruncated": page.next_cursor is not None}
    if page.next_cursor:
        response["Marker"] = page.next_cursor
    return response


def delete_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    record = get_managed_policy(ctx, request["PolicyArn"])
    if record.document["AttachmentCount"] or record.document["PermissionsBoundaryUsageCount"]:
        raise DeleteConflict(
            f"Cannot delete a policy attached to entities ({request['PolicyArn']}); detach it "
            "first."
        )
    ctx.home.metadata.delete(POLICY_KIND, record.name)
    return {}


def _count(ctx: Context, arn: str, field: str, delta: int) -> None:
    record = get_managed_policy(ctx, arn)
    ctx.home.metadata.update(
        POLICY_KIND,
        record.name,
        lambda r: Change(r.status, {**r.document, field: int(r.document[field]) + delta}),
    )


# ---- attachments -----------------------------------------------------------------------
def _attach(kind: EntityKind) -> Handler:
    def attach(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["PolicyArn"]
        get_managed_policy(ctx, arn)
        added = False

        def add(doc: dict[str, Any]) -> None:
            nonlocal added
            if arn not in doc[ATTACHED]:
                doc[ATTACHED].append(arn)
                added = True

        mutate(ctx, kind, request[kind.name_field], add)
        if added:
            _count(ctx, arn, "AttachmentCount", 1)
        return {}

    return attach


def _detach(kind: EntityKind) -> Handler:
    def detach(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["PolicyArn"]

        def remove(doc: dict[str, Any]) -> None:
            if arn not in doc[ATTACHED]:
                raise NoSuchEntity(
                    f"Policy {arn} was not found attached to {kind.noun} "
                    f"{request[kind.name_field]}."
                )
            doc[ATTACHED].remove(arn)

        mutate(ctx, kind, request[kind.name_field], remove)
        _count(ctx, arn, "AttachmentCount", -1)
        return {}

    return detach


def _list_attached(kind: EntityKind) -> Handler:
    def list_attached(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        arns = get_entity(ctx, kind, request[kind.name_field]).document[ATTACHED]
        return {
            "AttachedPolicies": [{"PolicyName": _policy_name(a), "PolicyArn": a} for a in arns],
            "IsTruncated": False,
        }

    return list_attached


# ---- inline policies -------------------------------------------------------------------
def _put_inline(kind: EntityKind) -> Handler:
    def put(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        from sagebox.iam import parse_policy

        parse_policy(request["PolicyDocument"], "identity")

        def store(doc: dict[str, Any]) -> None:
            doc[INLINE][request["PolicyName"]] = request["PolicyDocument"]

        mutate(ctx, kind, request[kind.name_field], store)
        return {}

    return put


def _get_inline(kind: EntityKind) -> Handler:
    def get(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        name = request[kind.name_field]
        document = get_entity(ctx, kind, name).document[INLINE].get(request["PolicyName"])
        if document is None:
            raise NoSuchEntity(
                f"The {kind.noun} policy with name {request['PolicyName']} cannot be found."
            )
        return {
            kind.name_field: name,
            "PolicyName": request["PolicyName"],
            "PolicyDocument": urllib.parse.quote(document),
        }

    return get


def _delete_inline(kind: EntityKind) -> Handler:
    def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        def remove(doc: dict[str, Any]) -> None:
            if doc[INLINE].pop(request["PolicyName"], None) is None:
                raise NoSuchEntity(
                    f"The {kind.noun} policy with name {request['PolicyName']} cannot be found."
                )

        mutate(ctx, kind, request[kind.name_field], remove)
        return {}

    return delete


def _list_inline(kind: EntityKind) -> Handler:
    def list_inline(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        names = sorted(get_entity(ctx, kind, request[kind.name_field]).document[INLINE])
        return {"PolicyNames": names, "IsTruncated": False}

    return list_inline


# ---- permissions boundaries -------------------------------------------------------------
def _put_boundary(kind: EntityKind) -> Handler:
    def put(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["PermissionsBoundary"]
        get_managed_policy(ctx, arn)
        previous: list[str] = []

        def store(doc: dict[str, Any]) -> None:
            old = doc.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
            if old:
                previous.append(old)
            doc["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": arn,
            }

        mutate(ctx, kind, request[kind.name_field], store)
        for old in previous:
            _count(ctx, old, "PermissionsBoundaryUsageCount", -1)
        _count(ctx, arn, "PermissionsBoundaryUsageCount", 1)
        return {}

    return put


def _delete_boundary(kind: EntityKind) -> Handler:
    def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        removed: list[str] = []

        def drop(doc: dict[str, Any]) -> None:
            boundary = doc.pop("PermissionsBoundary", None)
            if boundary:
                removed.append(boundary["PermissionsBoundaryArn"])

        mutate(ctx, kind, request[kind.name_field], drop)
        for arn in removed:
            _count(ctx, arn, "PermissionsBoundaryUsageCount", -1)
        return {}

    return delete


attach_user_policy, attach_group_policy, attach_role_policy = (
    _attach(USER),
    _attach(GROUP),
    _attach(ROLE),
)
detach_user_policy, detach_group_policy, detach_role_policy = (
    _detach(USER),
    _detach(GROUP),
    _detach(ROLE),
)
list_attached_user_policies, list_attached_group_policies, list_attached_role_policies = (
    _list_attached(USER),
    _list_attached(GROUP),
    _list_attached(ROLE),
)
put_user_policy, put_group_policy, put_role_policy = (
    _put_inline(USER),
    _put_inline(GROUP),
    _put_inline(ROLE),
)
get_user_policy, get_group_policy, get_role_policy = (
    _get_inline(USER),
    _get_inline(GROUP),
    _get_inline(ROLE),
)
delete_user_policy, delete_group_policy, delete_role_policy = (
    _delete_inline(USER),
    _delete_inline(GROUP),
    _delete_inline(ROLE),
)
list_user_policies, list_group_policies, list_role_policies = (
    _list_inline(USER),
    _list_inline(GROUP),
    _list_inline(ROLE),
)
put_user_permissions_boundary, put_role_permissions_boundary = (
    _put_boundary(USER),
    _put_boundary(ROLE),
)
delete_user_permissions_boundary, delete_role_permissions_boundary = (
    _delete_boundary(USER),
    _delete_boundary(ROLE),
)
