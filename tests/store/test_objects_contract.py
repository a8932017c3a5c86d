"""The object-store contract, run over every backend.

``local`` is a folder in tmp_path; ``s3`` is :class:`S3ObjectStore` against moto's S3 server
on loopback, so the same assertions hold for the folder backend and for a real S3 wire
protocol. Tests at the end are for the local backend alone (crashes, the on-disk layout).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sagebox.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    ValidationError,
)
from sagebox.store.objects import ListResult, ObjectStore, open_object_store
from sagebox.store.objects.local import LocalObjectStore
from sagebox.store.objects.s3 import S3ObjectStore

BUCKET = "loan-data"

ODD_KEYS = [
    "../x",
    "../../etc/passwd",
    "a//b",
    "/lead",
    "//",
    "dir/",
    ".",
    "..",
    "a/./b/../c",
    "données/日本/ü.csv",
    "k" * 1024,
    "%self",
    "100% sure+plus",
    "back\\slash",
    "tab\tand\x01control",
    "emoji/🙂.txt",
]


# fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3ObjectStore]:
    """An S3ObjectStore talking to moto's S3 server on a free loopback port."""
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    nowhere = tmp_path_factory.mktemp("aws")
    # Fake credentials, set only while the client is made (boto3 resolves them then).
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": str(nowhere / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(nowhere / "credentials"),
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        store = open_object_store(f"s3+http://{host}:{port}?region=us-east-1")
    assert isinstance(store, S3ObjectStore)
    yield store
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_object_store(str(tmp_path / "store"))
    s3: S3ObjectStore = request.getfixturevalue("s3_store")
    reset = urllib.request.Request(f"{s3.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()
    return s3


@pytest.fixture
def bucket(store: ObjectStore) -> str:
    store.create_bucket(BUCKET)
    return BUCKET


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def all_pages(
    store: ObjectStore,
    bucket: str,
    prefix: str = "",
    *,
    delimiter: str | None = None,
    max_keys: int,
) -> list[ListResult]:
    pages: list[ListResult] = []
    token: str | None = None
    while not pages or token is not None:
        pages.append(
            store.list_objects(
                bucket, prefix, delimiter=delimiter, max_keys=max_keys, continuation_token=token
            )
        )
        token = pages[-1].next_token
    return pages


def listed_keys(store: ObjectStore, bucket: str, prefix: str = "") -> list[str]:
    return [o.key for o in store.iter_objects(bucket, prefix)]


def put_many(store: ObjectStore, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put_object(bucket, k, k.encode()), keys))


