"""AddTags, ListTags, DeleteTags on any resource ARN in the home."""

from __future__ import annotations

from typing import Any

from sagebox.control.context import Context
from sagebox.errors import ResourceNotFound, ValidationError


def _check_exists(ctx: Context, arn: str) -> None:
    try:
        ctx.home.metadata.get_by_arn(arn)
    except ResourceNotFound:
        raise ResourceNotFound(
            f"No resource with ARN {arn!r} exists in account {ctx.home.account_id}. "
            "Check the ARN (Describe* responses show it)."
        ) from None


def add_tags(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    arn = request["ResourceArn"]
    _check_exists(ctx, arn)
    tags = {t["Key"]: t.get("Value", "") for t in request["Tags"]}
    ctx.home.metadata.set_tags(arn, tags)
    return {"Tags": [{"Key": k, "Value": v} for k, v in ctx.home.metadata.get_tags(arn).items()]}


def list_tags(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    arn = request["ResourceArn"]
    _check_exists(ctx, arn)
    tags = sorted(ctx.home.metadata.get_tags(arn).items())
    token = request.get("NextToken") or "0"
    if not token.isdigit():
        raise ValidationError(
            f"The NextToken {token!r} is not valid for ListTags. Pass the NextToken from the "
            "previous ListTags response, unchanged."
        )
    start = int(token)
    size = int(request.get("MaxResults", 50))
    page = tags[start : start + size]
    response: dict[str, Any] = {"Tags": [{"Key": k, "Value": v} for k, v in page]}
    if start + size < len(tags):
        response["NextToken"] = str(start + size)
    return response


def delete_tags(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    arn = request["ResourceArn"]
    _check_exists(ctx, arn)
    ctx.home.metadata.remove_tags(arn, request["TagKeys"])
    return {}
