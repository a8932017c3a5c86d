"""boto3's Glue client against a running sagebox server: catalog, crawler, partitions."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import RunningServer

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "glue.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    ],
}


def _lake(server: RunningServer) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from sagebox.home import Home

    objects = Home.open(server.home_path).objects
    objects.create_bucket("lake")
    for year in ("2023", "2024"):
        buffer = io.BytesIO()
        pq.write_table(pa.table({"id": [1, 2], "income": [5e4, 7e4]}), buffer)
        objects.put_object("lake", f"applications/year={year}/part-0.parquet", buffer.getvalue())


def test_boto3_builds_the_catalog_with_a_crawler(server: RunningServer) -> None:
    _lake(server)
    iam = server.client("iam")
    role = iam.create_role(RoleName="GlueRole", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="GlueRole", PolicyName="read", PolicyDocument=json.dumps(READ))
    glue = server.client("glue")

    glue.create_database(DatabaseInput={"Name": "loans", "Description": "raw applications"})
    assert glue.get_database(Name="loans")["Database"]["Description"] == "raw applications"
    glue.create_crawler(
        Name="applications",
        Role=role["Role"]["Arn"],
        DatabaseName="loans",
        Targets={"S3Targets": [{"Path": "s3://lake/applications/"}]},
        Schedule="cron(0 2 * * ? *)",
        SchemaChangePolicy={
            "UpdateBehavior": "UPDATE_IN_DATABASE",
            "DeleteBehavior": "DEPRECATE_IN_DATABASE",
        },
    )
    glue.start_crawler(Name="applications")
    try:  # refused while the first crawl runs; tests/glue holds a crawl to show it each time
        glue.start_crawler(Name="applications")
    except ClientError as running:
        assert running.response["Error"]["Code"] == "CrawlerRunningException"
    # else the first crawl (two small files) had ended already, and this one crawls again

    deadline = time.monotonic() + 30
    while True:
        crawler = glue.get_crawler(Name="applications")["Crawler"]
        if crawler["State"] == "READY":
            break
        assert time.monotonic() < deadline, crawler["State"]
        time.sleep(0.1)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["Schedule"]["ScheduleExpression"] == "cron(0 2 * * ? *)"

    tables = glue.get_tables(DatabaseName="loans")["TableList"]
    assert [t["Name"] for t in tables] == ["applications"]
    table = tables[0]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"),
        ("income", "double"),
    ]
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "bigint"}]
    assert table["Parameters"]["classification"] == "parquet"
    assert table["CreateTime"].tzinfo is not None  # a real timestamp on the wire

    partitions = glue.get_partitions(DatabaseName="loans", TableName="applications")
    assert sorted(p["Values"] for p in partitions["Partitions"]) == [["2023"], ["2024"]]
    recent = glue.get_partitions(
        DatabaseName="loans", TableName="applications", Expression="year > 2023"
    )
    assert [p["Values"] for p in recent["Partitions"]] == [["2024"]]
    paginator = glue.get_paginator("get_partitions")
    pages = list(
        paginator.paginate(
            DatabaseName="loans", TableName="applications", PaginationConfig={"PageSize": 1}
        )
    )
    assert sum(len(p["Partitions"]) for p in pages) == 2

    metrics = glue.get_crawler_metrics(CrawlerNameList=["applications"])["CrawlerMetricsList"]
    assert metrics[0]["TablesCreated"] == 1

    with pytest.raises(ClientError) as missing:
        glue.get_table(DatabaseName="loans", Name="nope")
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as invalid:
        glue.get_partitions(DatabaseName="loans", TableName="applications", Expression="x = 1")
    assert invalid.value.response["Error"]["Code"] == "InvalidInputException"
