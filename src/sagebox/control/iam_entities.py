"""IAM users, groups and roles: the principals and their policy attachments.

Each entity is a metadata record (kinds ``iam-user``, ``iam-group``, ``iam-role``)
whose document is the AWS shape (``User``, ``Group``, ``Role``) plus internal members
(leading underscore, dropped by response shaping): inline policies by name, attached
managed-policy ARNs and, for users, group names.
"""

from __future__ import annotations

import secrets
import string
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagebox.control.context import Context
from sagebox.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    NoSuchEntity,
    ResourceInUse,
    ResourceNotFound,
    ValidationError,
)
from sagebox.store.metadata import Change, ListQuery, Record

INLINE = "_InlinePolicies"
ATTACHED = "_AttachedPolicies"
GROUPS = "_Groups"


@dataclass(frozen=True)
class EntityKind:
    kind: str  # metadata kind
    noun: str  # "user"
    shape: str  # response member: "User"
    name_field: str  # "UserName"
    id_field: str  # "UserId"
    id_prefix: str  # "AIDA"


USER = EntityKind("iam-user", "user", "User", "UserName", "UserId", "AIDA")
GROUP = EntityKind("iam-group", "group", "Group", "GroupName", "GroupId", "AGPA")
ROLE = EntityKind("iam-role", "role", "Role", "RoleName", "RoleId", "AROA")
KINDS = {"user": USER, "group": GROUP, "role": ROLE}


def new_id(prefix: str) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(17))


def entity_arn(ctx: Context, kind: EntityKind, name: str, path: str = "/") -> str:
    return ctx.home.arn("iam", f"{kind.noun}{path}{name}")


def check_path(path: str) -> str:
    if not (path.startswith("/") and path.endswith("/")):
        raise ValidationError(
            f"The path {path!r} must begin and end with '/', e.g. '/' or '/division_abc/'."
        )
    return path


def get_entity(ctx: Context, kind: EntityKind, name: str) -> Record:
    try:
        return ctx.home.metadata.get(kind.kind, name)
    except ResourceNotFound:
        raise NoSuchEntity(
            f"The {kind.noun} with name {name} cannot be found. Check the name, or list "
            f"{kind.noun}s to find it."
        ) from None


