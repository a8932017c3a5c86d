"""``sagebox s3 mb|rb|ls|cp|rm|sync``: the home's object store, in the style of ``aws s3``.

Commands take the same arguments and print the same lines as the AWS CLI
(``upload: ./a.csv to s3://loan-data/a.csv``), so scripts and habits carry over. A key
that is not a safe relative path on disk (``../x``, ``a//b``) is skipped with a warning when
downloading, never written outside the destination folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from sagebox.cli._common import HomeOption, aws_errors
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectInfo, ObjectStore, S3Uri, parse_s3_uri
from sagebox.store.objects.uri import is_s3_uri

app = typer.Typer(no_args_is_help=True, help="Object storage in the style of 'aws s3'.")

Recursive = Annotated[
    bool, typer.Option("--recursive", help="Act on every object under the prefix or folder.")
]


def _store(home: Path | None) -> ObjectStore:
    from sagebox.home import Home

    return Home.open(home).objects


def _folder(key: str) -> str:
    """``key`` as a folder prefix: ``raw`` becomes ``raw/``; the bucket's top stays ``""``."""
    return key if not key or key.endswith("/") else key + "/"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _content_type(path: Path) -> str | None:
    import mimetypes

    return mimetypes.guess_type(path.name)[0]


def _safe_relative(relative: str) -> bool:
    """Whether an object's key, below the prefix being copied, is a safe relative file path."""
    parts = relative.split("/")
    return all(part not in ("", ".", "..") and "\x00" not in part for part in parts)


def _local_files(root: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, path)`` of every file under ``root``, ordered by that path."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _objects(store: ObjectStore, uri: S3Uri) -> Iterator[tuple[str, ObjectInfo]]:
    """``(key below the folder, info)`` for the objects under ``uri`` taken as a folder.

    Folder markers (keys ending in ``/``) are skipped, as ``aws s3`` does.
    """
    prefix = _folder(uri.key)
    for info in store.iter_objects(uri.bucket, prefix):
        if not info.key.endswith("/"):
            yield info.key[len(prefix) :], info


# transfers: each prints the AWS CLI's line for what it did
def _upload(store: ObjectStore, source: Path, shown: str, target: S3Uri) -> None:
    store.put_object(target.bucket, target.key, source, content_type=_content_type(source))
    typer.echo(f"upload: {shown} to {target}")


def _download(store: ObjectStore, source: S3Uri, target: Path, shown: str) -> None:
    try:
        info = store.download_file(source.bucket, source.key, target)
    except OSError as exc:  # e.g. a file where the key needs a folder
        raise ValidationError(
            f"download failed: {source} to {shown}: {exc.strerror or exc}. Choose another "
            "destination, or move what is in the way."
        ) from None
    stamp = info.last_modified.timestamp()
    os.utime(target, (stamp, stamp))  # so that a later sync sees the file as up to date
    typer.echo(f"download: {source} to {shown}")


def _copy(store: ObjectStore, source: S3Uri, target: S3Uri) -> None:
    info, stream = store.open_object(source.bucket, source.key)
    with stream:
        store.put_object(
            target.bucket,
            target.key,
            stream,
            content_type=info.content_type,
            metadata=info.metadata,
        )
    typer.echo(f"copy: {source} to {target}")


def _skip(uri: S3Uri) -> None:
    typer.echo(
        f"warning: Skipping file {uri}. Its key is not a safe relative path on disk "
        "(it holds '', '.' or '..' segments).",
        err=True,
    )


