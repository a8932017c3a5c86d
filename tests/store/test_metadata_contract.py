"""The metadata-store contract, run over every backend.

SQLite always runs; PostgreSQL runs when SAGEBOX_TEST_POSTGRES_URL points at a server
(``.ci/start-postgres`` makes one), each test in a schema of its own.
"""

from __future__ import annotations

import base64
import json
import math
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sagebox.errors import (
    InternalError,
    ResourceInUse,
    ResourceNotFound,
    ThrottlingError,
    ValidationError,
)
from sagebox.store.metadata import (
    Change,
    ListQuery,
    MetadataStore,
    MetricPoint,
    Page,
    Record,
    open_metadata_store,
)

POSTGRES_URL = os.environ.get("SAGEBOX_TEST_POSTGRES_URL")
KIND = "training-job"
T0 = datetime(2024, 1, 1, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL,
            reason="PostgreSQL run skipped: set SAGEBOX_TEST_POSTGRES_URL, .ci/run does",
        ),
    ),
]


def arn(name: str, kind: str = KIND) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        # The folder does not exist yet: opening the store must create it.
        yield f"sqlite:///{tmp_path}/home/metadata.db"
        return
    assert POSTGRES_URL
    base = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def opener(url: str) -> Iterator[Callable[[], MetadataStore]]:
    """Opens stores on the test's database and closes them all afterwards."""
    opened: list[MetadataStore] = []

    def open_one() -> MetadataStore:
        opened.append(open_metadata_store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], MetadataStore]) -> MetadataStore:
    return opener()


def make(
    store: MetadataStore,
    name: str,
    status: str | None = "InProgress",
    *,
    kind: str = KIND,
    created: datetime | None = None,
    **document: Any,
) -> Record:
    return store.create(
        kind, name, arn(name, kind), status, {"Name": name, **document}, creation_time=created
    )


# -- create / get / update / delete ----------------------------------------------


def test_create_returns_the_record_that_get_reads_back(store: MetadataStore) -> None:
    created = make(store, "job-a", Extra={"Depth": 3})
    assert created.version == 1
    assert created.creation_time == created.last_modified_time
    assert store.get(KIND, "job-a") == created
    assert store.get_by_arn(arn("job-a")) == created
    assert created.document == {"Name": "job-a", "Extra": {"Depth": 3}}


def test_create_of_an_existing_name_is_resource_in_use(store: MetadataStore) -> None:
    make(store, "dup", kind="processing-job")
    with pytest.raises(ResourceInUse) as info:
        make(store, "dup", kind="processing-job")
    assert info.value.message == (
        f"Processing job 'dup' already exists (ARN {arn('dup', 'processing-job')}). "
        "Choose a different name, or delete the existing one first."
    )
    # the same name under another kind is another resource
    assert make(store, "dup", kind="training-job").kind == "training-job"


def test_missing_resources_are_not_found_with_a_helpful_message(store: MetadataStore) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: store.get("processing-job", "ghost"),
        lambda: store.update("processing-job", "ghost", lambda r: None),
        lambda: store.delete("processing-job", "ghost"),
    ]
    for attempt in attempts:
        with pytest.raises(ResourceNotFound) as info:
            attempt()
        assert "Processing job 'ghost' does not exist" in info.value.message
    with pytest.raises(ResourceNotFound, match=r"arn:aws:sagemaker:.*/ghost"):
        store.get_by_arn(arn("ghost"))


def test_update_replaces_status_and_document_and_bumps_version(store: MetadataStore) -> None:
    before = make(store, "job", created=T0)
    after = store.update(KIND, "job", lambda r: Change("Completed", {**r.document, "Done": True}))
    assert (after.status, after.version) == ("Completed", 2)
    assert after.document == {"Name": "job", "Done": True}
    assert after.creation_time == before.creation_time
    assert after.last_modified_time > before.last_modified_time
    assert store.get(KIND, "job") == after


