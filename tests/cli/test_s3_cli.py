"""``sagebox s3``: the aws-s3-style commands against a home's object store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sagebox.cli.s3 import app
from sagebox.home import Home
from sagebox.store.objects import ObjectStore

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    Home.open(path)
    return path


@pytest.fixture
def objects(home: Path) -> ObjectStore:
    return Home.open(home).objects


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A local folder of loan data: two CSVs at the top, one nested."""
    root = tmp_path / "data"
    (root / "2024").mkdir(parents=True)
    (root / "train.csv").write_text("age,default\n35,0\n")
    (root / "test.csv").write_text("age,default\n41,1\n")
    (root / "2024" / "jan.csv").write_text("age,default\n29,0\n")
    return root


def s3(home: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--home", str(home)])


def ok(home: Path, *args: str) -> list[str]:
    result = s3(home, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_make_list_and_remove_buckets(home: Path, objects: ObjectStore) -> None:
    assert ok(home, "mb", "s3://loan-data") == ["make_bucket: loan-data"]
    listing = ok(home, "ls")
    assert len(listing) == 1 and listing[0].endswith(" loan-data")
    again = s3(home, "mb", "s3://loan-data")
    assert again.exit_code == 1
    assert again.stderr.startswith("An error occurred (BucketAlreadyOwnedByYou): ")
    objects.put_object("loan-data", "raw/a.csv", b"x")
    refused = s3(home, "rb", "s3://loan-data")
    assert refused.exit_code == 1 and "(BucketNotEmpty)" in refused.stderr
    assert "rb --force" in refused.stderr
    assert ok(home, "rb", "s3://loan-data", "--force") == [
        "delete: s3://loan-data/raw/a.csv",
        "remove_bucket: loan-data",
    ]
    assert not objects.bucket_exists("loan-data")


def test_bad_uris_and_names_are_explained(home: Path, tmp_path: Path) -> None:
    result = s3(home, "mb", "loan-data")
    assert result.exit_code == 1
    assert "An error occurred (ValidationException): " in result.stderr
    assert "s3://bucket/key" in result.stderr
    bad_name = s3(home, "mb", "s3://Loan_Data")
    assert bad_name.exit_code == 1 and "'Loan_Data'" in bad_name.stderr
    missing = s3(home, "cp", str(tmp_path / "nope.csv"), "s3://loan-data/")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    local_only = s3(home, "cp", "a", "b")
    assert local_only.exit_code == 1 and "neither" in local_only.stderr
    no_bucket = s3(home, "ls", "s3://no-such-bucket")
    assert no_bucket.exit_code == 1 and "(NoSuchBucket)" in no_bucket.stderr


def test_cp_uploads_and_downloads_one_file(
    home: Path, objects: ObjectStore, tree: Path, tmp_path: Path
) -> None:
    ok(home, "mb", "s3://loan-data")
    source = str(tree / "train.csv")
    assert ok(home, "cp", source, "s3://loan-data/raw/") == [
        f"upload: {source} to s3://loan-data/raw/train.csv"
    ]
    info = objects.head_object("loan-data", "raw/train.csv")
    assert info.content_type == "text/csv"
    assert objects.get_object("loan-data", "raw/train.csv") == (tree / "train.csv").read_bytes()
    ok(home, "cp", source, "s3://loan-data/renamed.csv")
    assert objects.bucket_exists("loan-data") and objects.head_object("loan-data", "renamed.csv")

    out = tmp_path / "out"
    out.mkdir()
    assert ok(home, "cp", "s3://loan-data/raw/train.csv", str(out)) == [
        f"download: s3://loan-data/raw/train.csv to {out / 'train.csv'}"
    ]
    assert (out / "train.csv").read_text() == "age,default\n35,0\n"
    ok(home, "cp", "s3://loan-data/raw/train.csv", str(out / "copy.csv"))
    assert (out / "copy.csv").read_text() == "age,default\n35,0\n"
    missing = s3(home, "cp", "s3://loan-data/raw/none.csv", str(out))
    assert missing.exit_code == 1 and "(NoSuchKey)" in missing.stderr


def test_cp_recursive_round_trips_a_folder(
    home: Path, objects: ObjectStore, tree: Path, tmp_path: Path
) -> None:
    ok(home, "mb", "s3://loan-data")
    lines = ok(home, "cp", str(tree), "s3://loan-data/raw", "--recursive")
    assert lines == [
        f"upload: {tree}/2024/jan.csv to s3://loan-data/raw/2024/jan.csv",
        f"upload: {tree}/test.csv to s3://loan-data/raw/test.csv",
        f"upload: {tree}/train.csv to s3://loan-data/raw/train.csv",
    ]
    back = tmp_path / "back"
    lines = ok(home, "cp", "s3://loan-data/raw", str(back), "--recursive")
    assert len(lines) == 3 and all(
        line.startswith("download: s3://loan-data/raw/") for line in lines
    )
    for name in ("train.csv", "test.csv", "2024/jan.csv"):
        assert (back / name).read_bytes() == (tree / name).read_bytes()


def test_cp_between_buckets_keeps_type_and_metadata(home: Path, objects: ObjectStore) -> None:
    ok(home, "mb", "s3://loan-data")
    ok(home, "mb", "s3://loan-archive")
    objects.put_object(
        "loan-data", "m/model.json", b"{}", content_type="application/json", metadata={"v": "3"}
    )
    assert ok(home, "cp", "s3://loan-data/m/model.json", "s3://loan-archive/") == [
        "copy: s3://loan-data/m/model.json to s3://loan-archive/model.json"
    ]
    info = objects.head_object("loan-archive", "model.json")
    assert info.content_type == "application/json" and dict(info.metadata) == {"v": "3"}
    ok(home, "cp", "s3://loan-data/m", "s3://loan-data/m/copy", "--recursive")
    assert [o.key for o in objects.iter_objects("loan-data")] == [
        "m/copy/model.json",
        "m/model.json",
    ]


def test_download_skips_keys_that_would_leave_the_folder(
    home: Path, objects: ObjectStore, tmp_path: Path
) -> None:
    ok(home, "mb", "s3://loan-data")
    for key in ("in/../../evil.txt", "in/a//b.txt", "in/ok/x.txt", "in/folder/"):
        objects.put_object("loan-data", key, b"data")
    target = tmp_path / "nested" / "target"
    result = s3(home, "cp", "s3://loan-data/in/", str(target), "--recursive")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"download: s3://loan-data/in/ok/x.txt to {target}/ok/x.txt"
    ]
    assert "Skipping file s3://loan-data/in/../../evil.txt" in result.stderr
    assert "Skipping file s3://loan-data/in/a//b.txt" in result.stderr
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "nested" / "evil.txt").exists()
    assert [p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()] == [
        "ok/x.txt"
    ]


