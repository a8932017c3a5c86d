"""The S3 backend: any S3-compatible service (AWS S3, MinIO, sagebox's own server) via boto3.

boto3 is imported when a store is made, not when this module is, so choosing a backend by
URL costs nothing until it is used. botocore errors become sagebox errors in one function,
:func:`_translate`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode

from sagebox.errors import (
    AccessDenied,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InternalError,
    NoSuchBucket,
    NoSuchKey,
    ResourceInUse,
    SageboxError,
    ThrottlingError,
    ValidationError,
)
from sagebox.store.objects._base import BucketInfo, ListResult, ObjectInfo, ObjectStore
from sagebox.store.objects.attributes import (
    clamp_max_keys,
    content_type_or_default,
    frozen,
    normalize_metadata,
    normalize_tags,
)
from sagebox.store.objects.keys import validate_key
from sagebox.store.objects.uri import validate_bucket_name

_VALIDATION_CODES = {
    "InvalidBucketName",
    "KeyTooLongError",
    "InvalidArgument",
    "InvalidTag",
    "MalformedXML",
    "MetadataTooLarge",
    "EntityTooLarge",
    "InvalidRequest",
    "InvalidToken",
}
_ACCESS_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "ExpiredToken",
}
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}
_MULTIPART_THRESHOLD = 64 * 1024 * 1024


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


class S3ObjectStore(ObjectStore):
    """S3 semantics by delegation to an S3 endpoint; ``endpoint_url=None`` is AWS itself."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        *,
        url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        self.url = url or (f"s3+{endpoint_url}" if endpoint_url else "s3://")
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except BotoCoreError as exc:  # ProfileNotFound and kin
            raise ValidationError(
                f"Could not open the AWS profile {profile!r}: {exc}. Name a profile from "
                "~/.aws/config, or drop '?profile=' to use the default credential chain."
            ) from None
        self.region = session.region_name or "us-east-1"
        # Path-style addressing: S3-compatible servers on a host:port rarely resolve
        # bucket.host names.
        style = "path" if endpoint_url else "auto"
        self._client: Any = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=self.region,
            config=Config(s3={"addressing_style": style}, retries={"mode": "standard"}),
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.url!r})"

    # errors
    @contextmanager
    def _errors(self, bucket: str, key: str | None = None) -> Iterator[None]:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            raise self._translate(exc, bucket, key) from exc
        except S3UploadFailedError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError):
                raise self._translate(cause, bucket, key) from exc
            raise InternalError(f"Uploading to s3://{bucket}/{key} failed: {exc}.") from exc
        except BotoCoreError as exc:
            raise _botocore_error(exc, self.url) from exc

    def _translate(self, exc: Any, bucket: str, key: str | None) -> SageboxError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or str(exc)
        where = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
        if code in ("404", "NotFound"):  # HEAD responses carry no body to say what is missing
            code = "NoSuchKey" if key is not None and self.bucket_exists(bucket) else "NoSuchBucket"
        if code == "NoSuchBucket":
            return NoSuchBucket(
                f"The bucket {bucket!r} does not exist at {self.url}. Create it first "
                f"('sagebox s3 mb s3://{bucket}' or create_bucket)."
            )
        if code == "NoSuchKey":
            return NoSuchKey(
                f"The key {key!r} does not exist in bucket {bucket!r}. Check the key with "
                f"list_objects ('sagebox s3 ls --recursive s3://{bucket}/')."
            )
        if code == "BucketAlreadyOwnedByYou":
            return _already_yours(bucket)
        if code == "BucketAlreadyExists":
            return ResourceInUse(
                f"The bucket name {bucket!r} is taken by another account (S3 bucket names are "
                "global). Choose another name."
            )
        if code == "BucketNotEmpty":
            return BucketNotEmpty(
                f"The bucket {bucket!r} is not empty. Delete its objects first, or run "
                f"'sagebox s3 rb --force s3://{bucket}'."
            )
        if code in _VALIDATION_CODES:
            return ValidationError(f"{where}: {message} ({code}).")
        if code in _ACCESS_CODES:
            return AccessDenied(
                f"Access to {where} was denied ({code}: {message}). Check the credentials "
                "and the policies that apply to them."
            )
        if code in _THROTTLE_CODES:
            return ThrottlingError(f"{self.url} throttled a request on {where}. Retry later.")
        return InternalError(f"The S3 endpoint failed a request on {where}: {code}: {message}.")

    # buckets
    def create_bucket(self, bucket: str) -> None:
        validate_bucket_name(bucket)
        # In us-east-1 AWS answers 200 to re-creating one's own bucket; look first.
        if self.bucket_exists(bucket):
            raise _already_yours(bucket)
        args: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with self._errors(bucket):
            self._client.create_bucket(**args)

    def delete_bucket(self, bucket: str) -> None:
        with self._errors(bucket):
            self._client.delete_bucket(Bucket=bucket)

    def list_buckets(self) -> list[BucketInfo]:
        with self._errors("*"):
            response = self._client.list_buckets()
        return sorted(
            (BucketInfo(b["Name"], _utc(b["CreationDate"])) for b in response.get("Buckets", [])),
            key=lambda b: b.name,
        )

    def bucket_exists(self, bucket: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors(bucket):
            try:
                self._client.head_bucket(Bucket=bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                    return False
                raise
        return True

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
        validate_key(key)
        if isinstance(body, str):
            raise ValidationError(
                "An object body must be bytes, a binary stream or a pathlib.Path; got a str "
                f"({body[:40]!r}). Encode text first, or wrap a file name in Path(...)."
            )
        extra: dict[str, Any] = {
            "ContentType": content_type_or_default(content_type),
            "Metadata": normalize_metadata(metadata),
        }
        tag_set = normalize_tags(tags)
        if tag_set:
            extra["Tagging"] = urlencode(tag_set)
        with self._errors(bucket, key):
            if isinstance(body, bytes | bytearray | memoryview):
                self._client.put_object(Bucket=bucket, Key=key, Body=bytes(body), **extra)
            elif isinstance(body, Path):
                if not body.is_file():
                    raise ValidationError(
                        f"The file {str(body)!r} to upload does not exist or is a folder. "
                        "Pass the path of an existing file."
                    )
                with body.open("rb") as stream:
                    self._upload(stream, bucket, key, extra)
            else:
                self._upload(body, bucket, key, extra)
        return self.head_object(bucket, key)

    def _upload(self, stream: BinaryIO, bucket: str, key: str, extra: dict[str, Any]) -> None:
        from boto3.s3.transfer import TransferConfig

        # upload_fileobj streams in parts above the threshold: memory stays bounded.
        config = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD, use_threads=False)
        self._client.upload_fileobj(stream, bucket, key, ExtraArgs=extra, Config=config)

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        validate_key(key)
        with self._errors(bucket, key):
            response = self._client.get_object(Bucket=bucket, Key=key)
        return self._info(bucket, key, response), cast(BinaryIO, response["Body"])

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        validate_key(key)
        with self._errors(bucket, key):
            response = self._client.head_object(Bucket=bucket, Key=key)
        return self._info(bucket, key, response)

    @staticmethod
    def _info(bucket: str, key: str, response: Mapping[str, Any]) -> ObjectInfo:
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(response["ContentLength"]),
            etag=str(response["ETag"]),
            last_modified=_utc(response["LastModified"]),
            content_type=str(response.get("ContentType") or "binary/octet-stream"),
            metadata=frozen(response.get("Metadata", {})),
        )

    def delete_object(self, bucket: str, key: str) -> None:
        validate_key(key)
        with self._errors(bucket, key):
            self._client.delete_object(Bucket=bucket, Key=key)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> ListResult:
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxKeys": clamp_max_keys(max_keys),
        }
        if delimiter:
            args["Delimiter"] = delimiter
        if continuation_token is not None:
            args["ContinuationToken"] = continuation_token
        with self._errors(bucket):
            response = self._client.list_objects_v2(**args)
        objects = tuple(
            ObjectInfo(
                bucket=bucket,
                key=item["Key"],
                size=int(item["Size"]),
                etag=str(item["ETag"]),
                last_modified=_utc(item["LastModified"]),
            )
            for item in response.get("Contents", [])
        )
        prefixes = tuple(p["Prefix"] for p in response.get("CommonPrefixes", []))
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListResult(objects=objects, common_prefixes=prefixes, next_token=token)

    def get_object_tags(self, bucket: str, key: str) -> dict[str, str]:
        validate_key(key)
        with self._errors(bucket, key):
            response = self._client.get_object_tagging(Bucket=bucket, Key=key)
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    def put_object_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        validate_key(key)
        tag_set = [{"Key": k, "Value": v} for k, v in normalize_tags(tags).items()]
        with self._errors(bucket, key):
            self._client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})


def _already_yours(bucket: str) -> BucketAlreadyOwnedByYou:
    return BucketAlreadyOwnedByYou(
        f"The bucket {bucket!r} already exists and is yours. Use it as it is, or choose "
        "another name."
    )


def _botocore_error(exc: Exception, url: str) -> SageboxError:
    """A sagebox error for a botocore failure that never reached the service."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return AccessDenied(
            f"No AWS credentials were found for {url} ({exc}). Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or add '?profile=NAME' to the store URL."
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return InternalError(
            f"Could not reach the S3 endpoint of {url} ({exc}). Check that it runs and "
            "that the URL's host and port are right."
        )
    if name == "ParamValidationError":
        return ValidationError(f"The request was refused before sending: {exc}")
    return InternalError(f"The S3 client failed: {name}: {exc}.")