def test_update_returning_none_leaves_the_record_as_it_was(store: MetadataStore) -> None:
    before = make(store, "job")
    assert store.update(KIND, "job", lambda r: None) == before
    assert store.get(KIND, "job") == before


def test_an_exception_in_the_update_callback_aborts_the_update(store: MetadataStore) -> None:
    before = make(store, "job")

    def fail(record: Record) -> Change:
        raise RuntimeError("state machine says no")

    with pytest.raises(RuntimeError, match="state machine says no"):
        store.update(KIND, "job", fail)
    assert store.get(KIND, "job") == before


def test_documents_are_private_copies(store: MetadataStore) -> None:
    document: dict[str, Any] = {"Nested": {"A": 1}}
    created = store.create(KIND, "job", arn("job"), None, document)
    document["Nested"]["A"] = 2
    created.document["Nested"]["A"] = 3
    assert store.get(KIND, "job").document == {"Nested": {"A": 1}}


@pytest.mark.parametrize(
    "document", [{"When": datetime(2024, 1, 1, tzinfo=UTC)}, {"Loss": math.nan}, ["not", "a map"]]
)
def test_a_document_that_is_not_plain_json_is_rejected(store: MetadataStore, document: Any) -> None:
    with pytest.raises(ValidationError, match="document of training job 'job'"):
        store.create(KIND, "job", arn("job"), None, document)
    with pytest.raises(ResourceNotFound):
        store.get(KIND, "job")


def test_delete_removes_the_record_its_tags_and_metrics(store: MetadataStore) -> None:
    make(store, "job")
    store.set_tags(arn("job"), {"team": "risk"})
    store.put_metrics(arn("job"), [MetricPoint("train:loss", 0.5, T0)])
    store.delete(KIND, "job")
    with pytest.raises(ResourceNotFound):
        store.get(KIND, "job")
    # the name is free again, and nothing of the old resource comes back with it
    make(store, "job")
    assert store.get_tags(arn("job")) == {}
    assert store.get_metrics(arn("job")) == []


# -- timestamps ------------------------------------------------------------------


def test_timestamps_come_back_timezone_aware_in_utc(store: MetadataStore) -> None:
    berlin = timezone(timedelta(hours=2))
    created = make(store, "job", created=datetime(2024, 6, 1, 14, 0, 0, 123456, tzinfo=berlin))
    for record in (created, store.get(KIND, "job"), store.list(KIND, ListQuery()).records[0]):
        assert record.creation_time == datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
        assert record.creation_time.utcoffset() == timedelta(0)
        assert record.last_modified_time.tzinfo is not None
    # a filter in another zone means the same instant
    after_in_berlin = datetime(2024, 6, 1, 13, 59, tzinfo=berlin)
    assert [r.name for r in store.list(KIND, ListQuery(created_after=after_in_berlin)).records] == [
        "job"
    ]


def test_naive_timestamps_are_rejected(store: MetadataStore) -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        make(store, "job", created=datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="timezone-aware"):
        store.list(KIND, ListQuery(created_after=datetime(2024, 1, 1)))


# -- list ------------------------------------------------------------------------

STATUSES = ["Completed", "Failed", "InProgress", None, "Stopped"]


