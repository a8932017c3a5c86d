"""A lake of Parquet, CSV and JSON lines under Hive partitions, and a role Glue may assume."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from sagebox.session import Session

GLUE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "glue.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ_LAKE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    ],
}


def glue(session: Session, operation: str, **params: Any) -> dict[str, Any]:
    return session.control.call(operation, params, service="glue")


def iam(session: Session, operation: str, **params: Any) -> dict[str, Any]:
    return session.control.call(operation, params, service="iam")


def make_role(
    session: Session,
    name: str,
    policy: dict[str, Any] | None = READ_LAKE,
    trust: dict[str, Any] = GLUE_TRUST,
) -> str:
    role = iam(session, "CreateRole", RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    if policy is not None:
        iam(
            session,
            "PutRolePolicy",
            RoleName=name,
            PolicyName="access",
            PolicyDocument=json.dumps(policy),
        )
    return str(role["Role"]["Arn"])


def parquet(**columns: list[Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def put(session: Session, key: str, body: bytes, bucket: str = "lake") -> None:
    session.home.objects.put_object(bucket, key, body)


def loans(year: int, month: str, rows: int = 3, **extra: list[Any]) -> bytes:
    return parquet(
        id=list(range(rows)),
        amount=[100.0 * (i + 1) for i in range(rows)],
        history=[[{"lender": "a", "balance": 1.5}]] * rows,
        **extra,
    )


def run_crawler(session: Session, name: str, timeout: float = 20) -> dict[str, Any]:
    glue(session, "StartCrawler", Name=name)
    end = time.monotonic() + timeout
    while True:
        crawler = glue(session, "GetCrawler", Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return dict(crawler)
        assert time.monotonic() < end, f"crawler {name} still {crawler['State']}"
        time.sleep(0.05)


def create_crawler(session: Session, name: str, role: str, **params: Any) -> None:
    request: dict[str, Any] = {
        "Name": name,
        "Role": role,
        "DatabaseName": "lake",
        "Targets": {"S3Targets": [{"Path": "s3://lake/"}]},
    }
    request.update(params)
    glue(session, "CreateCrawler", **request)


@pytest.fixture
def lake(session: Session) -> Session:
    """Loans (Parquet, year/month), customers (CSV), events (JSON lines, dt)."""
    session.home.objects.create_bucket("lake")
    for year in (2023, 2024):
        for month in ("01", "02"):
            put(session, f"loans/year={year}/month={month}/part-0.parquet", loans(year, month))
    put(session, "loans/_SUCCESS", b"")
    put(session, "customers/customers.csv", b"id,name,score\n0,ann,3.5\n1,bob,4.0\n2,cy,1.0\n")
    put(
        session,
        "events/dt=2024-01-01/events.jsonl",
        b'{"id": 0, "kind": "apply", "meta": {"channel": "web"}}\n'
        b'{"id": 1, "kind": "repay", "meta": {"channel": "app"}}\n',
    )
    glue(session, "CreateDatabase", DatabaseInput={"Name": "lake"})
    return session


@pytest.fixture
def glue_role(session: Session) -> str:
    return make_role(session, "GlueCrawlerRole")
