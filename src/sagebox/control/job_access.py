"""The object store as a job's execution role sees it: every access authorized.

A job's supervisor loads :func:`role_objects` (named by ``JobSpec.access``), so staging
inputs needs ``s3:ListBucket`` (with ``s3:prefix``) and ``s3:GetObject`` (with
``s3:ExistingObjectTag/<key>``) and uploading outputs needs ``s3:PutObject``, each
decided by the role's policies, its boundary and the bucket policy, and audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sagebox.control.authorize import Authorizer, Principal
from sagebox.control.authorizer import PolicyAuthorizer
from sagebox.home import Home
from sagebox.runtime.spec import JobSpec
from sagebox.store.objects import BucketInfo, ListResult, ObjectInfo, ObjectStore


class RoleObjectStore(ObjectStore):
    """Wraps the home's object store; each call is authorized as ``principal``."""

    def __init__(self, home: Home, principal_arn: str, role_arn: str) -> None:
        self.inner = home.objects
        self.url = self.inner.url
        self.principal = Principal(principal_arn, home.account_id)
        self.session = {"RoleArn": role_arn}
        self.authorizer = PolicyAuthorizer(home)

    def _check(
        self,
        action: str,
        bucket: str,
        key: str | None = None,
        keys: Mapping[str, Any] | None = None,
    ) -> None:
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        context = {"sagebox:session": self.session, **(keys or {})}
        self.authorizer.authorize(self.principal, action, resource, context)

    def _object_tags(self, bucket: str, key: str) -> dict[str, Any]:
        try:
            tags = self.inner.get_object_tags(bucket, key)
        except Exception:  # a missing object is reported by the call itself
            return {}
        return {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}

    # buckets: jobs do not manage buckets
    def create_bucket(self, bucket: str) -> None:
        self._check("s3:CreateBucket", bucket)
        self.inner.create_bucket(bucket)

    def delete_bucket(self, bucket: str) -> None:
        self._check("s3:DeleteBucket", bucket)
        self.inner.delete_bucket(bucket)

    def list_buckets(self) -> list[BucketInfo]:
        self.authorizer.authorize(
            self.principal, "s3:ListAllMyBuckets", "*", {"sagebox:session": self.session}
        )
        return self.inner.list_buckets()

    def bucket_exists(self, bucket: str) -> bool:
        return self.inner.bucket_exists(bucket)

    # objects
    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes | BinaryIO | Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        request_tags = {f"aws:RequestTag/{k}": v for k, v in (tags or {}).items()}
        self._check("s3:PutObject", bucket, key, request_tags)
        return self.inner.put_object(
            bucket, key, body, content_type=content_type, metadata=metadata, tags=tags
        )

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        self._check("s3:GetObject", bucket, key, self._object_tags(bucket, key))
        return self.inner.open_object(bucket, key)

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        self._check("s3:GetObject", bucket, key, self._object_tags(bucket, key))
        return self.inner.head_object(bucket, key)

    def link_file(self, bucket: str, key: str, path: Path) -> tuple[ObjectInfo, bool]:
        self._check("s3:GetObject", bucket, key, self._object_tags(bucket, key))
        return self.inner.link_file(bucket, key, path)

    def delete_object(self, bucket: str, key: str) -> None:
        self._check("s3:DeleteObject", bucket, key)
        self.inner.delete_object(bucket, key)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> ListResult:
        self._check("s3:ListBucket", bucket, None, {"s3:prefix": prefix})
        return self.inner.list_objects(
            bucket,
            prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            continuation_token=continuation_token,
        )

    def get_object_tags(self, bucket: str, key: str) -> dict[str, str]:
        self._check("s3:GetObjectTagging", bucket, key)
        return self.inner.get_object_tags(bucket, key)

    def put_object_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        self._check("s3:PutObjectTagging", bucket, key)
        self.inner.put_object_tags(bucket, key, tags)


def role_objects(home: Home, spec: JobSpec) -> ObjectStore:
    """The ``JobSpec.access`` factory: the object store as the job's role session."""
    from sagebox.control.execution_role import session_arn

    return RoleObjectStore(home, session_arn(home.account_id, spec.role_arn), spec.role_arn)


class CallerObjects(RoleObjectStore):
    """The home's objects with every access authorized as the query's caller."""

    def __init__(
        self,
        home: Home,
        caller: Principal,
        authorizer: Authorizer,
        context_keys: Mapping[str, Any] | None = None,
    ) -> None:
        self.inner = home.objects
        self.url = self.inner.url
        self.principal = caller
        # a role session's own policies travel in its context, as the server passes them
        self.session = dict((context_keys or {}).get("sagebox:session") or {})
        self.authorizer = authorizer  # type: ignore[assignment]