@pytest.fixture
def twenty(store: MetadataStore) -> list[Record]:
    """Twenty records with ties in creation time and status, some without status."""
    records = []
    for i in range(20):
        name = f"job-{(i * 7) % 20:02d}"  # creation order differs from name order
        created = T0 + timedelta(minutes=i // 3)  # three records share each minute
        records.append(make(store, name, STATUSES[i % 5], created=created))
    # last_modified_time differs from creation order for some
    for name in ("job-03", "job-11"):
        records = [r for r in records if r.name != name]
        records.append(store.update(KIND, name, lambda r: Change(r.status, {"Touched": True})))
    return records


def expected_order(records: list[Record], sort_by: str, descending: bool) -> list[str]:
    def key(record: Record) -> tuple[Any, str]:
        if sort_by == "name":
            return (record.name, record.name)
        if sort_by == "status":
            return (record.status or "", record.name)
        return (getattr(record, sort_by), record.name)

    return [r.name for r in sorted(records, key=key, reverse=descending)]


SORTS = [
    pytest.param(sort_by, descending, id=f"{sort_by}-{'desc' if descending else 'asc'}")
    for sort_by in ("name", "creation_time", "last_modified_time", "status")
    for descending in (False, True)
]


@pytest.mark.parametrize(("sort_by", "descending"), SORTS)
def test_list_sorts_by_the_key_with_name_as_tiebreaker(
    store: MetadataStore, twenty: list[Record], sort_by: Any, descending: bool
) -> None:
    page = store.list(KIND, ListQuery(sort_by=sort_by, descending=descending, limit=100))
    assert [r.name for r in page.records] == expected_order(twenty, sort_by, descending)
    assert page.next_cursor is None


@pytest.mark.parametrize(("sort_by", "descending"), SORTS)
@pytest.mark.parametrize("limit", [3, 5])
def test_walking_every_page_yields_each_record_once_in_order(
    store: MetadataStore, twenty: list[Record], sort_by: Any, descending: bool, limit: int
) -> None:
    names: list[str] = []
    cursor = None
    while True:
        query = ListQuery(sort_by=sort_by, descending=descending, limit=limit, cursor=cursor)
        page = store.list(KIND, query)
        assert 0 < len(page.records) <= limit
        names.extend(r.name for r in page.records)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert names == expected_order(twenty, sort_by, descending)


def test_list_filters(store: MetadataStore) -> None:
    make(store, "XGBoost-Churn", "Completed", created=T0)
    make(store, "xgboost-loans", "Failed", created=T0 + timedelta(hours=1))
    make(store, "linear-loans", "Completed", created=T0 + timedelta(hours=2))
    make(store, "odd_name%", "Completed", created=T0 + timedelta(hours=3))
    make(store, "other-kind-xgboost", kind="processing-job")

    def names(**filters: Any) -> set[str]:
        return {r.name for r in store.list(KIND, ListQuery(**filters)).records}

    assert names(name_contains="XGBOOST") == {"XGBoost-Churn", "xgboost-loans"}
    assert names(name_contains="_name%") == {"odd_name%"}  # LIKE wildcards are literal
    assert names(name_contains="e_n") == set()
    assert names(status="Completed") == {"XGBoost-Churn", "linear-loans", "odd_name%"}
    assert names(status="Completed", name_contains="loans") == {"linear-loans"}
    assert names(created_after=T0, created_before=T0 + timedelta(hours=3)) == {
        "xgboost-loans",
        "linear-loans",
    }
    updated = store.update(KIND, "linear-loans", lambda r: Change("Stopped", r.document))
    assert names(modified_after=updated.last_modified_time - timedelta(microseconds=1)) == {
        "linear-loans"
    }
    assert "linear-loans" not in names(modified_before=updated.last_modified_time)


def test_list_filters_on_document_fields(store: MetadataStore) -> None:
    make(store, "a", Group="loans", Region="eu", Depth=3)
    make(store, "b", Group="loans", Region="us")
    make(store, "c", Group="churn", Region="eu")

    def names(**fields: str) -> set[str]:
        query = ListQuery(document_equals=fields)
        return {r.name for r in store.list(KIND, query).records}

    assert names(Group="loans") == {"a", "b"}
    assert names(Group="loans", Region="eu") == {"a"}
    assert names(Group="nothing") == set()
    assert names(Depth="3") == set()  # only string fields match a string
    with pytest.raises(ValidationError, match="document field"):
        names(**{'Bad"Field': "x"})


def test_list_rejects_a_page_size_below_one(store: MetadataStore) -> None:
    with pytest.raises(ValidationError, match=r"at least 1\. Got 0"):
        store.list(KIND, ListQuery(limit=0))


def first_cursor(store: MetadataStore, **filters: Any) -> str:
    page: Page = store.list(KIND, ListQuery(limit=2, **filters))
    cursor = page.next_cursor
    assert cursor is not None
    return cursor


def tampered(cursor: str) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload[0][1] = "job-99"  # another "last name", digest unchanged
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda c: "not-a-token", id="garbage"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: c[:-4], id="truncated"),
        pytest.param(tampered, id="edited"),
        pytest.param(lambda c: base64.urlsafe_b64encode(b'{"a":1}').decode(), id="foreign"),
    ],
)
def test_a_bad_next_token_is_a_validation_error(
    store: MetadataStore, twenty: list[Record], bad: Callable[[str], str]
) -> None:
    token = bad(first_cursor(store))
    with pytest.raises(ValidationError) as info:
        store.list(KIND, ListQuery(limit=2, cursor=token))
    assert info.value.message.endswith(
        "is not valid for this request. Pass the NextToken from the previous response "
        "of the same request, unchanged."
    )