# choosing a backend ---------------------------------------------------------------------
def test_factory_chooses_backend_by_url(tmp_path: Path) -> None:
    by_path = open_object_store(str(tmp_path / "a"))
    by_url = open_object_store((tmp_path / "b").as_uri())
    assert isinstance(by_path, LocalObjectStore) and by_path.root == tmp_path / "a"
    assert isinstance(by_url, LocalObjectStore) and by_url.root == tmp_path / "b"
    remote = open_object_store("s3+http://127.0.0.1:9000?region=eu-west-1")
    assert isinstance(remote, S3ObjectStore)
    assert remote.endpoint_url == "http://127.0.0.1:9000" and remote.region == "eu-west-1"
    aws = open_object_store("s3://?region=eu-central-1")
    assert isinstance(aws, S3ObjectStore) and aws.endpoint_url is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://host/x", ["'ftp'", "s3+http://", "file://"]),
        ("s3://my-bucket", ["s3+https://host"]),
        ("s3+http://127.0.0.1:9000?colour=red", ["colour", "region"]),
        ("file://relative/path", ["file:///abs/path"]),
    ],
)
def test_factory_rejects_bad_urls_saying_how_to_fix(url: str, words: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        open_object_store(url)
    for word in words:
        assert word in caught.value.message


# buckets --------------------------------------------------------------------------------
def test_bucket_lifecycle(store: ObjectStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert not store.bucket_exists("raw-data")
    store.create_bucket("raw-data")
    store.create_bucket("models.v2")
    assert store.bucket_exists("raw-data")
    buckets = store.list_buckets()
    assert [b.name for b in buckets] == ["models.v2", "raw-data"]
    assert all(
        before <= b.creation_date <= datetime.now(UTC) + timedelta(seconds=5) for b in buckets
    )
    store.delete_bucket("raw-data")
    assert not store.bucket_exists("raw-data")
    assert [b.name for b in store.list_buckets()] == ["models.v2"]


def test_creating_an_existing_bucket_says_you_own_it(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(BucketAlreadyOwnedByYou):
        store.create_bucket(bucket)


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 64, "Upper", "under_score", "-dash", "dash-", "a..b", "192.168.5.4", "xn--abc",
     "name-s3alias", "sp ace", "../evil"],
)  # fmt: skip
def test_invalid_bucket_names_are_refused(store: ObjectStore, name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.create_bucket(name)
    assert repr(name) in caught.value.message


def test_deleting_buckets_needs_an_existing_empty_bucket(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(NoSuchBucket):
        store.delete_bucket("no-such-bucket")
    store.put_object(bucket, "raw/a.csv", b"x")
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket(bucket)
    store.delete_object(bucket, "raw/a.csv")
    store.delete_bucket(bucket)
    assert not store.bucket_exists(bucket)


def test_object_calls_on_a_missing_bucket_raise_no_such_bucket(store: ObjectStore) -> None:
    calls = [
        lambda: store.put_object("no-such-bucket", "k", b"x"),
        lambda: store.get_object("no-such-bucket", "k"),
        lambda: store.head_object("no-such-bucket", "k"),
        lambda: store.delete_object("no-such-bucket", "k"),
        lambda: store.list_objects("no-such-bucket"),
    ]
    for call in calls:
        with pytest.raises(NoSuchBucket):
            call()


# objects --------------------------------------------------------------------------------
def test_put_get_head_delete(store: ObjectStore, bucket: str) -> None:
    body = b"age,amount,default\n35,1200,0\n"
    info = store.put_object(bucket, "raw/german_credit.csv", body)
    assert (info.bucket, info.key, info.size, info.etag) == (
        bucket,
        "raw/german_credit.csv",
        len(body),
        md5_etag(body),
    )
    assert abs(info.last_modified - datetime.now(UTC)) < timedelta(seconds=30)
    assert store.get_object(bucket, "raw/german_credit.csv") == body
    assert store.head_object(bucket, "raw/german_credit.csv") == info
    store.delete_object(bucket, "raw/german_credit.csv")
    with pytest.raises(NoSuchKey):
        store.head_object(bucket, "raw/german_credit.csv")
    with pytest.raises(NoSuchKey):
        store.get_object(bucket, "raw/german_credit.csv")
    store.delete_object(bucket, "raw/german_credit.csv")  # deleting a missing key is fine
    assert listed_keys(store, bucket) == []


def test_content_type_and_metadata_are_kept(store: ObjectStore, bucket: str) -> None:
    store.put_object(
        bucket, "a.csv", b"1,2", content_type="text/csv", metadata={"Source-System": "core-bank"}
    )
    info = store.head_object(bucket, "a.csv")
    assert info.content_type == "text/csv"
    assert dict(info.metadata) == {"source-system": "core-bank"}  # S3 lower-cases names
    opened, stream = store.open_object(bucket, "a.csv")
    with stream:
        assert stream.read() == b"1,2"
    assert opened == info
    with pytest.raises(TypeError):
        info.metadata["x"] = "y"  # type: ignore[index]
    store.put_object(bucket, "b.bin", b"\x00")
    assert store.head_object(bucket, "b.bin").content_type == "application/octet-stream"
    assert dict(store.head_object(bucket, "b.bin").metadata) == {}


def test_bad_metadata_and_tags_are_refused(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(ValidationError, match="printable ASCII"):
        store.put_object(bucket, "k", b"", metadata={"note": "caf\u00e9"})
    with pytest.raises(ValidationError, match="at most 10 tags"):
        store.put_object(bucket, "k", b"", tags={f"t{i}": "v" for i in range(11)})
    assert listed_keys(store, bucket) == []


def test_tags_are_kept_and_replaced(store: ObjectStore, bucket: str) -> None:
    store.put_object(bucket, "m.tar.gz", b"model", tags={"stage": "dev", "owner": "risk team"})
    assert store.get_object_tags(bucket, "m.tar.gz") == {"stage": "dev", "owner": "risk team"}
    store.put_object_tags(bucket, "m.tar.gz", {"stage": "prod"})
    assert store.get_object_tags(bucket, "m.tar.gz") == {"stage": "prod"}
    assert store.get_object(bucket, "m.tar.gz") == b"model"
    store.put_object(bucket, "plain", b"")
    assert store.get_object_tags(bucket, "plain") == {}
    with pytest.raises(NoSuchKey):
        store.put_object_tags(bucket, "missing", {"a": "b"})
    with pytest.raises(NoSuchKey):
        store.get_object_tags(bucket, "missing")


def test_overwrite_replaces_body_and_attributes(store: ObjectStore, bucket: str) -> None:
    store.put_object(bucket, "k", b"old", content_type="text/plain", metadata={"v": "1"})
    info = store.put_object(bucket, "k", b"newer", metadata={"v": "2"})
    assert store.get_object(bucket, "k") == b"newer"
    head = store.head_object(bucket, "k")
    assert head == info and head.size == 5 and dict(head.metadata) == {"v": "2"}
    assert head.content_type == "application/octet-stream"
    assert listed_keys(store, bucket) == ["k"]


def test_odd_keys_round_trip_exactly(store: ObjectStore, bucket: str) -> None:
    for key in ODD_KEYS:
        store.put_object(bucket, key, key.encode(), metadata={"n": str(len(key))})
    for key in ODD_KEYS:
        assert store.get_object(bucket, key) == key.encode(), key
        assert store.head_object(bucket, key).metadata["n"] == str(len(key))
    assert listed_keys(store, bucket) == sorted(ODD_KEYS, key=lambda k: k.encode())
    for key in ODD_KEYS:
        store.delete_object(bucket, key)
    assert listed_keys(store, bucket) == []
    store.delete_bucket(bucket)


def test_keys_must_be_1_to_1024_bytes(store: ObjectStore, bucket: str) -> None:
    store.put_object(bucket, "é" * 512, b"")  # 1024 bytes in UTF-8
    with pytest.raises(ValidationError, match="1025 bytes"):
        store.put_object(bucket, "é" * 512 + "x", b"")
    with pytest.raises(ValidationError, match="empty"):
        store.put_object(bucket, "", b"")


def test_a_key_can_be_both_an_object_and_a_folder(store: ObjectStore, bucket: str) -> None:
    store.put_object(bucket, "a", b"file a")
    store.put_object(bucket, "a/b", b"file a/b")
    store.put_object(bucket, "a/b/c", b"file a/b/c")
    store.put_object(bucket, "a", b"file a, again")
    assert store.get_object(bucket, "a") == b"file a, again"
    assert store.get_object(bucket, "a/b") == b"file a/b"
    top = store.list_objects(bucket, delimiter="/")
    assert [o.key for o in top.objects] == ["a"] and top.common_prefixes == ("a/",)
    inner = store.list_objects(bucket, "a/", delimiter="/")
    assert [o.key for o in inner.objects] == ["a/b"] and inner.common_prefixes == ("a/b/",)
    store.delete_object(bucket, "a/b")
    assert listed_keys(store, bucket) == ["a", "a/b/c"]
    store.delete_object(bucket, "a/b/c")
    assert store.get_object(bucket, "a") == b"file a, again"
    assert store.list_objects(bucket, delimiter="/").common_prefixes == ()


# listing --------------------------------------------------------------------------------
def test_listing_is_in_utf8_byte_order(store: ObjectStore, bucket: str) -> None:
    keys = ["z", "a0", "a/b", "a-c", "B", "\u00e9t\u00e9", "\u65e5", "a", "~", "Z/1"]
    put_many(store, bucket, keys)
    assert listed_keys(store, bucket) == sorted(keys, key=lambda k: k.encode())
    listed = store.list_objects(bucket).objects
    assert [o.etag for o in listed] == [md5_etag(o.key.encode()) for o in listed]
    assert [o.size for o in listed] == [len(o.key.encode()) for o in listed]


def test_prefix_and_delimiter_give_folders(store: ObjectStore, bucket: str) -> None:
    keys = [
        "top.txt",
        "raw/readme.md",
        "raw/2024/01.csv",
        "raw/2024/02.csv",
        "raw/2025/01.csv",
        "rawish.txt",
        "models/m1/model.tar.gz",
    ]
    put_many(store, bucket, keys)
    top = store.list_objects(bucket, delimiter="/")
    assert [o.key for o in top.objects] == ["rawish.txt", "top.txt"]
    assert top.common_prefixes == ("models/", "raw/")
    raw = store.list_objects(bucket, "raw/", delimiter="/")
    assert [o.key for o in raw.objects] == ["raw/readme.md"]
    assert raw.common_prefixes == ("raw/2024/", "raw/2025/")
    partial = store.list_objects(bucket, "raw/202", delimiter="/")
    assert partial.objects == () and partial.common_prefixes == ("raw/2024/", "raw/2025/")
    assert [o.key for o in store.list_objects(bucket, "raw").objects] == [
        "raw/2024/01.csv",
        "raw/2024/02.csv",
        "raw/2025/01.csv",
        "raw/readme.md",
        "rawish.txt",
    ]
    by_dash = store.list_objects(bucket, "raw/202", delimiter="/0")
    assert by_dash.common_prefixes == ("raw/2024/0", "raw/2025/0")
    assert store.list_objects(bucket, "nothing/").objects == ()


def test_pagination_walks_every_key_once(store: ObjectStore, bucket: str) -> None:
    keys = [f"p/{i % 7}/{i:05d}" for i in range(1010)] + [f"q{i:03d}" for i in range(50)]
    put_many(store, bucket, keys)
    expected = sorted(keys, key=lambda k: k.encode())
    pages = all_pages(store, bucket, max_keys=5000)  # S3 caps a page at 1000 keys
    assert [len(p.objects) for p in pages] == [1000, 60]
    assert [o.key for p in pages for o in p.objects] == expected
    small = all_pages(store, bucket, "p/3/", max_keys=40)
    assert [o.key for p in small for o in p.objects] == [
        k for k in expected if k.startswith("p/3/")
    ]
    assert all(len(p.objects) == 40 for p in small[:-1])
    # With a delimiter a page counts folders and objects together.
    mixed = all_pages(store, bucket, delimiter="/", max_keys=3)
    assert [len(p.objects) + len(p.common_prefixes) for p in mixed] == [3] * 17
    assert [c for p in mixed for c in p.common_prefixes] == ["p/"]
    assert [o.key for p in mixed for o in p.objects] == [f"q{i:03d}" for i in range(50)]
    assert store.list_objects(bucket, max_keys=0).objects == ()


def test_bad_list_arguments_are_refused(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(ValidationError, match="max_keys"):
        store.list_objects(bucket, max_keys=-1)


# streaming and atomicity ----------------------------------------------------------------
def test_large_bodies_stream_from_and_to_disk(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    body = os.urandom(1 << 20) * 5  # 5 MiB
    source = tmp_path / "big.bin"
    source.write_bytes(body)
    info = store.put_object(bucket, "big/path.bin", source, content_type="application/x-npy")
    assert info.size == len(body) and info.etag == md5_etag(body)
    assert store.head_object(bucket, "big/path.bin").content_type == "application/x-npy"
    store.put_object(bucket, "big/stream.bin", io.BytesIO(body))
    _, stream = store.open_object(bucket, "big/stream.bin")
    digest = hashlib.md5()
    with stream:
        while chunk := stream.read(256 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.md5(body).hexdigest()
    target = tmp_path / "out" / "copy.bin"
    store.download_file(bucket, "big/path.bin", target)
    assert target.read_bytes() == body


def test_missing_upload_file_is_a_validation_error(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        store.put_object(bucket, "k", tmp_path / "nope.csv")


def test_readers_see_a_whole_old_or_new_body_during_overwrites(
    store: ObjectStore, bucket: str
) -> None:
    bodies = [bytes([65 + i]) * (200_000 + i) for i in range(4)]
    store.put_object(bucket, "model.bin", bodies[0])
    stop = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            store.put_object(bucket, "model.bin", bodies[i % len(bodies)])

    def read() -> None:
        try:
            while not stop.is_set():
                seen.append(store.get_object(bucket, "model.bin"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(seen) > 10
    assert all(body in bodies for body in seen)


def test_concurrent_writers_of_nested_keys_leave_every_key_readable(
    store: ObjectStore, bucket: str
) -> None:
    keys = ["a", "a/b", "a/b/c", "a/b/c/d", "a//", "a/b2"]

    def churn(key: str) -> None:
        for round_ in range(8):
            store.put_object(bucket, key, f"{key}:{round_}".encode())
            if round_ % 3 == 0:
                store.delete_object(bucket, key)

    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(churn, keys))
    assert listed_keys(store, bucket) == sorted(keys, key=lambda k: k.encode())
    for key in keys:
        assert store.get_object(bucket, key) == f"{key}:7".encode()


# local backend only ---------------------------------------------------------------------
@pytest.fixture
def local(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "root")
    store.create_bucket(BUCKET)
    return store


def test_local_layout_is_the_literal_key(local: LocalObjectStore) -> None:
    local.put_object(BUCKET, "raw/german_credit.csv", b"a,b\n")
    assert (local.root / BUCKET / "raw" / "german_credit.csv").read_bytes() == b"a,b\n"
    assert local.url == local.root.as_uri()


def test_local_hostile_keys_never_write_outside_the_bucket(
    tmp_path: Path, local: LocalObjectStore
) -> None:
    hostile = [*ODD_KEYS, "../../outside", "/abs/path", "..\\..\\win", "a/../../..", "\x00nul"]
    for key in hostile:
        local.put_object(BUCKET, key, b"x")
    allowed = [local.root / BUCKET, local.root / ".sagebox-meta", local.root / ".sagebox-locks"]
    for dirpath, _, files in os.walk(tmp_path):
        for name in files:
            path = Path(dirpath, name)
            assert any(path.is_relative_to(folder) for folder in allowed), path
    assert sorted(listed_keys(local, BUCKET)) == sorted(set(hostile))
    with pytest.raises(ValidationError):
        local.get_object("../" + BUCKET, "x")


_CRASHING_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sagebox.store.objects.local import LocalObjectStore

    store = LocalObjectStore(Path(sys.argv[1]))
    store.put_object("loan-data", "model.bin", sys.stdin.buffer)
    """
)


def test_local_crashed_write_is_never_visible(local: LocalObjectStore) -> None:
    local.put_object(BUCKET, "model.bin", b"version 1")
    staging = local.root / ".sagebox-staging"
    writer = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WRITER, str(local.root)], stdin=subprocess.PIPE
    )
    assert writer.stdin is not None
    writer.stdin.write(b"partial " * 200_000)  # larger than one read: the copy is underway
    writer.stdin.flush()
    deadline = time.monotonic() + 20
    while not any(p.stat().st_size > 0 for p in staging.glob("put-*")):
        assert time.monotonic() < deadline and writer.poll() is None, "the writer never staged"
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdin.close()
    assert list(staging.glob("put-*")), "the crash leaves its temporary file"
    for store in (local, LocalObjectStore(local.root)):
        assert store.get_object(BUCKET, "model.bin") == b"version 1"
        assert listed_keys(store, BUCKET) == ["model.bin"]
        assert store.list_objects(BUCKET, delimiter="/").common_prefixes == ()


_CHURNING_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sagebox.store.objects.local import LocalObjectStore

    store = LocalObjectStore(Path(sys.argv[1]))
    for round_ in range(120):
        for key in sys.argv[2:]:
            store.put_object("loan-data", key, f"{key}:{round_}".encode())
            if round_ % 4 == 0:
                store.delete_object("loan-data", key)
    """
)


def test_local_processes_share_one_store_safely(local: LocalObjectStore) -> None:
    # Each process writes keys that are files of the other's folders ("a" and "a/b").
    groups = [["a", "a/b/c"], ["a/b", "a//"]]
    writers = [
        subprocess.Popen([sys.executable, "-c", _CHURNING_WRITER, str(local.root), *group])
        for group in groups
    ]
    reads = 0
    while any(writer.poll() is None for writer in writers):
        for info in local.iter_objects(BUCKET):
            try:
                body = local.get_object(BUCKET, info.key)
            except NoSuchKey:  # deleted since it was listed
                continue
            assert body.decode().startswith(info.key + ":")
            reads += 1
    assert [writer.wait() for writer in writers] == [0, 0]
    keys = sorted((k for group in groups for k in group), key=lambda k: k.encode())
    assert listed_keys(local, BUCKET) == keys
    assert [local.get_object(BUCKET, k) for k in keys] == [f"{k}:119".encode() for k in keys]
    assert reads > 0


def test_local_move_interrupted_by_a_crash_is_finished_on_reopen(
    local: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.put_object(BUCKET, "a", b"file a", metadata={"k": "v"})
    real_rename = os.rename

    def crash_on_folder_swap(src: object, dst: object) -> None:
        moved = Path(str(src))
        if moved.parent.name == ".sagebox-staging" and moved.name.startswith("move-"):
            raise KeyboardInterrupt("simulated crash")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", crash_on_folder_swap)
    with pytest.raises(KeyboardInterrupt):
        local.put_object(BUCKET, "a/b", b"file a/b")
    monkeypatch.setattr(os, "rename", real_rename)
    reopened = LocalObjectStore(local.root)
    assert reopened.get_object(BUCKET, "a") == b"file a"
    assert dict(reopened.head_object(BUCKET, "a").metadata) == {"k": "v"}
    assert listed_keys(reopened, BUCKET) == ["a"]
    reopened.put_object(BUCKET, "a/b", b"file a/b")
    assert listed_keys(reopened, BUCKET) == ["a", "a/b"]


def test_local_files_copied_in_by_hand_are_objects(local: LocalObjectStore) -> None:
    folder = local.root / BUCKET / "incoming"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"hello")
    (folder / "bad%zzname").write_bytes(b"not a name this store writes")
    assert listed_keys(local, BUCKET) == ["incoming/notes.txt"]
    assert local.head_object(BUCKET, "incoming/notes.txt").etag == md5_etag(b"hello")
    (folder / "notes.txt").write_bytes(b"changed by hand")
    assert local.head_object(BUCKET, "incoming/notes.txt").etag == md5_etag(b"changed by hand")


def test_local_refuses_a_continuation_token_it_did_not_issue(local: LocalObjectStore) -> None:
    # (moto accepts any token; AWS answers InvalidArgument, which becomes ValidationError.)
    with pytest.raises(ValidationError, match="next_token of the previous page"):
        local.list_objects(BUCKET, continuation_token="not a token!")


def test_local_bucket_with_only_empty_folders_can_be_deleted(local: LocalObjectStore) -> None:
    (local.root / BUCKET / "left" / "over").mkdir(parents=True)
    local.delete_bucket(BUCKET)
    assert not (local.root / BUCKET).exists()
