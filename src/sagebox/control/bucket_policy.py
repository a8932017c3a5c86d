"""S3 bucket policies: the resource-based policies that apply to every object access.

Stored as records of kind ``bucket-policy`` named by bucket; the authorizer reads them
for any ``arn:aws:s3:::bucket[/key]`` resource. A policy is validated when stored.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sagebox.control.authorizer import BUCKET_POLICY_KIND
from sagebox.control.context import Context
from sagebox.errors import NoSuchBucket, NoSuchBucketPolicy, ResourceInUse, ResourceNotFound
from sagebox.store.metadata import Change


def _require_bucket(ctx: Context, bucket: str) -> None:
    if not ctx.home.objects.bucket_exists(bucket):
        raise NoSuchBucket(f"The specified bucket does not exist: {bucket}. Create it first.")


def put(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    from sagebox.iam import parse_policy

    bucket, text = request["Bucket"], request["Policy"]
    _require_bucket(ctx, bucket)
    parse_policy(text, "resource")
    document = {"Bucket": bucket, "Policy": text}
    try:
        ctx.home.metadata.create(
            BUCKET_POLICY_KIND, bucket, f"arn:aws:s3:::{bucket}#policy", "Active", document
        )
    except ResourceInUse:
        ctx.home.metadata.update(BUCKET_POLICY_KIND, bucket, lambda r: Change(r.status, document))
    return {}


def get(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    bucket = request["Bucket"]
    _require_bucket(ctx, bucket)
    try:
        record = ctx.home.metadata.get(BUCKET_POLICY_KIND, bucket)
    except ResourceNotFound:
        raise NoSuchBucketPolicy(f"The bucket policy does not exist (bucket {bucket}).") from None
    return {"Policy": record.document["Policy"]}


def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    bucket = request["Bucket"]
    _require_bucket(ctx, bucket)
    with contextlib.suppress(ResourceNotFound):  # as S3: deleting no policy succeeds
        ctx.home.metadata.delete(BUCKET_POLICY_KIND, bucket)
    return {}