@pytest.mark.parametrize(
    "other",
    [
        {"status": "Completed"},
        {"name_contains": "job"},
        {"sort_by": "name"},
        {"descending": False},
        {"document_equals": {"Name": "job-01"}},
        {"created_after": T0},
    ],
)
def test_a_next_token_is_only_valid_for_the_request_it_came_from(
    store: MetadataStore, twenty: list[Record], other: dict[str, Any]
) -> None:
    cursor = first_cursor(store)
    with pytest.raises(ValidationError, match="is not valid for this request"):
        store.list(KIND, ListQuery(limit=2, cursor=cursor, **other))
    with pytest.raises(ValidationError, match="is not valid for this request"):
        store.list("processing-job", ListQuery(limit=2, cursor=cursor))
    # another page size is the same request
    assert len(store.list(KIND, ListQuery(limit=4, cursor=cursor)).records) == 4


def test_find_returns_records_in_the_given_statuses_oldest_first(store: MetadataStore) -> None:
    make(store, "new", "InProgress", created=T0 + timedelta(hours=2))
    make(store, "old", "Stopping", created=T0)
    make(store, "done", "Completed", created=T0 + timedelta(hours=1))
    make(store, "elsewhere", "InProgress", kind="processing-job")
    found = store.find(KIND, ["InProgress", "Stopping"])
    assert [r.name for r in found] == ["old", "new"]
    assert store.find(KIND, []) == []


# -- tags and metrics --------------------------------------------------------------


def test_tags_are_added_overwritten_and_removed(store: MetadataStore) -> None:
    make(store, "job")
    resource = arn("job")
    assert store.get_tags(resource) == {}
    store.set_tags(resource, {"team": "risk", "env": "dev"})
    store.set_tags(resource, {"env": "prod", "cost-center": "42"})
    assert store.get_tags(resource) == {"team": "risk", "env": "prod", "cost-center": "42"}
    store.remove_tags(resource, ["team", "never-set"])
    assert store.get_tags(resource) == {"env": "prod", "cost-center": "42"}


def test_tags_of_an_unknown_arn_are_not_found(store: MetadataStore) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: store.get_tags(arn("ghost")),
        lambda: store.set_tags(arn("ghost"), {"a": "b"}),
        lambda: store.remove_tags(arn("ghost"), ["a"]),
        lambda: store.put_metrics(arn("ghost"), [MetricPoint("m", 1.0, T0)]),
        lambda: store.get_metrics(arn("ghost")),
    ]
    for attempt in attempts:
        with pytest.raises(ResourceNotFound, match="No resource has the ARN"):
            attempt()