def create_entity(
    ctx: Context,
    kind: EntityKind,
    request: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    name = request[kind.name_field]
    path = check_path(request.get("Path", "/"))
    arn = entity_arn(ctx, kind, name, path)
    document: dict[str, Any] = {
        "Path": path,
        kind.name_field: name,
        kind.id_field: new_id(kind.id_prefix),
        "Arn": arn,
        "CreateDate": ctx.now().isoformat(),
        INLINE: {},
        ATTACHED: [],
        **(extra or {}),
    }
    if kind is USER:
        document[GROUPS] = []
    if request.get("PermissionsBoundary"):
        document["PermissionsBoundary"] = _boundary(ctx, request["PermissionsBoundary"])
    if request.get("Tags"):
        document["Tags"] = list(request["Tags"])
    try:
        ctx.home.metadata.create(kind.kind, name, arn, "Active", document)
    except ResourceInUse:
        raise EntityAlreadyExists(
            f"{kind.shape} with name {name} already exists. Choose another name."
        ) from None
    return document


def _boundary(ctx: Context, policy_arn: str) -> dict[str, str]:
    from sagebox.control.iam_policies import get_managed_policy

    get_managed_policy(ctx, policy_arn)
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": policy_arn}


def mutate(ctx: Context, kind: EntityKind, name: str, fn: Any) -> Record:
    get_entity(ctx, kind, name)

    def change(record: Record) -> Change:
        doc = {
            k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
            for k, v in record.document.items()
        }
        fn(doc)
        return Change(record.status, doc)

    return ctx.home.metadata.update(kind.kind, name, change)


def public(kind: EntityKind, document: Mapping[str, Any]) -> dict[str, Any]:
    """The response shape: AWS returns policy documents URL-encoded."""
    out = dict(document)
    if "AssumeRolePolicyDocument" in out:
        out["AssumeRolePolicyDocument"] = urllib.parse.quote(out["AssumeRolePolicyDocument"])
    return out


def list_entities(
    ctx: Context, kind: EntityKind, request: Mapping[str, Any], member: str
) -> dict[str, Any]:
    prefix = request.get("PathPrefix", "/")
    records: list[dict[str, Any]] = []
    cursor = request.get("Marker")
    limit = int(request.get("MaxItems", 100))
    while True:
        page = ctx.home.metadata.list(
            kind.kind, ListQuery(sort_by="name", descending=False, limit=limit, cursor=cursor)
        )
        for record in page.records:
            if str(record.document.get("Path", "/")).startswith(prefix):
                records.append(public(kind, record.document))
        cursor = page.next_cursor
        if cursor is None or len(records) >= limit:
            break
    response: dict[str, Any] = {member: records[:limit], "IsTruncated": cursor is not None}
    if cursor is not None:
        response["Marker"] = cursor
    return response


# ---- operations ----------------------------------------------------------------------
def create_user(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"User": public(USER, create_entity(ctx, USER, request))}


def get_user(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request.get("UserName")
    if name is None:  # the caller's own user, as AWS does
        arn = ctx.principal.arn
        if ":user/" not in arn:
            raise ValidationError(
                f"GetUser without UserName needs an IAM user's credentials; the caller is "
                f"{arn}. Pass UserName."
            )
        name = arn.rsplit("/", 1)[-1]
    return {"User": public(USER, get_entity(ctx, USER, name).document)}


def list_users(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, USER, request, "Users")


def _delete(ctx: Context, kind: EntityKind, name: str) -> None:
    doc = get_entity(ctx, kind, name).document
    blockers = []
    if doc.get(INLINE):
        blockers.append(f"inline policies {sorted(doc[INLINE])}")
    if doc.get(ATTACHED):
        blockers.append(f"attached policies {doc[ATTACHED]}")
    if doc.get(GROUPS):
        blockers.append(f"groups {doc[GROUPS]}")
    if kind is USER:
        keys = [
            r.name
            for r in ctx.home.metadata.find("access-key", ["Active", "Inactive"])
            if r.document.get("UserName") == name
        ]
        if keys:
            blockers.append(f"access keys {keys}")
    if kind is GROUP:
        members = _group_members(ctx, name)
        if members:
            blockers.append(f"members {members}")
    if blockers:
        raise DeleteConflict(
            f"Cannot delete entity, must remove {' and '.join(blockers)} first "
            f"({kind.noun} {name})."
        )
    ctx.home.metadata.delete(kind.kind, name)


def delete_user(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _delete(ctx, USER, request["UserName"])
    return {}


def create_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"Group": create_entity(ctx, GROUP, request)}


def _group_members(ctx: Context, group: str) -> list[str]:
    users = ctx.home.metadata.find(USER.kind, ["Active"])
    return sorted(r.name for r in users if group in r.document.get(GROUPS, []))


def get_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    group = get_entity(ctx, GROUP, request["GroupName"]).document
    members = [
        public(USER, get_entity(ctx, USER, n).document)
        for n in _group_members(ctx, request["GroupName"])
    ]
    return {"Group": group, "Users": members, "IsTruncated": False}


def list_groups(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, GROUP, request, "Groups")


def delete_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _delete(ctx, GROUP, request["GroupName"])
    return {}


def add_user_to_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    group = request["GroupName"]
    get_entity(ctx, GROUP, group)

    def add(doc: dict[str, Any]) -> None:
        if group not in doc[GROUPS]:
            doc[GROUPS].append(group)

    mutate(ctx, USER, request["UserName"], add)
    return {}


def remove_user_from_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    group = request["GroupName"]
    get_entity(ctx, GROUP, group)

    def remove(doc: dict[str, Any]) -> None:
        if group not in doc[GROUPS]:
            raise NoSuchEntity(f"User {request['UserName']} is not in group {group}.")
        doc[GROUPS].remove(group)

    mutate(ctx, USER, request["UserName"], remove)
    return {}


def list_groups_for_user(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    names = get_entity(ctx, USER, request["UserName"]).document.get(GROUPS, [])
    return {"Groups": [get_entity(ctx, GROUP, n).document for n in names], "IsTruncated": False}


def create_role(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    from sagebox.iam import parse_policy

    document = request["AssumeRolePolicyDocument"]
    parse_policy(document, "trust")
    extra = {
        "AssumeRolePolicyDocument": document,
        "MaxSessionDuration": int(request.get("MaxSessionDuration", 3600)),
    }
    if request.get("Description"):
        extra["Description"] = request["Description"]
    return {"Role": public(ROLE, create_entity(ctx, ROLE, request, extra))}


def get_role(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"Role": public(ROLE, get_entity(ctx, ROLE, request["RoleName"]).document)}


def list_roles(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, ROLE, request, "Roles")


def delete_role(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _delete(ctx, ROLE, request["RoleName"])
    return {}


def update_assume_role_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    from sagebox.iam import parse_policy

    document = request["PolicyDocument"]
    parse_policy(document, "trust")

    def replace(doc: dict[str, Any]) -> None:
        doc["AssumeRolePolicyDocument"] = document

    mutate(ctx, ROLE, request["RoleName"], replace)
    return {}
