"""Which data a training job read: one content hash per input channel.

A channel's hash is a sha256 over the sorted ``(key, size, etag)`` of its objects, with
keys relative to the channel's prefix: the same files give the same hash wherever they
are uploaded, and any changed, added or removed file changes it. It needs no object to be
read (ETags are content digests), so hashing a large channel costs one listing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from sagebox.store.objects import ObjectInfo, ObjectStore, parse_s3_uri


@dataclass(frozen=True)
class ChannelInput:
    """One input channel of a training job, as its request named it."""

    name: str
    s3_uri: str
    data_type: str = "S3Prefix"  # or ManifestFile / AugmentedManifestFile


@dataclass(frozen=True)
class ChannelDigest:
    channel: ChannelInput
    sha256: str
    objects: int
    size: int


def content_hash(objects: Iterable[tuple[str, int, str]]) -> str:
    """sha256 over ``(key, size, etag)`` triples, in key order."""
    digest = hashlib.sha256()
    for key, size, etag in sorted(objects):
        digest.update(json.dumps([key, size, etag.strip('"')]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def channel_digest(store: ObjectStore, channel: ChannelInput) -> ChannelDigest:
    """The content hash of what ``channel`` covers now (a prefix, or a manifest's list)."""
    uri = parse_s3_uri(channel.s3_uri)
    infos: list[ObjectInfo]
    if channel.data_type == "S3Prefix":
        base = uri.key
        infos = list(store.iter_objects(uri.bucket, uri.key))
    else:
        # A manifest: [{"prefix": "s3://bucket/base/"}, "relative/key", ...]
        entries = json.loads(store.get_object(uri.bucket, uri.key))
        base_uri = parse_s3_uri(entries[0]["prefix"])
        base = base_uri.key
        infos = [store.head_object(base_uri.bucket, base + str(k)) for k in entries[1:]]
    triples = [
        (info.key[len(base) :], info.size, info.etag)
        for info in infos
        if not info.key.endswith("/")  # folder placeholders hold no data
    ]
    return ChannelDigest(
        channel=channel,
        sha256=content_hash(triples),
        objects=len(triples),
        size=sum(size for _, size, _ in triples),
    )
