"""IAM access keys: create, list, rotate (activate/deactivate), delete.

Keys are records of kind ``access-key`` named by key id (see ``control/identity.py``),
status ``Active`` or ``Inactive``. A user has at most two, as on AWS.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from sagebox.control.context import Context
from sagebox.control.iam_entities import USER, get_entity
from sagebox.control.identity import ACCESS_KEY_KIND
from sagebox.errors import LimitExceeded, NoSuchEntity, ResourceNotFound, ValidationError
from sagebox.store.metadata import Change, Record

MAX_KEYS = 2


def new_key_pair(prefix: str) -> tuple[str, str]:
    """An access key id (``AKIA``/``ASIA`` + 16) and a 40-character secret."""
    upper = string.ascii_uppercase + string.digits
    key_id = prefix + "".join(secrets.choice(upper) for _ in range(16))
    alphabet = string.ascii_letters + string.digits + "+/"
    return key_id, "".join(secrets.choice(alphabet) for _ in range(40))


def _user_name(ctx: Context, request: dict[str, Any]) -> str:
    name = request.get("UserName")
    if name:
        return str(name)
    if ":user/" in ctx.principal.arn:
        return ctx.principal.arn.rsplit("/", 1)[-1]
    raise ValidationError(
        f"UserName is required when the caller ({ctx.principal.arn}) is not an IAM user."
    )


def _keys_of(ctx: Context, user: str) -> list[Record]:
    records = ctx.home.metadata.find(ACCESS_KEY_KIND, ["Active", "Inactive"])
    return [r for r in records if r.document.get("UserName") == user]


def _key(ctx: Context, user: str, key_id: str) -> Record:
    try:
        record = ctx.home.metadata.get(ACCESS_KEY_KIND, key_id)
    except ResourceNotFound:
        record = None
    if record is None or record.document.get("UserName") != user:
        raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found for user {user}.")
    return record


def create_access_key(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    user = _user_name(ctx, request)
    arn = get_entity(ctx, USER, user).arn
    if len(_keys_of(ctx, user)) >= MAX_KEYS:
        raise LimitExceeded(
            f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}. Delete or rotate one of "
            f"{user}'s keys first."
        )
    key_id, secret = new_key_pair("AKIA")
    now = ctx.now().isoformat()
    document = {
        "UserName": user,
        "AccessKeyId": key_id,
        "Status": "Active",
        "SecretAccessKey": secret,
        "CreateDate": now,
        "PrincipalArn": arn,
    }
    ctx.home.metadata.create(ACCESS_KEY_KIND, key_id, f"{arn}#key/{key_id}", "Active", document)
    return {
        "AccessKey": {
            k: document[k]
            for k in ("UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate")
        }
    }


def list_access_keys(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    user = _user_name(ctx, request)
    get_entity(ctx, USER, user)
    metadata = [
        {k: r.document[k] for k in ("UserName", "AccessKeyId", "CreateDate")} | {"Status": r.status}
        for r in _keys_of(ctx, user)
    ]
    return {"AccessKeyMetadata": metadata, "IsTruncated": False}


def update_access_key(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    user = _user_name(ctx, request)
    record = _key(ctx, user, request["AccessKeyId"])
    status = request["Status"]
    ctx.home.metadata.update(
        ACCESS_KEY_KIND, record.name, lambda r: Change(status, {**r.document, "Status": status})
    )
    return {}


def delete_access_key(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    user = _user_name(ctx, request)
    record = _key(ctx, user, request["AccessKeyId"])
    ctx.home.metadata.delete(ACCESS_KEY_KIND, record.name)
    return {}
