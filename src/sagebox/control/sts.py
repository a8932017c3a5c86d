"""STS: AssumeRole (temporary credentials, decided by the role's trust policy) and
GetCallerIdentity.

Session credentials are ``access-key`` records with a session token and an expiry; the
principal is ``arn:aws:sts::<account>:assumed-role/<role>/<session>``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from sagebox.control.context import Context
from sagebox.control.iam_entities import ROLE, USER, get_entity
from sagebox.control.iam_keys import new_key_pair
from sagebox.control.identity import ACCESS_KEY_KIND
from sagebox.errors import NoSuchEntity, ValidationError


def role_name_from_arn(arn: str) -> str:
    if ":role/" not in arn:
        raise ValidationError(f"{arn!r} is not a role ARN (arn:aws:iam::<account>:role/<name>).")
    return arn.rsplit("/", 1)[-1]


def assume_role(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    from sagebox.iam import parse_policy

    role_arn = request["RoleArn"]
    role = get_entity(ctx, ROLE, role_name_from_arn(role_arn))
    if role.arn != role_arn:
        raise NoSuchEntity(f"The role {role_arn} cannot be found.")
    session = request["RoleSessionName"]
    duration = int(request.get("DurationSeconds", 3600))
    maximum = int(role.document.get("MaxSessionDuration", 3600))
    if duration > maximum:
        raise ValidationError(
            f"The requested DurationSeconds {duration} exceeds the MaxSessionDuration "
            f"({maximum}) set for this role. Ask for at most {maximum} seconds."
        )
    if request.get("Policy"):
        parse_policy(request["Policy"], "identity")
    key_id, secret = new_key_pair("ASIA")
    token = base64.b64encode(secrets.token_bytes(192)).decode()
    now = ctx.now()
    expiration = (now + timedelta(seconds=duration)).isoformat()
    session_arn = ctx.home.arn("sts", f"assumed-role/{role.name}/{session}")
    document = {
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": expiration,
        "PrincipalArn": session_arn,
        "CreateDate": now.isoformat(),
        "RoleArn": role_arn,
        "RoleName": role.name,
        "SessionPolicy": request.get("Policy"),
        "PolicyArns": [p["arn"] for p in request.get("PolicyArns", [])],
    }
    ctx.home.metadata.create(
        ACCESS_KEY_KIND, key_id, f"{session_arn}#key/{key_id}", "Active", document
    )
    role_id = role.document["RoleId"]
    return {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session}", "Arn": session_arn},
    }


def get_caller_identity(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    arn = ctx.principal.arn
    account = ctx.home.account_id
    if ctx.principal.is_root:
        user_id = account
    elif ":user/" in arn:
        user_id = get_entity(ctx, USER, arn.rsplit("/", 1)[-1]).document["UserId"]
    elif ":assumed-role/" in arn:
        _, role, session = arn.rsplit(":", 1)[-1].split("/", 2)
        user_id = f"{get_entity(ctx, ROLE, role).document['RoleId']}:{session}"
    else:
        user_id = arn
    return {"UserId": user_id, "Account": account, "Arn": arn}
