"""The object store: S3 semantics (buckets, keys, metadata, tags, paged listings).

Open one by URL with :func:`open_object_store`: a folder (the default, inside the home) or
any S3-compatible endpoint. :func:`parse_s3_uri` reads ``s3://bucket/key`` URIs.
"""

from sagebox.store.objects._base import BucketInfo, ListResult, ObjectInfo, ObjectStore
from sagebox.store.objects.factory import open_object_store
from sagebox.store.objects.uri import S3Uri, parse_s3_uri

__all__ = [
    "BucketInfo",
    "ListResult",
    "ObjectInfo",
    "ObjectStore",
    "S3Uri",
    "open_object_store",
    "parse_s3_uri",
]
