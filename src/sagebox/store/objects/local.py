"""The local folder backend: each object is a file at ``<root>/<bucket>/<key>``.

Keys map to paths through :mod:`sagebox.store.objects.keys`, so ``raw/german_credit.csv`` is
that very file, while hostile keys stay inside their bucket's folder. A key that is also a
folder (``a`` next to ``a/b``) keeps its body at ``a/%self``; turning the file ``a`` into
that folder is journaled, and a move that a crash interrupts is finished when the store is
next opened. Besides the buckets,
the root holds three folders whose names no bucket can take (bucket names never start
with a dot):

- ``.sagebox-staging/``: bodies and sidecars being written, on the same file system so a
  finished write is one ``os.replace``; a crashed writer leaves only a file here, never
  something that is listed or read;
- ``.sagebox-meta/<bucket>/``: ``bucket.json`` (creation date) and one JSON sidecar per
  object, named by the SHA-256 of the key, with its ETag, content type, user metadata, tags
  and last-modified time. The sidecar records the inode, size and mtime of the body it
  describes; a body written without one (a crash between the two renames, or a file copied
  in by hand) is described from the file itself, its MD5 computed once;
- ``.sagebox-locks/``: ``flock`` files. Changes to a bucket's tree (renames, folder
  creation and removal) hold its lock exclusively and only for the renames; reads hold it
  shared while they open the body and read the sidecar, then stream without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sagebox.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    ValidationError,
)
from sagebox.store.objects._base import BucketInfo, ListResult, ObjectInfo, ObjectStore
from sagebox.store.objects.attributes import (
    clamp_max_keys,
    content_type_or_default,
    normalize_metadata,
    normalize_tags,
)
from sagebox.store.objects.keys import SELF_NAME, encode_key, validate_key
from sagebox.store.objects.local_tree import (
    Sidecar,
    decode_token,
    encode_token,
    now,
    open_body,
    stamp,
    walk,
)
from sagebox.store.objects.uri import bucket_name_problem, validate_bucket_name

logger = logging.getLogger(__name__)

STAGING_DIR = ".sagebox-staging"
META_DIR = ".sagebox-meta"
LOCKS_DIR = ".sagebox-locks"
_BUCKETS_LOCK = "_buckets"  # bucket names cannot hold "_", so no bucket's lock is named so
_CHUNK = 1024 * 1024
_STALE_SECONDS = 24 * 3600
_MAX_PATH_BYTES = 4000  # PATH_MAX is 4096; keep room for the reserved name inside a folder


class LocalObjectStore(ObjectStore):
    """S3 semantics over a folder; safe across threads and processes sharing the folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = self.root.as_uri()
        self._staging = self.root / STAGING_DIR
        self._meta = self.root / META_DIR
        self._locks = self.root / LOCKS_DIR
        for folder in (self._staging, self._meta, self._locks):
            folder.mkdir(parents=True, exist_ok=True)
        self._recover()

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    # locking and small file helpers
    @contextmanager
    def _locked(self, name: str, *, exclusive: bool) -> Iterator[None]:
        # A fresh open file description per call: flock then excludes other threads of this
        # process as well as other processes.
        fd = os.open(self._locks / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _stage_json(self, data: dict[str, Any]) -> Path:
        fd, name = tempfile.mkstemp(dir=self._staging, prefix="meta-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            os.unlink(name)
            raise
        return Path(name)

    def _write_json(self, path: Path, data: dict[str, Any]) -> None:
        staged = self._stage_json(data)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, path)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise

    # buckets
    def _bucket_dir(self, bucket: str) -> Path:
        validate_bucket_name(bucket)
        return self.root / bucket

    def _require_bucket(self, bucket: str) -> Path:
        path = self._bucket_dir(bucket)
        if not path.is_dir():
            raise NoSuchBucket(
                f"The bucket {bucket!r} does not exist in {self.url}. Create it first "
                f"('sagebox s3 mb s3://{bucket}' or create_bucket)."
            )
        return path

    def create_bucket(self, bucket: str) -> None:
        path = self._bucket_dir(bucket)
        with self._locked(_BUCKETS_LOCK, exclusive=True):
            if path.exists():
                raise BucketAlreadyOwnedByYou(
                    f"The bucket {bucket!r} already exists and is yours. Use it as it is, "
                    "or choose another name."
                )
            meta = self._meta / bucket
            shutil.rmtree(meta, ignore_errors=True)  # left by a delete that crashed midway
            self._write_json(meta / "bucket.json", {"creation_date": now().isoformat()})
            path.mkdir()

    def delete_bucket(self, bucket: str) -> None:
        path = self._bucket_dir(bucket)
        with (
            self._locked(_BUCKETS_LOCK, exclusive=True),
            self._locked(bucket, exclusive=True),
        ):
            if not path.is_dir():
                raise NoSuchBucket(
                    f"The bucket {bucket!r} does not exist in {self.url}, so it cannot be "
                    "deleted. Check the name with list_buckets ('sagebox s3 ls')."
                )
            # Any file at all counts, even one this store did not write: the folder is
            # removed whole, so only empty folders may remain in it.
            for _, _, files in os.walk(path):
                if files:
                    raise BucketNotEmpty(
                        f"The bucket {bucket!r} is not empty. Delete its objects first, or "
                        f"run 'sagebox s3 rb --force s3://{bucket}'."
                    )
            grave = self._staging / f"rb-{uuid.uuid4().hex}"
            os.rename(path, grave)
            shutil.rmtree(grave, ignore_errors=True)
            shutil.rmtree(self._meta / bucket, ignore_errors=True)

    def list_buckets(self) -> list[BucketInfo]:
        buckets = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if bucket_name_problem(entry.name) or not entry.is_dir(follow_symlinks=False):
                    continue
                try:
                    data = json.loads((self._meta / entry.name / "bucket.json").read_text())
                    created = datetime.fromisoformat(data["creation_date"])
                except (OSError, ValueError, KeyError):  # a folder made by hand
                    created = datetime.fromtimestamp(int(entry.stat().st_mtime), UTC)
                buckets.append(BucketInfo(entry.name, created))
        return sorted(buckets, key=lambda b: b.name)

    def bucket_exists(self, bucket: str) -> bool:
        return self._bucket_dir(bucket).is_dir()

    # object paths
    def _object_path(self, bucket_dir: Path, key: str) -> Path:
        path = bucket_dir.joinpath(*encode_key(key))
        size = len(os.fsencode(path)) + len(SELF_NAME) + 1
        if size > _MAX_PATH_BYTES:
            raise ValidationError(
                f"The key {key[:40]!r}... needs a {size}-byte path under {self.root}, more "
                "than the operating system allows. Use a shorter key, or a store root with a "
                "shorter path."
            )
        return path

    def _sidecar_path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._meta / bucket / "objects" / digest[:2] / f"{digest}.json"

    def _describe(self, bucket: str, key: str, fd: int, st: os.stat_result) -> Sidecar:
        """The sidecar of the open body ``fd``; rebuilt from the body if missing or stale."""
        path = self._sidecar_path(bucket, key)
        try:
            record = Sidecar.from_json(json.loads(path.read_text(encoding="utf-8")))
            if record.stamp == stamp(st):
                return record
        except (OSError, ValueError, KeyError, TypeError):
            pass
        digest = hashlib.md5(usedforsecurity=False)
        offset = 0
        while chunk := os.pread(fd, _CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        record = Sidecar(
            size=st.st_size,
            etag=f'"{digest.hexdigest()}"',
            last_modified=datetime.fromtimestamp(int(st.st_mtime), UTC),
            stamp=stamp(st),
        )
        try:
            self._write_json(path, record.to_json(key))
        except OSError as exc:  # a read-only store still reads
            logger.debug("could not cache the description of %s/%s: %s", bucket, key, exc)
        return record

    # objects
    def _stage_body(self, body: bytes | BinaryIO | Path) -> tuple[Path, str, os.stat_result]:
        """Copy ``body`` into a staged file; return its path, quoted MD5 ETag and stat."""
        if isinstance(body, str):
            raise ValidationError(
                "An object body must be bytes, a binary stream or a pathlib.Path; got a str "
                f"({body[:40]!r}). Encode text first, or wrap a file name in Path(...)."
            )
        digest = hashlib.md5(usedforsecurity=False)
        fd, name = tempfile.mkstemp(dir=self._staging, prefix="put-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(body, bytes | bytearray | memoryview):
                    digest.update(body)
                    out.write(body)
                elif isinstance(body, Path):
                    try:
                        source = body.open("rb")
                    except (FileNotFoundError, IsADirectoryError):
                        raise ValidationError(
                            f"The file {str(body)!r} to upload does not exist or is a folder. "
                            "Pass the path of an existing file."
                        ) from None
                    with source:
                        self._copy(source, out, digest)
                else:
                    self._copy(body, out, digest)
                out.flush()
                os.fsync(out.fileno())
                st = os.fstat(out.fileno())
        except BaseException:
            os.unlink(name)
            raise
        return Path(name), f'"{digest.hexdigest()}"', st

    @staticmethod
    def _copy(source: BinaryIO, out: BinaryIO, digest: Any) -> None:
        while chunk := source.read(_CHUNK):
            if isinstance(chunk, str):
                raise ValidationError(
                    "The body stream returned text, not bytes. Open the file in binary mode ('rb')."
                )
            digest.update(chunk)
            out.write(chunk)

    def _make_room(self, bucket: str, bucket_dir: Path, target: Path) -> Path:
        """Create the folders above ``target`` and return the file name its body takes.

        A folder that is needed but is an object's file (key ``a`` when writing ``a/b``) is
        turned into a folder holding that object as ``%self``. Runs under the bucket lock.
        """
        current = bucket_dir
        for name in target.relative_to(bucket_dir).parts[:-1]:
            current = current / name
            try:
                current.mkdir()
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(current).st_mode):
                    self._push_down(bucket, current)
        return target / SELF_NAME if target.is_dir() else target

    def _push_down(self, bucket: str, path: Path) -> None:
        """Turn the object file at ``path`` into ``path/%self``, journaled for crash recovery."""
        token = uuid.uuid4().hex
        journal = self._staging / f"move-{token}.json"
        work = self._staging / f"move-{token}"
        parts = list(path.relative_to(self.root / bucket).parts)
        self._write_json(journal, {"bucket": bucket, "parts": parts})
        work.mkdir()
        os.link(path, work / SELF_NAME)  # the body now has two names until the rename
        os.unlink(path)
        os.rename(work, path)
        journal.unlink()

    def _recover(self) -> None:
        """Finish moves that a crash interrupted and drop day-old staged files."""
        cutoff = time.time() - _STALE_SECONDS
        for entry in os.scandir(self._staging):
            name = entry.name
            if name.startswith("move-"):
                if name.endswith(".json"):
                    self._finish_move(Path(entry.path))
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
            except FileNotFoundError:
                pass  # another process swept it first

    def _finish_move(self, journal: Path) -> None:
        work = journal.with_suffix("")
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
            bucket, parts = str(plan["bucket"]), [str(p) for p in plan["parts"]]
            validate_bucket_name(bucket)
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            return
        if not parts or any(p in ("", ".", "..") or "/" in p for p in parts):
            return
        with self._locked(bucket, exclusive=True):
            if not journal.exists():
                return  # its writer finished it
            target = self.root / bucket / Path(*parts)
            held = work / SELF_NAME
            try:
                if held.exists():
                    try:
                        current = os.lstat(target)
                        if (
                            stat.S_ISREG(current.st_mode)
                            and current.st_ino == os.lstat(held).st_ino
                        ):
                            os.unlink(target)
                            os.rename(work, target)
                    except FileNotFoundError:
                        os.rename(work, target)
                shutil.rmtree(work, ignore_errors=True)
                journal.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("could not finish moving %s into %s: %s", work, target, exc)

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
        content_type = content_type_or_default(content_type)
        user_metadata = normalize_metadata(metadata)
        tag_set = normalize_tags(tags)
        bucket_dir = self._require_bucket(bucket)
        target = self._object_path(bucket_dir, key)
        staged, etag, st = self._stage_body(body)
        staged_meta: Path | None = None
        try:
            record = Sidecar(
                size=st.st_size,
                etag=etag,
                last_modified=now(),
                stamp=stamp(st),
                content_type=content_type,
                metadata=user_metadata,
                tags=tag_set,
            )
            staged_meta = self._stage_json(record.to_json(key))
            sidecar = self._sidecar_path(bucket, key)
            with self._locked(bucket, exclusive=True):
                self._require_bucket(bucket)
                os.replace(staged, self._make_room(bucket, bucket_dir, target))
                sidecar.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged_meta, sidecar)
        except BaseException:
            staged.unlink(missing_ok=True)
            if staged_meta is not None:
                staged_meta.unlink(missing_ok=True)
            raise
        return record.info(bucket, key)

    def _no_such_key(self, bucket: str, key: str) -> NoSuchKey:
        return NoSuchKey(
            f"The key {key!r} does not exist in bucket {bucket!r}. Check the key with "
            f"list_objects ('sagebox s3 ls --recursive s3://{bucket}/')."
        )

    def _read(self, bucket: str, key: str) -> tuple[int, Sidecar]:
        """Open the object's body and read its description under the shared lock.

        The caller owns the returned descriptor, which keeps reading this version of the
        object even if a writer replaces it afterwards.
        """
        validate_key(key)
        bucket_dir = self._require_bucket(bucket)  # (checked again under the lock)
        with self._locked(bucket, exclusive=False):
            self._require_bucket(bucket)
            opened = open_body(bucket_dir.joinpath(*encode_key(key)))
            if opened is None:
                raise self._no_such_key(bucket, key)
            fd, st = opened
            try:
                return fd, self._describe(bucket, key, fd, st)
            except BaseException:
                os.close(fd)
                raise

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        fd, record = self._read(bucket, key)
        return record.info(bucket, key), os.fdopen(fd, "rb")

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        fd, record = self._read(bucket, key)
        os.close(fd)
        return record.info(bucket, key)

    def link_file(self, bucket: str, key: str, path: Path) -> tuple[ObjectInfo, bool]:
        # Writers replace an object by rename, never in place, so a hard link keeps
        # reading the version it was made from: FastFile without a copy.
        info = self.head_object(bucket, key)
        bucket_dir = self._require_bucket(bucket)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        try:
            with self._locked(bucket, exclusive=False):
                body = bucket_dir.joinpath(*encode_key(key))
                os.link(body / SELF_NAME if body.is_dir() else body, path)
        except OSError:  # another file system, or links not allowed: a copy it is
            return self.download_file(bucket, key, path), False
        return info, True

    def get_object_tags(self, bucket: str, key: str) -> dict[str, str]:
        fd, record = self._read(bucket, key)
        os.close(fd)
        return dict(record.tags)

    def put_object_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        tag_set = normalize_tags(tags)
        validate_key(key)
        bucket_dir = self._require_bucket(bucket)  # (checked again under the lock)
        with self._locked(bucket, exclusive=True):
            self._require_bucket(bucket)
            opened = open_body(bucket_dir.joinpath(*encode_key(key)))
            if opened is None:
                raise self._no_such_key(bucket, key)
            fd, st = opened
            try:
                record = self._describe(bucket, key, fd, st)
            finally:
                os.close(fd)
            self._write_json(
                self._sidecar_path(bucket, key), replace(record, tags=tag_set).to_json(key)
            )

    def delete_object(self, bucket: str, key: str) -> None:
        validate_key(key)
        bucket_dir = self._require_bucket(bucket)  # (checked again under the lock)
        target = bucket_dir.joinpath(*encode_key(key))
        with self._locked(bucket, exclusive=True):
            self._require_bucket(bucket)
            opened = open_body(target)
            if opened is not None:
                os.close(opened[0])
                body = target / SELF_NAME if target.is_dir() else target
                body.unlink()
                # Remove folders left empty; a folder holding only %self stays a folder.
                folder = body.parent
                while folder != bucket_dir:
                    try:
                        folder.rmdir()
                    except OSError:
                        break
                    folder = folder.parent
            self._sidecar_path(bucket, key).unlink(missing_ok=True)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> ListResult:
        max_keys = clamp_max_keys(max_keys)
        delimiter = delimiter or None
        after = decode_token(continuation_token) if continuation_token is not None else None
        bucket_dir = self._require_bucket(bucket)  # (checked again under the lock)
        head, slash, _ = prefix.rpartition("/")
        start = bucket_dir.joinpath(*encode_key(head)) if slash else bucket_dir
        with self._locked(bucket, exclusive=False):
            self._require_bucket(bucket)
            files: dict[str, str] = {}
            prefixes: set[str] = set()
            for name, path in walk(str(start), head + slash, (), prefix, delimiter):
                cut = name.find(delimiter, len(prefix)) if delimiter and path else -1
                if path is None:
                    prefixes.add(name)
                elif cut >= 0:
                    prefixes.add(name[: cut + len(delimiter or "")])
                else:
                    files[name] = path
            entries = sorted(
                [(k.encode("utf-8"), k, p) for k, p in files.items()]
                + [(p.encode("utf-8"), p, None) for p in prefixes]
            )
            first = 0
            if after is not None:
                first = bisect_right([e[0] for e in entries], after.encode("utf-8"))
            page = entries[first : first + max_keys]
            objects: list[ObjectInfo] = []
            for _, key, path in page:
                if path is not None and (info := self._listed(bucket, key, path)) is not None:
                    objects.append(info)
        truncated = first + max_keys < len(entries) and bool(page)
        return ListResult(
            objects=tuple(objects),
            common_prefixes=tuple(name for _, name, path in page if path is None),
            next_token=encode_token(page[-1][1]) if truncated else None,
        )

    def _listed(self, bucket: str, key: str, path: str) -> ObjectInfo | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:  # removed by hand since the walk
            return None
        try:
            return self._describe(bucket, key, fd, os.fstat(fd)).info(bucket, key, full=False)
        finally:
            os.close(fd)
