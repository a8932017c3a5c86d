"""The quickstart's data-lake step: crawl raw data into the Glue catalog, query it, report.

The German credit CSV and a generated batch of nested loan applications (JSONL, in a
Hive-style ``batch=`` partition) land under ``s3://<bucket>/lake/``; a crawler running as
the execution role catalogs both; a SQL query reads the applications with partition
pruning; and the data quality report of the German credit data is written to S3.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sagebox.session import Session

DATABASE = "loans"
CRAWLER = "quickstart-lake"
BATCH = "2026-11"


def _glue(session: Session, operation: str, **params: Any) -> dict[str, Any]:
    return session.control.call(operation, params, service="glue")


def crawl_query_report(session: Session, bucket: str, applications: int = 2000) -> str:
    """Run the step; returns the S3 URI of the quality report's HTML page."""
    from sagebox.data.quality import quality_report
    from sagebox.data.synthetic import write_loans
    from sagebox.datasets import GERMAN_CREDIT
    from sagebox.glue.errors import AlreadyExists
    from sagebox.glue.query import QueryStats, run_query

    objects = session.objects
    objects.put_object(
        bucket, "lake/german_credit/german_credit.csv", GERMAN_CREDIT, content_type="text/csv"
    )
    write_loans(
        objects, f"s3://{bucket}/lake/applications/batch={BATCH}/", applications, "jsonl", seed=7
    )
    print(
        f"lake: s3://{bucket}/lake/german_credit/ (CSV) and "
        f"s3://{bucket}/lake/applications/batch={BATCH}/ ({applications} nested JSONL "
        "applications)"
    )

    role = session.get_execution_role()
    with contextlib.suppress(AlreadyExists):
        _glue(session, "CreateDatabase", DatabaseInput={"Name": DATABASE})
    with contextlib.suppress(AlreadyExists):
        _glue(
            session,
            "CreateCrawler",
            Name=CRAWLER,
            Role=role,
            DatabaseName=DATABASE,
            Targets={"S3Targets": [{"Path": f"s3://{bucket}/lake/"}]},
        )
    _glue(session, "StartCrawler", Name=CRAWLER)
    deadline = time.monotonic() + 300
    while True:
        crawler = _glue(session, "GetCrawler", Name=CRAWLER)["Crawler"]
        if crawler["State"] == "READY" and "LastCrawl" in crawler:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"crawler {CRAWLER} did not finish in 300 s")
        time.sleep(0.2)
    last = crawler["LastCrawl"]
    if last["Status"] != "SUCCEEDED":
        raise RuntimeError(
            f"crawler {CRAWLER} ended {last['Status']}: {last.get('ErrorMessage', '')}"
        )
    tables = _glue(session, "GetTables", DatabaseName=DATABASE)["TableList"]
    for table in tables:
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        columns = len(table["StorageDescriptor"]["Columns"])
        print(
            f"catalog: {DATABASE}.{table['Name']}: {columns} columns"
            + (f", partitioned by {', '.join(keys)}" if keys else "")
        )

    stats = QueryStats()
    result = run_query(
        session,
        f'SELECT count(*) AS applications, round(avg("default"), 3) AS default_rate '
        f"FROM {DATABASE}.applications WHERE batch = '{BATCH}'",
        stats=stats,
    )
    row = result.to_pylist()[0]
    print(
        f"query: {row['applications']} applications in batch {BATCH}, default rate "
        f"{row['default_rate']} ({stats.line()})"
    )

    prepare_applications(session, bucket)

    out = f"s3://{bucket}/reports/german-credit"
    written = quality_report(
        objects, f"s3://{bucket}/lake/german_credit/", out, target="creditability"
    )
    model = written.report["summary"].get("quick_model") or {}
    quick = f" (quick model {model['metric']} {model['score']:.3f})" if model else ""
    print(f"quality report: {written.html_uri}{quick}")
    return written.html_uri


def prepare_applications(session: Session, bucket: str) -> str:
    """A Data Wrangler flow: flatten the nested applications, encode, split; export it."""
    from sagebox.data.formats import DataSource
    from sagebox.wrangler import Flow

    flow = (
        Flow(
            "quickstart-applications",
            source=DataSource(f"s3://{bucket}/lake/applications/", format="jsonl"),
        )
        .add("drop-columns", columns=["credit_history", "true_default_probability"])
        .add("flatten", column="applicant")
        .add("flatten", column="loan")
        .add(
            "drop-columns",
            columns=[
                "applicant.name",
                "applicant.email",
                "applicant.date_of_birth",
                "applicant.address.postcode",
            ],
        )
        .add("encode-one-hot", column="loan.purpose", max_categories=10)
        .add("encode-one-hot", column="applicant.employment.status", max_categories=10)
        .add(
            "split",
            method="stratified",
            target="default",
            splits={"train": 0.7, "validation": 0.15, "test": 0.15},
            seed=7,
        )
    )
    version = flow.save(session)
    out = f"s3://{bucket}/prepared-applications/"
    job = flow.export(session, out, format="parquet", instance_type="ml.m5.large")
    parts = sorted(
        {
            o.key.split("/")[1]
            for o in session.objects.iter_objects(bucket, "prepared-applications/")
            if not o.key.rsplit("/", 1)[-1].startswith("_")
        }
    )
    print(
        f"flow: quickstart-applications v{version} ({len(flow.steps)} steps) exported by "
        f"processing job {job} to {out} ({', '.join(parts)})"
    )
    return out
