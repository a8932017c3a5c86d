"""Moving data between the object store and an instance's folder.

Staging failures raise :class:`StagingError`, whose message becomes the job's
``FailureReason`` (AWS prefixes such reasons with ``ClientError:``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from sagebox.errors import SageboxError
from sagebox.runtime.spec import InputChannel, OutputChannel, host_path
from sagebox.store.objects import ObjectStore, parse_s3_uri


class StagingError(Exception):
    """A problem with a job's data that is the caller's to fix."""


def _relative_path(prefix: str, key: str) -> PurePosixPath:
    rest = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
    relative = PurePosixPath(rest)
    if not rest or relative.is_absolute() or any(p in ("..", ".", "") for p in rest.split("/")):
        raise StagingError(
            f"The object key {key!r} cannot be staged as a file (it has an empty, '.' or '..' "
            "path segment). Rename the object or narrow the S3Uri."
        )
    return relative


def list_channel_keys(store: ObjectStore, channel: InputChannel) -> tuple[str, list[str]]:
    """The bucket and the object keys a channel covers, in key order."""
    uri = parse_s3_uri(channel.s3_uri)
    try:
        if channel.data_type == "ManifestFile":
            entries = json.loads(store.get_object(uri.bucket, uri.key))
            base = entries[0]["prefix"]
            base_uri = parse_s3_uri(base)
            keys = [base_uri.key + str(k) for k in entries[1:]]
            return base_uri.bucket, keys
        keys = [info.key for info in store.iter_objects(uri.bucket, uri.key)]
    except SageboxError as exc:
        if channel.optional and exc.code == "NoSuchBucket":
            return uri.bucket, []
        raise StagingError(
            f"Could not read input '{channel.name}' at {channel.s3_uri}: {exc.message}"
        ) from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise StagingError(
            f"The manifest {channel.s3_uri} of input '{channel.name}' is not a valid manifest "
            f'({exc}). A manifest is a JSON list: {{"prefix": "s3://..."}} then keys.'
        ) from None
    keys = [k for k in keys if not k.endswith("/")]  # folder placeholders hold no data
    if not keys and not channel.optional:
        raise StagingError(
            f"No objects found under {channel.s3_uri} for input '{channel.name}'. "
            "Check the URI, or upload the data first (sagebox s3 cp ...)."
        )
    return uri.bucket, keys


def shard(keys: list[str], channel: InputChannel, index: int, count: int) -> list[str]:
    """The keys instance ``index`` of ``count`` receives (ShardedByS3Key: round robin)."""
    if channel.distribution == "ShardedByS3Key":
        return keys[index::count]
    return keys


def stage_input(
    store: ObjectStore,
    channel: InputChannel,
    bucket: str,
    keys: Iterable[str],
    instance_root: Path,
) -> int:
    """Put ``keys`` in the channel's folder; returns the bytes written to disk.

    File mode downloads; FastFile links the store's own files where it can (nothing
    copied, read on access) and downloads otherwise.
    """
    target = host_path(instance_root, channel.container_path)
    target.mkdir(parents=True, exist_ok=True)
    prefix = parse_s3_uri(channel.s3_uri).key if channel.data_type == "S3Prefix" else ""
    total = 0
    for key in keys:
        relative = _relative_path(prefix, key)
        try:
            if channel.input_mode == "FastFile":
                info, linked = store.link_file(bucket, key, target / relative)
            else:
                info, linked = store.download_file(bucket, key, target / relative), False
        except SageboxError as exc:
            raise StagingError(
                f"Could not stage s3://{bucket}/{key} for input '{channel.name}': {exc.message}"
            ) from None
        total += 0 if linked else info.size
    return total


def upload_output(
    store: ObjectStore,
    channel: OutputChannel,
    instance_root: Path,
    seen: dict[str, tuple[int, int]] | None = None,
) -> int:
    """Upload the files of an output folder under its S3 prefix; returns files uploaded.

    With ``seen`` (path -> (size, mtime)), unchanged files are skipped: continuous mode.
    """
    source = host_path(instance_root, channel.container_path)
    if not source.is_dir():
        return 0
    uri = parse_s3_uri(channel.s3_uri)
    base = uri.key.rstrip("/")
    uploaded = 0
    for dirpath, _dirs, files in os.walk(source):
        for filename in sorted(files):
            path = Path(dirpath) / filename
            relative = path.relative_to(source).as_posix()
            key = f"{base}/{relative}" if base else relative
            try:
                if seen is not None:
                    stat = path.stat()
                    state = (stat.st_size, stat.st_mtime_ns)
                    if seen.get(relative) == state:
                        continue
                    seen[relative] = state
                store.put_object(uri.bucket, key, path)
            except FileNotFoundError:
                continue  # removed by the program while we walked (an old checkpoint)
            except SageboxError as exc:
                raise StagingError(
                    f"Could not upload output '{channel.name}' to s3://{uri.bucket}/{key}: "
                    f"{exc.message}"
                ) from None
            uploaded += 1
    return uploaded


def pack_folder(store: ObjectStore, folder: Path, s3_uri: str) -> bool:
    """Pack ``folder`` as a tar.gz at ``s3_uri`` when it holds any file (output.tar.gz)."""
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        return False
    pack_model(store, folder, s3_uri)
    return True


def pack_model(store: ObjectStore, model_dir: Path, s3_uri: str) -> None:
    """Pack ``model_dir`` as model.tar.gz (paths relative to it, as SageMaker does) at s3_uri."""
    import tarfile
    import tempfile

    uri = parse_s3_uri(s3_uri)
    with tempfile.NamedTemporaryFile(suffix=".tar.gz") as packed:
        with tarfile.open(fileobj=packed, mode="w:gz") as tar:
            for path in sorted(model_dir.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=path.relative_to(model_dir).as_posix())
        packed.flush()
        try:
            store.put_object(
                uri.bucket, uri.key, Path(packed.name), content_type="application/x-gzip"
            )
        except SageboxError as exc:
            raise StagingError(f"Could not upload the model to {s3_uri}: {exc.message}") from None
