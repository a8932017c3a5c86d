"""Choose an object-store backend by URL.

============================  =============================================================
``file:///abs/path``, a path  :class:`~sagebox.store.objects.local.LocalObjectStore` there
``s3+http://host:port``       :class:`~sagebox.store.objects.s3.S3ObjectStore` at that endpoint
``s3+https://host[:port]``    the same over TLS (MinIO, another sagebox, any S3-compatible)
``s3://``                     AWS S3 itself (the default endpoint of the region)
============================  =============================================================

S3 URLs take ``?region=...&profile=...``; credentials otherwise come from boto3's default
chain (environment, ``~/.aws``, instance roles). Backends are imported only when chosen.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sagebox.errors import ValidationError
from sagebox.store.objects._base import ObjectStore

SCHEMES = ("file", "s3", "s3+http", "s3+https")
_S3_PARAMS = ("region", "profile")


def open_object_store(url: str | os.PathLike[str]) -> ObjectStore:
    """The object store that ``url`` names (see the module docstring for the forms)."""
    text = os.fspath(url)
    if "://" not in text:
        if not text:
            raise ValidationError(
                "The object store URL is empty. Pass a folder path, file:///abs/path, "
                "s3+http://host:port or s3://."
            )
        return _local(Path(text))
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        return _local(_file_path(text))
    if scheme in ("s3", "s3+http", "s3+https"):
        return _s3(text, scheme)
    raise ValidationError(
        f"The object store URL {text!r} has the unknown scheme {scheme!r}. Use one of "
        f"{', '.join(s + '://' for s in SCHEMES)} or a plain folder path."
    )


def _local(root: Path) -> ObjectStore:
    from sagebox.store.objects.local import LocalObjectStore

    return LocalObjectStore(root)


def _file_path(url: str) -> Path:
    # Parsed by hand, not with urlsplit: a folder name may hold '?' or '#'.
    rest = url[len("file://") :]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost") :]
    if not rest.startswith("/"):
        raise ValidationError(
            f"The file URL {url!r} must hold an absolute path. Write it as file:///abs/path "
            "(three slashes), or pass the folder path itself."
        )
    return Path(unquote(rest))


def _s3(url: str, scheme: str) -> ObjectStore:
    parts = urlsplit(url)
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValidationError(
            f"The query of the object store URL {url!r} is malformed. Write it as "
            "?region=eu-west-1&profile=NAME."
        ) from None
    unknown = sorted(set(query) - set(_S3_PARAMS))
    if unknown:
        raise ValidationError(
            f"The object store URL {url!r} has unknown parameters {unknown}. Only "
            f"{', '.join(_S3_PARAMS)} are accepted."
        )
    options = {name: values[-1] or None for name, values in query.items()}
    if parts.path not in ("", "/") or parts.fragment:
        raise ValidationError(
            f"The object store URL {url!r} has a path; a store URL names an endpoint, not a "
            "bucket. Drop the path (buckets are chosen per call)."
        )
    if scheme == "s3":
        if parts.netloc:
            raise ValidationError(
                f"The object store URL {url!r} names a host after s3://; s3:// means AWS's "
                "own endpoint. Write s3+https://host[:port] for another endpoint."
            )
        endpoint = None
    else:
        if not parts.netloc:
            raise ValidationError(
                f"The object store URL {url!r} names no host. Write it as {scheme}://host:port."
            )
        endpoint = f"{scheme.removeprefix('s3+')}://{parts.netloc}"

    from sagebox.store.objects.s3 import S3ObjectStore

    return S3ObjectStore(endpoint, options.get("region"), options.get("profile"), url=url)
