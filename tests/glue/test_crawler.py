"""Crawlers: discovery of tables, formats, types and partitions; re-runs and policies."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from sagebox.control.glue_crawlers import crawl_log
from sagebox.errors import AccessDenied
from sagebox.glue import CrawlerNotRunning, CrawlerRunning, EntityNotFound, InvalidInput
from sagebox.session import Session
from tests.glue.conftest import (
    create_crawler,
    glue,
    iam,
    loans,
    make_role,
    put,
    run_crawler,
)


def _tables(session: Session) -> dict[str, dict[str, Any]]:
    return {t["Name"]: t for t in glue(session, "GetTables", DatabaseName="lake")["TableList"]}


def _columns(table: dict[str, Any]) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def _values(session: Session, table: str) -> list[list[str]]:
    found = glue(session, "GetPartitions", DatabaseName="lake", TableName=table)["Partitions"]
    return [p["Values"] for p in found]


def test_a_crawl_creates_tables_with_types_formats_and_partitions(
    lake: Session, glue_role: str
) -> None:
    create_crawler(lake, "raw", "GlueCrawlerRole", TablePrefix="raw_")
    crawler = run_crawler(lake, "raw")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["Role"] == glue_role  # a role name is stored as its ARN
    tables = _tables(lake)
    assert sorted(tables) == ["raw_customers", "raw_events", "raw_loans"]

    loans_table = tables["raw_loans"]
    assert _columns(loans_table) == {
        "id": "bigint",
        "amount": "double",
        "history": "array<struct<lender:string,balance:double>>",
    }
    assert loans_table["PartitionKeys"] == [
        {"Name": "year", "Type": "bigint"},
        {"Name": "month", "Type": "bigint"},
    ]
    descriptor = loans_table["StorageDescriptor"]
    assert descriptor["Location"] == "s3://lake/loans/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert descriptor["InputFormat"].endswith("MapredParquetInputFormat")
    assert loans_table["Parameters"]["classification"] == "parquet"
    assert loans_table["TableType"] == "EXTERNAL_TABLE"
    assert _values(lake, "raw_loans") == [
        ["2023", "01"],
        ["2023", "02"],
        ["2024", "01"],
        ["2024", "02"],
    ]
    partition = glue(
        lake,
        "GetPartition",
        DatabaseName="lake",
        TableName="raw_loans",
        PartitionValues=["2024", "02"],
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"] == "s3://lake/loans/year=2024/month=02/"

    customers = tables["raw_customers"]
    assert _columns(customers) == {"id": "bigint", "name": "string", "score": "double"}
    assert customers["PartitionKeys"] == []
    assert customers["Parameters"]["classification"] == "csv"
    assert customers["Parameters"]["skip.header.line.count"] == "1"
    assert customers["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}

    events = tables["raw_events"]
    assert _columns(events) == {"id": "bigint", "kind": "string", "meta": "struct<channel:string>"}
    assert events["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert events["Parameters"]["classification"] == "json"
    assert events["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )
    metrics = glue(lake, "GetCrawlerMetrics", CrawlerNameList=["raw"])["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (
        3,
        0,
        0,
    )
    assert metrics["LastRuntimeSeconds"] > 0


def test_files_directly_under_the_path_make_one_table(lake: Session, glue_role: str) -> None:
    put(lake, "flat/a.csv", b"x;y\n1;a\n")
    put(lake, "flat/b.csv", b"x;y\n2;b\n")
    put(lake, "flat/skip/c.csv", b"x;y\n3;c\n")
    create_crawler(
        lake,
        "flat",
        glue_role,
        Targets={"S3Targets": [{"Path": "s3://lake/flat", "Exclusions": ["skip/**"]}]},
    )
    assert run_crawler(lake, "flat")["LastCrawl"]["Status"] == "SUCCEEDED"
    flat = _tables(lake)["flat"]
    assert flat["StorageDescriptor"]["Location"] == "s3://lake/flat/"
    assert flat["Parameters"]["delimiter"] == ";"
    assert flat["Parameters"]["objectCount"] == "2"


def test_a_rerun_adds_new_partitions_without_a_new_version(lake: Session, glue_role: str) -> None:
    create_crawler(lake, "raw", glue_role)
    run_crawler(lake, "raw")
    put(lake, "loans/year=2025/month=01/part-0.parquet", loans(2025, "01"))
    crawler = run_crawler(lake, "raw")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert ["2025", "01"] in _values(lake, "loans")
    assert len(_values(lake, "loans")) == 5
    assert _tables(lake)["loans"]["VersionId"] == "0"
    metrics = glue(lake, "GetCrawlerMetrics")["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (0, 0)


def test_schema_change_makes_a_new_version_under_update_in_database(
    lake: Session, glue_role: str
) -> None:
    create_crawler(lake, "raw", glue_role)
    run_crawler(lake, "raw")
    put(lake, "loans/year=2025/month=01/part-0.parquet", loans(2025, "01", term=[12, 24, 36]))
    run_crawler(lake, "raw")
    table = _tables(lake)["loans"]
    assert table["VersionId"] == "1"
    assert _columns(table)["term"] == "bigint"
    versions = glue(lake, "GetTableVersions", DatabaseName="lake", TableName="loans")
    assert [v["VersionId"] for v in versions["TableVersions"]] == ["1", "0"]
    assert "term" not in _columns(versions["TableVersions"][1]["Table"])
    assert "schema updated: added column(s) term" in crawl_log(lake.local_home(), "raw")[-1]
    metrics = glue(lake, "GetCrawlerMetrics")["CrawlerMetricsList"][0]
    assert metrics["TablesUpdated"] == 1


def test_schema_change_is_only_logged_under_log(lake: Session, glue_role: str) -> None:
    create_crawler(
        lake,
        "raw",
        glue_role,
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    run_crawler(lake, "raw")
    put(lake, "loans/year=2025/month=01/part-0.parquet", loans(2025, "01", term=[12, 24, 36]))
    assert run_crawler(lake, "raw")["LastCrawl"]["Status"] == "SUCCEEDED"
    table = _tables(lake)["loans"]
    assert table["VersionId"] == "0"
    assert "term" not in _columns(table)
    assert ["2025", "01"] in _values(lake, "loans")  # partitions are still added
    last = crawl_log(lake.local_home(), "raw")[-1]
    assert "schema change not applied (UpdateBehavior LOG): added column(s) term" in last


@pytest.mark.parametrize(
    ("behavior", "table_left", "partitions_left"),
    [
        ("DELETE_FROM_DATABASE", False, 3),
        ("DEPRECATE_IN_DATABASE", True, 4),
        ("LOG", True, 4),
    ],
)
def test_deleted_data_follows_delete_behavior(
    lake: Session, glue_role: str, behavior: str, table_left: bool, partitions_left: int
) -> None:
    create_crawler(
        lake,
        "raw",
        glue_role,
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": behavior},
    )
    run_crawler(lake, "raw")
    objects = lake.home.objects
    objects.delete_object("lake", "customers/customers.csv")
    objects.delete_object("lake", "loans/year=2023/month=01/part-0.parquet")
    assert run_crawler(lake, "raw")["LastCrawl"]["Status"] == "SUCCEEDED"
    tables = _tables(lake)
    assert ("customers" in tables) is table_left
    assert len(_values(lake, "loans")) == partitions_left
    if behavior == "DEPRECATE_IN_DATABASE":
        assert "DEPRECATED_BY_CRAWLER" in tables["customers"]["Parameters"]
        gone = glue(
            lake,
            "GetPartition",
            DatabaseName="lake",
            TableName="loans",
            PartitionValues=["2023", "01"],
        )["Partition"]
        assert "DEPRECATED_BY_CRAWLER" in gone["Parameters"]
    if behavior == "LOG":
        assert (
            "customers: its data is gone (DeleteBehavior LOG)"
            in crawl_log(lake.local_home(), "raw")[-1]
        )
    deleted = glue(lake, "GetCrawlerMetrics")["CrawlerMetricsList"][0]["TablesDeleted"]
    assert deleted == (1 if behavior == "DELETE_FROM_DATABASE" else 0)


def test_a_role_that_cannot_read_fails_the_crawl(lake: Session) -> None:
    list_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake"}
        ],
    }
    make_role(lake, "ListOnly", list_only)
    create_crawler(lake, "raw", "ListOnly")
    last = run_crawler(lake, "raw")["LastCrawl"]
    assert last["Status"] == "FAILED"
    assert "AccessDeniedException" in last["ErrorMessage"]
    assert "assumed-role/ListOnly/AWS-Crawler" in last["ErrorMessage"]
    assert "s3:GetObject" in last["ErrorMessage"]
    assert _tables(lake) == {}


def test_create_crawler_checks_the_role_and_definition(lake: Session, glue_role: str) -> None:
    sagemaker_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    make_role(lake, "NotForGlue", trust=sagemaker_trust)
    with pytest.raises(InvalidInput, match=r"glue\.amazonaws\.com"):
        create_crawler(lake, "c", "NotForGlue")
    with pytest.raises(InvalidInput, match="unable to assume"):
        create_crawler(lake, "c", "arn:aws:iam::123456789012:role/Elsewhere")
    with pytest.raises(InvalidInput, match="Minutes"):
        create_crawler(lake, "c", glue_role, Schedule="cron(99 1 * * ? *)")
    with pytest.raises(EntityNotFound, match="Database nope"):
        create_crawler(lake, "c", glue_role, DatabaseName="nope")
    with pytest.raises(InvalidInput, match="only LOG"):
        create_crawler(
            lake, "c", glue_role, RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
        )
    create_crawler(lake, "c", glue_role, Schedule="cron(0 2 * * ? *)")
    crawler = glue(lake, "GetCrawler", Name="c")["Crawler"]
    assert crawler["Schedule"] == {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "SCHEDULED"}
    assert crawler["State"] == "READY"
    assert crawler["SchemaChangePolicy"] == {
        "UpdateBehavior": "UPDATE_IN_DATABASE",
        "DeleteBehavior": "DEPRECATE_IN_DATABASE",
    }


def test_passing_the_role_needs_pass_role(lake: Session, glue_role: str) -> None:
    from sagebox.control import Principal

    iam(lake, "CreateUser", UserName="dev")
    iam(
        lake,
        "PutUserPolicy",
        UserName="dev",
        PolicyName="glue",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "glue:*", "Resource": "*"}],
            }
        ),
    )
    dev = Principal(f"arn:aws:iam::{lake.account_id}:user/dev", lake.account_id)
    request = {
        "Name": "c",
        "Role": glue_role,
        "DatabaseName": "lake",
        "Targets": {"S3Targets": [{"Path": "s3://lake/"}]},
    }
    with pytest.raises(AccessDenied, match="iam:PassRole"):
        lake.control.call("CreateCrawler", request, service="glue", principal=dev)


def test_crawler_lifecycle_errors_and_listing(
    lake: Session, glue_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_crawler(lake, "a", glue_role)
    create_crawler(
        lake,
        "b",
        glue_role,
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    with pytest.raises(CrawlerNotRunning):
        glue(lake, "StopCrawler", Name="a")
    assert glue(lake, "ListCrawlers")["CrawlerNames"] == ["a", "b"]
    assert [c["Name"] for c in glue(lake, "GetCrawlers", MaxResults=1)["Crawlers"]] == ["a"]
    glue(lake, "UpdateCrawler", Name="a", Description="nightly", Schedule="cron(0 3 * * ? *)")
    updated = glue(lake, "GetCrawler", Name="a")["Crawler"]
    assert (updated["Description"], updated["Version"]) == ("nightly", 2)
    # the crawl is held until the second start has been refused: two small files are
    # otherwise crawled before the second call comes
    from sagebox.glue import crawler

    gate, crawl = threading.Event(), crawler.crawl

    def held(*args: Any, **kwargs: Any) -> Any:
        gate.wait(30)
        return crawl(*args, **kwargs)

    monkeypatch.setattr(crawler, "crawl", held)
    glue(lake, "StartCrawler", Name="a")
    with pytest.raises(CrawlerRunning):
        glue(lake, "StartCrawler", Name="a")
    gate.set()
    run_crawler_done = _wait_ready(lake, "a")
    assert run_crawler_done["LastCrawl"]["Status"] == "SUCCEEDED"
    # crawl new folders only: a second crawler sees the existing tables' known partitions
    put(lake, "loans/year=2026/month=01/part-0.parquet", loans(2026, "01"))
    assert run_crawler(lake, "b")["LastCrawl"]["Status"] == "SUCCEEDED"
    assert ["2026", "01"] in _values(lake, "loans")
    glue(lake, "DeleteCrawler", Name="a")
    with pytest.raises(EntityNotFound):
        glue(lake, "GetCrawler", Name="a")


def _wait_ready(session: Session, name: str) -> dict[str, Any]:
    import time

    for _ in range(400):
        crawler = glue(session, "GetCrawler", Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return dict(crawler)
        time.sleep(0.05)
    raise AssertionError(f"{name} never became READY")


def test_a_crawl_whose_process_died_is_recorded_failed(lake: Session, glue_role: str) -> None:
    from sagebox.store.metadata import Change

    create_crawler(lake, "ghost", glue_role)

    def orphan(record: Any) -> Change:
        doc = {**record.document, "_Owner": {"pid": 2**22 + 12345, "host": _host()}, "_Started": 0}
        return Change("RUNNING", doc)

    lake.home.metadata.update("glue-crawler", "ghost", orphan)
    crawler = glue(lake, "GetCrawler", Name="ghost")["Crawler"]
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert "process that ran this crawl ended" in crawler["LastCrawl"]["ErrorMessage"]


def _host() -> str:
    import socket

    return socket.gethostname()


def test_stop_crawler_cancels_a_running_crawl(
    lake: Session, glue_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from sagebox.glue import crawler as crawler_module

    real = crawler_module.describe

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(crawler_module, "describe", slow)
    create_crawler(lake, "raw", glue_role)
    glue(lake, "StartCrawler", Name="raw")
    assert glue(lake, "GetCrawler", Name="raw")["Crawler"]["State"] == "RUNNING"
    glue(lake, "StopCrawler", Name="raw")
    assert glue(lake, "GetCrawler", Name="raw")["Crawler"]["State"] in ("STOPPING", "READY")
    last = _wait_ready(lake, "raw")["LastCrawl"]
    assert last["Status"] == "CANCELLED"
    assert len(_tables(lake)) < 3