def _source_file(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise ValidationError(f"The user-provided path {text} does not exist. Check the path.")
    if path.is_dir():
        raise ValidationError(f"{text} is a folder. Add --recursive to copy the files inside it.")
    return path


def _source_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ValidationError(
            f"The user-provided path {text} is not a folder. Drop --recursive to copy one file."
        )
    return path


@app.command()
@aws_errors()
def mb(
    uri: Annotated[str, typer.Argument(help="The bucket to make, as s3://bucket.")],
    home: HomeOption = None,
) -> None:
    """Make a bucket."""
    target = parse_s3_uri(uri)
    if target.key:
        raise ValidationError(f"mb makes a bucket and takes s3://bucket; got {uri}. Drop the key.")
    _store(home).create_bucket(target.bucket)
    typer.echo(f"make_bucket: {target.bucket}")


@app.command()
@aws_errors()
def rb(
    uri: Annotated[str, typer.Argument(help="The bucket to remove, as s3://bucket.")],
    force: Annotated[
        bool, typer.Option("--force", help="Delete every object first, then the bucket.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Remove a bucket; it must be empty unless --force is given."""
    target = parse_s3_uri(uri)
    if target.key:
        raise ValidationError(
            f"rb removes a bucket and takes s3://bucket; got {uri}. Drop the key."
        )
    store = _store(home)
    if force:
        for info in list(store.iter_objects(target.bucket)):
            store.delete_object(target.bucket, info.key)
            typer.echo(f"delete: s3://{target.bucket}/{info.key}")
    store.delete_bucket(target.bucket)
    typer.echo(f"remove_bucket: {target.bucket}")


@app.command()
@aws_errors()
def ls(
    uri: Annotated[
        str | None, typer.Argument(help="s3://bucket[/prefix]; without it, list buckets.")
    ] = None,
    recursive: Recursive = False,
    home: HomeOption = None,
) -> None:
    """List buckets, or the objects and folders (PRE) under a prefix."""
    store = _store(home)
    if uri is None:
        for bucket in store.list_buckets():
            typer.echo(f"{_timestamp(bucket.creation_date)} {bucket.name}")
        return
    target = parse_s3_uri(uri)
    found = False
    if recursive:
        for info in store.iter_objects(target.bucket, target.key):
            found = True
            typer.echo(f"{_timestamp(info.last_modified)} {info.size:>10} {info.key}")
    else:
        # Names are shown relative to the prefix's folder, as aws s3 ls does.
        shown_from = target.key.rfind("/") + 1
        token: str | None = None
        while True:
            page = store.list_objects(
                target.bucket, target.key, delimiter="/", continuation_token=token
            )
            for prefix in page.common_prefixes:
                found = True
                typer.echo(f"{'PRE':>30} {prefix[shown_from:]}")
            for info in page.objects:
                found = True
                name = info.key[shown_from:]
                typer.echo(f"{_timestamp(info.last_modified)} {info.size:>10} {name}")
            token = page.next_token
            if token is None:
                break
    if not found and target.key:
        raise typer.Exit(1)  # aws s3 ls exits 1 when nothing matches


@app.command()
@aws_errors()
def cp(
    source: Annotated[str, typer.Argument(help="A local path or s3://bucket/key.")],
    destination: Annotated[str, typer.Argument(help="A local path or s3://bucket/key.")],
    recursive: Recursive = False,
    home: HomeOption = None,
) -> None:
    """Copy a file or object: local to S3, S3 to local, or S3 to S3."""
    if not is_s3_uri(source) and not is_s3_uri(destination):
        raise ValidationError(
            f"cp copies to or from S3, but neither {source} nor {destination} is an s3:// "
            "URI. Use the shell's cp for local copies."
        )
    store = _store(home)
    if not is_s3_uri(source):
        target = parse_s3_uri(destination)
        if recursive:
            folder = _source_folder(source)
            for relative, path in _local_files(folder):
                shown = os.path.join(source, relative)
                _upload(store, path, shown, target.join(relative))
        else:
            path = _source_file(source)
            if not target.key or target.key.endswith("/"):
                target = target.join(path.name)
            _upload(store, path, source, target)
        return
    origin = parse_s3_uri(source)
    if recursive:
        # Listed in full first: a copy into the same prefix must not be copied again.
        for relative, info in list(_objects(store, origin)):
            item = S3Uri(info.bucket, info.key)
            if not is_s3_uri(destination):
                if not _safe_relative(relative):
                    _skip(item)
                    continue
                target_path = Path(destination, relative)
                _download(store, item, target_path, os.path.join(destination, relative))
            else:
                _copy(store, item, parse_s3_uri(destination).join(relative))
        return
    if not origin.key or origin.key.endswith("/"):
        raise ValidationError(
            f"{source} names a folder, not an object. Add --recursive to copy what it holds."
        )
    name = origin.key.rsplit("/", 1)[-1]
    if is_s3_uri(destination):
        target = parse_s3_uri(destination)
        if not target.key or target.key.endswith("/"):
            target = target.join(name)
        _copy(store, origin, target)
        return
    path = Path(destination)
    shown = destination
    if path.is_dir() or destination.endswith(("/", os.sep)):
        path, shown = path / name, os.path.join(destination, name)
    _download(store, origin, path, shown)


@app.command()
@aws_errors()
def rm(
    uri: Annotated[str, typer.Argument(help="s3://bucket/key, or a prefix with --recursive.")],
    recursive: Recursive = False,
    home: HomeOption = None,
) -> None:
    """Delete an object, or every object under a prefix with --recursive."""
    target = parse_s3_uri(uri)
    store = _store(home)
    if not recursive:
        if not target.key:
            raise ValidationError(
                f"{uri} names a whole bucket. Add --recursive to delete every object."
            )
        store.delete_object(target.bucket, target.key)
        typer.echo(f"delete: {target}")
        return
    for info in list(store.iter_objects(target.bucket, _folder(target.key))):
        store.delete_object(target.bucket, info.key)
        typer.echo(f"delete: s3://{target.bucket}/{info.key}")


@app.command()
@aws_errors()
def sync(
    source: Annotated[str, typer.Argument(help="A local folder or s3://bucket/prefix.")],
    destination: Annotated[str, typer.Argument(help="A local folder or s3://bucket/prefix.")],
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete files at the destination not in the source.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Copy new and changed files between a folder and a prefix (by size and time, or ETag)."""
    if not is_s3_uri(source) and not is_s3_uri(destination):
        raise ValidationError(
            f"sync needs an s3:// URI on at least one side; got {source} and {destination}."
        )
    store = _store(home)
    if not is_s3_uri(source):
        _sync_up(store, _source_folder(source), source, parse_s3_uri(destination), delete)
    elif not is_s3_uri(destination):
        _sync_down(store, parse_s3_uri(source), Path(destination), destination, delete)
    else:
        _sync_across(store, parse_s3_uri(source), parse_s3_uri(destination), delete)


def _sync_up(store: ObjectStore, folder: Path, shown: str, target: S3Uri, delete: bool) -> None:
    existing = dict(_objects(store, target))
    for relative, path in _local_files(folder):
        info = existing.pop(relative, None)
        stat = path.stat()
        if info is None or info.size != stat.st_size or int(stat.st_mtime) > _seconds(info):
            _upload(store, path, os.path.join(shown, relative), target.join(relative))
    if delete:
        for info in existing.values():
            store.delete_object(info.bucket, info.key)
            typer.echo(f"delete: s3://{info.bucket}/{info.key}")


def _sync_down(store: ObjectStore, origin: S3Uri, folder: Path, shown: str, delete: bool) -> None:
    wanted: set[str] = set()
    for relative, info in _objects(store, origin):
        item = S3Uri(info.bucket, info.key)
        if not _safe_relative(relative):
            _skip(item)
            continue
        wanted.add(relative)
        path = folder / relative
        try:
            stat = path.stat()
            current = stat.st_size == info.size and int(stat.st_mtime) >= _seconds(info)
        except FileNotFoundError:
            current = False
        if not current:
            _download(store, item, path, os.path.join(shown, relative))
    if delete and folder.is_dir():
        for relative, path in _local_files(folder):
            if relative not in wanted:
                path.unlink()
                typer.echo(f"delete: {os.path.join(shown, relative)}")


def _sync_across(store: ObjectStore, origin: S3Uri, target: S3Uri, delete: bool) -> None:
    existing = dict(_objects(store, target))
    for relative, info in list(_objects(store, origin)):
        there = existing.pop(relative, None)
        if there is None or (there.size, there.etag) != (info.size, info.etag):
            _copy(store, S3Uri(info.bucket, info.key), target.join(relative))
    if delete:
        for info in existing.values():
            store.delete_object(info.bucket, info.key)
            typer.echo(f"delete: s3://{info.bucket}/{info.key}")


def _seconds(info: ObjectInfo) -> int:
    return int(info.last_modified.timestamp())
