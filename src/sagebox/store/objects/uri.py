"""``s3://bucket/key`` URIs and S3's bucket naming rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sagebox.errors import ValidationError
from sagebox.store.objects.keys import MAX_KEY_BYTES

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
# Prefixes and suffixes that AWS reserves for access points, aliases and directory buckets.
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid S3 bucket name, or None when it is."""
    if not isinstance(name, str):
        return f"a bucket name must be a string, not {type(name).__name__}"
    if not 3 <= len(name) <= 63:
        return f"a bucket name must be 3 to 63 characters long, this one has {len(name)}"
    if not _BUCKET_CHARS.fullmatch(name):
        return "a bucket name may hold only lowercase letters, digits, '.' and '-'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "a bucket name must begin and end with a lowercase letter or a digit"
    if ".." in name:
        return "a bucket name must not hold two adjacent periods"
    if _IP_ADDRESS.fullmatch(name):
        return "a bucket name must not look like an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"the prefix {prefix!r} is reserved by AWS"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"the suffix {suffix!r} is reserved by AWS"
    return None


def validate_bucket_name(name: str) -> None:
    """Raise ValidationError unless ``name`` follows S3's bucket naming rules."""
    problem = bucket_name_problem(name)
    if problem:
        raise ValidationError(
            f"Invalid bucket name {name!r}: {problem}. Choose a name such as 'loan-data-2024'."
        )


@dataclass(frozen=True)
class S3Uri:
    """A parsed ``s3://bucket/key`` URI; ``key`` is ``""`` for the whole bucket."""

    bucket: str
    key: str = ""

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket)
        if len(self.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise ValidationError(
                f"The key of s3://{self.bucket}/{self.key[:40]}... is longer than "
                f"{MAX_KEY_BYTES} bytes, S3's limit. Use a shorter key."
            )

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def arn(self) -> str:
        """The AWS ARN of this bucket or object, as IAM policies name it."""
        return (
            f"arn:aws:s3:::{self.bucket}/{self.key}" if self.key else f"arn:aws:s3:::{self.bucket}"
        )

    def join(self, name: str) -> S3Uri:
        """The URI of ``name`` under this one taken as a folder (a ``/`` is added if missing)."""
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, base + name)


def is_s3_uri(text: str) -> bool:
    """Whether ``text`` is meant as an S3 URI (starts with ``s3://``, any case)."""
    return text[:5].lower() == "s3://"


def parse_s3_uri(text: str) -> S3Uri:
    """Parse ``s3://bucket``, ``s3://bucket/`` or ``s3://bucket/prefix/key`` into an :class:`S3Uri`.

    The key is taken verbatim (no percent-decoding), as the AWS CLI does.
    """
    if not isinstance(text, str) or not text.startswith("s3://"):
        raise ValidationError(
            f"Expected an S3 URI of the form s3://bucket/key; got {text!r}. "
            "Start it with 's3://' (lower case)."
        )
    bucket, _, key = text[len("s3://") :].partition("/")
    if not bucket:
        raise ValidationError(f"The S3 URI {text!r} names no bucket. Write it as s3://bucket/key.")
    problem = bucket_name_problem(bucket)
    if problem:
        raise ValidationError(
            f"The S3 URI {text!r} has an invalid bucket name {bucket!r}: {problem}. "
            "Write it as s3://bucket/key with a valid bucket name."
        )
    return S3Uri(bucket, key)