def test_ls_shows_folders_then_objects_like_aws(home: Path, objects: ObjectStore) -> None:
    ok(home, "mb", "s3://loan-data")
    for key in ("raw/2024/jan.csv", "raw/readme.md", "top.txt"):
        objects.put_object("loan-data", key, b"12345")
    top = ok(home, "ls", "s3://loan-data")
    assert top[0] == "                           PRE raw/"
    assert top[1].endswith("          5 top.txt")
    raw = ok(home, "ls", "s3://loan-data/raw/")
    assert raw[0] == "                           PRE 2024/"
    assert raw[1].endswith(" readme.md") and "raw/readme.md" not in raw[1]
    assert ok(home, "ls", "s3://loan-data/ra") == ["                           PRE raw/"]
    every = ok(home, "ls", "s3://loan-data", "--recursive")
    assert [line.rsplit(" ", 1)[1] for line in every] == [
        "raw/2024/jan.csv",
        "raw/readme.md",
        "top.txt",
    ]
    assert s3(home, "ls", "s3://loan-data/nothing-here").exit_code == 1


def test_rm_one_or_a_whole_prefix(home: Path, objects: ObjectStore) -> None:
    ok(home, "mb", "s3://loan-data")
    for key in ("raw/a.csv", "raw/b/c.csv", "rawish.txt", "keep.txt"):
        objects.put_object("loan-data", key, b"x")
    assert ok(home, "rm", "s3://loan-data/keep.txt") == ["delete: s3://loan-data/keep.txt"]
    assert ok(home, "rm", "s3://loan-data/raw", "--recursive") == [
        "delete: s3://loan-data/raw/a.csv",
        "delete: s3://loan-data/raw/b/c.csv",
    ]
    assert [o.key for o in objects.iter_objects("loan-data")] == ["rawish.txt"]


def test_sync_copies_only_new_or_changed_files_both_ways(
    home: Path, objects: ObjectStore, tree: Path, tmp_path: Path
) -> None:
    ok(home, "mb", "s3://loan-data")
    assert len(ok(home, "sync", str(tree), "s3://loan-data/raw")) == 3
    assert ok(home, "sync", str(tree), "s3://loan-data/raw") == []
    (tree / "train.csv").write_text("age,default\n35,0\n50,1\n")
    objects.put_object("loan-data", "raw/stale.csv", b"old")
    assert ok(home, "sync", str(tree), "s3://loan-data/raw", "--delete") == [
        f"upload: {tree}/train.csv to s3://loan-data/raw/train.csv",
        "delete: s3://loan-data/raw/stale.csv",
    ]
    assert objects.get_object("loan-data", "raw/train.csv").endswith(b"50,1\n")

    local = tmp_path / "mirror"
    assert len(ok(home, "sync", "s3://loan-data/raw", str(local))) == 3
    assert ok(home, "sync", "s3://loan-data/raw", str(local)) == []
    (local / "extra.txt").write_text("not in the bucket")
    objects.put_object("loan-data", "raw/new.csv", b"new")
    assert ok(home, "sync", "s3://loan-data/raw/", str(local), "--delete") == [
        f"download: s3://loan-data/raw/new.csv to {local}/new.csv",
        f"delete: {local}/extra.txt",
    ]
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*.csv")) == [
        "2024/jan.csv",
        "new.csv",
        "test.csv",
        "train.csv",
    ]


def test_sync_between_prefixes_compares_etags(home: Path, objects: ObjectStore) -> None:
    ok(home, "mb", "s3://loan-data")
    objects.put_object("loan-data", "a/x.csv", b"1")
    objects.put_object("loan-data", "a/y.csv", b"2")
    assert len(ok(home, "sync", "s3://loan-data/a", "s3://loan-data/b")) == 2
    objects.put_object("loan-data", "a/x.csv", b"9")  # same size, new content
    assert ok(home, "sync", "s3://loan-data/a", "s3://loan-data/b") == [
        "copy: s3://loan-data/a/x.csv to s3://loan-data/b/x.csv"
    ]


def test_home_comes_from_sagebox_home(home: Path, objects: ObjectStore) -> None:
    result = runner.invoke(app, ["mb", "s3://from-env"], env={"SAGEBOX_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert objects.bucket_exists("from-env")