def test_metrics_come_back_in_timestamp_then_insertion_order(store: MetadataStore) -> None:
    make(store, "job")
    resource = arn("job")
    store.put_metrics(
        resource,
        [
            MetricPoint("train:loss", 0.9, T0 + timedelta(seconds=2), step=2),
            MetricPoint("train:loss", 1.0, T0, step=0),
            MetricPoint("validation:auc", 0.7, T0 + timedelta(seconds=1)),
        ],
    )
    # same timestamp as an earlier point: insertion order breaks the tie
    store.put_metrics(
        resource,
        [
            MetricPoint("train:loss", 0.8, T0 + timedelta(seconds=2), step=3),
            MetricPoint("train:loss", math.nan, T0 + timedelta(seconds=3)),
        ],
    )
    points = store.get_metrics(resource)
    assert [(p.name, p.value, p.step) for p in points[:4]] == [
        ("train:loss", 1.0, 0),
        ("validation:auc", 0.7, None),
        ("train:loss", 0.9, 2),
        ("train:loss", 0.8, 3),
    ]
    assert math.isnan(points[4].value)  # a diverged loss survives the round trip
    assert all(p.timestamp.tzinfo is not None for p in points)
    assert [p.value for p in store.get_metrics(resource, "validation:auc")] == [0.7]


# -- concurrency ------------------------------------------------------------------


def test_concurrent_updates_from_threads_lose_nothing(store: MetadataStore) -> None:
    store.create(KIND, "counter", arn("counter"), None, {"Count": 0})

    def increment(record: Record) -> Change:
        return Change(record.status, {"Count": record.document["Count"] + 1})

    def worker() -> None:
        for _ in range(50):
            store.update(KIND, "counter", increment)

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(worker) for _ in range(8)]:
            future.result()  # re-raises any error, "database is locked" included
    final = store.get(KIND, "counter")
    assert final.document["Count"] == 400
    assert final.version == 401


def test_concurrent_tag_writers_of_one_resource_do_not_collide(store: MetadataStore) -> None:
    make(store, "job")

    def worker(index: int) -> None:
        for round_ in range(10):
            store.set_tags(arn("job"), {"owner": f"w{index}", "round": str(round_)})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    tags = store.get_tags(arn("job"))
    assert tags["round"] == "9"
    assert tags["owner"] in {f"w{i}" for i in range(8)}


def _process_worker(url: str, index: int, barrier: Any) -> None:
    """Runs in a spawned process: 50 creates, each followed by an update."""
    with open_metadata_store(url) as store:
        barrier.wait()
        for i in range(50):
            name = f"p{index}-{i:02d}"
            store.create(KIND, name, arn(name), "InProgress", {"Count": 0})
            store.update(KIND, name, lambda r: Change("Completed", {"Count": 1}))
            store.update(KIND, "shared", lambda r: Change(None, {"Count": r.document["Count"] + 1}))


def test_concurrent_writers_in_processes_all_land(url: str, store: MetadataStore) -> None:
    store.create(KIND, "shared", arn("shared"), None, {"Count": 0})
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [
        context.Process(target=_process_worker, args=(url, index, barrier)) for index in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    done = store.find(KIND, ["Completed"])
    assert len(done) == 200
    assert all(r.document == {"Count": 1} and r.version == 2 for r in done)
    assert store.get(KIND, "shared").document["Count"] == 200
    assert store.integrity_check() == "ok"


def test_concurrent_first_opens_migrate_once(url: str) -> None:
    barrier = threading.Barrier(4)

    def open_and_write(index: int) -> None:
        barrier.wait()
        with open_metadata_store(url) as store:
            make(store, f"job-{index}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_and_write, range(4)))
    with open_metadata_store(url) as store:
        assert len(store.list(KIND, ListQuery()).records) == 4


def test_threads_migrating_different_databases_at_once_each_get_their_own(
    tmp_path: Path,
) -> None:
    # Alembic's proxies hold one migration per process: unserialized, the threads ran
    # each other's DDL on the wrong database, or crashed the interpreter (hence a child).
    code = f"""
import threading
from sagebox.store.metadata import open_metadata_store
barrier = threading.Barrier(4)
def first_open(index):
    barrier.wait()
    with open_metadata_store(f"sqlite:///{tmp_path}/db{{round}}-{{index}}/metadata.db") as s:
        assert s.integrity_check() == "ok"
for round in range(25):
    threads = [threading.Thread(target=first_open, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr[-2000:]
    assert len(list(tmp_path.glob("db*/metadata.db"))) == 100


def test_a_forked_child_uses_its_own_connections(store: MetadataStore) -> None:
    make(store, "before-fork")
    context = multiprocessing.get_context("fork")
    child = context.Process(target=make, args=(store, "from-child"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    make(store, "after-fork")  # the parent's pool still works
    assert {r.name for r in store.list(KIND, ListQuery()).records} == {
        "before-fork",
        "from-child",
        "after-fork",
    }


# -- opening, migrations, housekeeping ----------------------------------------------


def test_reopening_keeps_the_data_and_the_schema(url: str, opener: Any) -> None:
    first = opener()
    make(first, "job")
    first.close()
    second = opener()
    assert second.get(KIND, "job").name == "job"
    assert second.integrity_check() == "ok"


def test_opening_a_current_database_does_not_run_alembic(url: str, store: MetadataStore) -> None:
    code = (
        "import sys; from sagebox.store.metadata import open_metadata_store as o; "
        f"s = o({url!r}); print(s.get({KIND!r}, 'job').name, 'alembic' in sys.modules)"
    )
    make(store, "job")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["job", "False"]


def test_a_database_from_a_newer_sagebox_is_refused_clearly(url: str, opener: Any) -> None:
    opener().close()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(InternalError, match=r"revision '9999'.*Upgrade sagebox"):
        open_metadata_store(url)


def test_head_names_the_newest_migration_and_the_tables_match_it(
    url: str, store: MetadataStore
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from sagebox.store.metadata._migrate import MIGRATIONS_DIR
    from sagebox.store.metadata._schema import metadata
    from sagebox.store.metadata.migrations import HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (HEAD,)
            ]
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diffs == []


ONLY_SQLITE = pytest.mark.parametrize("backend", [BACKENDS[0]], indirect=True)
ONLY_POSTGRESQL = pytest.mark.parametrize("backend", [BACKENDS[1]], indirect=True)


@ONLY_SQLITE
def test_sqlite_runs_in_wal_mode(store: MetadataStore) -> None:
    path = store.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@ONLY_SQLITE
def test_a_lock_held_past_the_busy_timeout_is_waited_out(url: str) -> None:
    from sagebox.store.metadata.sql import SqlMetadataStore

    open_metadata_store(url).close()
    path = url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, holder.rollback).start()
    with SqlMetadataStore(url, busy_timeout_s=0.02) as store:
        started = time.monotonic()
        make(store, "patient")
        assert time.monotonic() - started >= 0.4
        assert store.get(KIND, "patient").name == "patient"

    holder.execute("BEGIN IMMEDIATE")
    try:
        with (
            SqlMetadataStore(url, busy_timeout_s=0.02, retry_deadline_s=0.2) as store,
            pytest.raises(ThrottlingError) as info,
        ):
            make(store, "impatient")
        assert "database is locked" not in str(info.value)
        assert "stayed busy" in info.value.message
    finally:
        holder.rollback()
        holder.close()


def test_a_closed_store_says_so(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(Exception, match="was closed"):
        store.get(KIND, "job")


@pytest.mark.parametrize(
    "bad", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "not a url", "sqlite+foo:///x"]
)
def test_unsupported_urls_are_rejected_with_the_forms_that_work(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"sqlite:////absolute/path"):
        open_metadata_store(bad)


@ONLY_POSTGRESQL
def test_postgresql_urls_use_psycopg(url: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with open_metadata_store(plain) as store:
        assert store.url.startswith("postgresql+psycopg://")
        assert store.integrity_check() == "ok"
