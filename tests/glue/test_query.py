"""SQL over the lake: partition pruning, joins, results in S3, IAM on tables and objects."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from sagebox.control import Principal
from sagebox.errors import AccessDenied, ValidationError
from sagebox.glue import QueryStats, run_query
from sagebox.session import Session
from tests.glue.conftest import create_crawler, iam, put, run_crawler


@pytest.fixture
def crawled(lake: Session, glue_role: str) -> Session:
    create_crawler(lake, "raw", glue_role)
    assert run_crawler(lake, "raw")["LastCrawl"]["Status"] == "SUCCEEDED"
    return lake


def _query(session: Session, sql: str, **options: object) -> tuple[pa.Table, QueryStats]:
    stats = QueryStats()
    result = run_query(session, sql, stats=stats, **options)
    return result, stats


@pytest.mark.parametrize(
    ("where", "scanned", "rows"),
    [
        ("", 4, 12),
        ("WHERE year = 2024", 2, 6),
        ("WHERE year = 2024 AND month = 2", 1, 3),
        ("WHERE month IN (1) AND amount > 150", 2, 4),
        ("WHERE year BETWEEN 2020 AND 2023 OR month = '02'", 3, 9),
        ("WHERE year = 2024 OR amount > 250", 4, 8),  # an OR with a data column prunes nothing
        ("WHERE year = 1999", 0, 0),
    ],
)
def test_partition_pruning_reads_only_matching_partitions(
    crawled: Session, where: str, scanned: int, rows: int
) -> None:
    result, stats = _query(crawled, f"SELECT id, amount, year, month FROM lake.loans {where}")
    assert result.num_rows == rows
    scan = stats.tables["lake.loans"]
    assert (scan.partitions_scanned, scan.partitions_total) == (scanned, 4)
    assert scan.objects == scanned
    assert stats.line().startswith(f"scanned {scanned} of 4 partitions, {scanned} object")


def test_partition_columns_are_typed_and_nested_columns_kept(crawled: Session) -> None:
    result, _ = _query(
        crawled,
        "SELECT year, month, history[1].lender AS lender, sum(amount) AS total "
        "FROM lake.loans WHERE year = 2023 GROUP BY ALL ORDER BY month",
    )
    assert result.schema.field("year").type == pa.int64()
    assert result.to_pylist() == [
        {"year": 2023, "month": 1, "lender": "a", "total": 600.0},
        {"year": 2023, "month": 2, "lender": "a", "total": 600.0},
    ]


def test_join_of_two_tables(crawled: Session) -> None:
    result, stats = _query(
        crawled,
        "SELECT c.name, count(*) AS loans, sum(l.amount) AS total "
        "FROM lake.loans AS l JOIN lake.customers AS c ON l.id = c.id "
        "WHERE l.year = 2024 AND l.month = 1 GROUP BY c.name ORDER BY c.name",
    )
    assert result.to_pylist() == [
        {"name": "ann", "loans": 1, "total": 100.0},
        {"name": "bob", "loans": 1, "total": 200.0},
        {"name": "cy", "loans": 1, "total": 300.0},
    ]
    assert stats.tables["lake.loans"].partitions_scanned == 1
    assert stats.tables["lake.customers"].objects == 1
    assert "scanned 1 of 4 partitions, 2 objects" in stats.line()


def test_the_nullable_side_of_an_outer_join_is_not_pruned(crawled: Session) -> None:
    put(crawled, "customers/more.csv", b"id,name,score\n9,dee,2.0\n")
    sql = (
        "SELECT c.name FROM lake.customers c LEFT JOIN lake.loans l ON c.id = l.id "
        "WHERE l.year IS NULL ORDER BY 1"
    )
    result, stats = _query(crawled, sql)
    assert result.column("name").to_pylist() == ["dee"]
    assert stats.tables["lake.loans"].partitions_scanned == 4


def test_a_table_referenced_twice_reads_what_both_need(crawled: Session) -> None:
    result, stats = _query(
        crawled,
        "SELECT a.id FROM lake.loans a JOIN lake.loans b ON a.id = b.id "
        "WHERE a.year = 2023 AND a.month = 1 AND b.year = 2024 AND b.month = 2",
    )
    assert sorted(result.column("id").to_pylist()) == [0, 1, 2]
    assert stats.tables["lake.loans"].partitions_scanned == 2


def test_subqueries_ctes_and_unqualified_tables(crawled: Session) -> None:
    result, stats = _query(
        crawled,
        "WITH recent AS (SELECT * FROM loans WHERE year = 2024) "
        "SELECT count(*) AS n FROM recent WHERE id IN (SELECT id FROM customers)",
        database="lake",
    )
    assert result.to_pylist() == [{"n": 6}]
    assert stats.tables["lake.loans"].partitions_scanned == 2


def test_results_to_s3_as_csv_and_parquet(crawled: Session) -> None:
    sql = "SELECT id, name FROM lake.customers WHERE name <> 'cy' ORDER BY id"
    _, stats = _query(crawled, sql, output="s3://lake/results/")
    assert stats.output_uri is not None
    key = stats.output_uri.removeprefix("s3://lake/")
    assert key.startswith("results/") and key.endswith(".csv")
    assert crawled.home.objects.get_object("lake", key) == b'"id","name"\n0,"ann"\n1,"bob"\n'

    _, stats = _query(crawled, sql, output="s3://lake/results/top.parquet")
    assert stats.output_uri == "s3://lake/results/top.parquet"
    written = pq.read_table(
        io.BytesIO(crawled.home.objects.get_object("lake", "results/top.parquet"))
    )
    assert written.to_pylist() == [{"id": 0, "name": "ann"}, {"id": 1, "name": "bob"}]

    _, stats = _query(crawled, "SELECT * FROM lake.events", output="s3://lake/out/e.csv")
    text = crawled.home.objects.get_object("lake", "out/e.csv").decode()
    assert '"{""channel"": ""web""}"' in text  # nested values as JSON text


def _analyst(session: Session, object_resource: str) -> Principal:
    iam(session, "CreateUser", UserName="analyst")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["glue:GetTable", "glue:GetPartitions"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": object_resource},
        ],
    }
    iam(
        session,
        "PutUserPolicy",
        UserName="analyst",
        PolicyName="q",
        PolicyDocument=json.dumps(policy),
    )
    return Principal(f"arn:aws:iam::{session.account_id}:user/analyst", session.account_id)


def test_objects_are_read_as_the_caller(crawled: Session) -> None:
    analyst = _analyst(crawled, "arn:aws:s3:::lake/loans/year=2024/*")
    result, _ = _query(
        crawled, "SELECT count(*) n FROM lake.loans WHERE year = 2024", principal=analyst
    )
    assert result.to_pylist() == [{"n": 6}]
    with pytest.raises(
        AccessDenied, match=r"s3:GetObject on resource: arn:aws:s3:::lake/loans/year=2023"
    ):
        _query(crawled, "SELECT count(*) FROM lake.loans", principal=analyst)
    with pytest.raises(AccessDenied, match="s3:PutObject"):
        _query(
            crawled,
            "SELECT 1 AS one FROM lake.loans WHERE year = 2024",
            principal=analyst,
            output="s3://lake/results/",
        )


def test_tables_are_authorized_with_glue_get_table(crawled: Session) -> None:
    iam(crawled, "CreateUser", UserName="nobody")
    nobody = Principal(f"arn:aws:iam::{crawled.account_id}:user/nobody", crawled.account_id)
    with pytest.raises(AccessDenied, match="glue:GetTable"):
        _query(crawled, "SELECT * FROM lake.customers", principal=nobody)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_text('/etc/hostname')", "disabled by configuration"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "SELECT"),
        ("SELECT 1; SELECT 2", "one SELECT"),
        ("SELECT nope FROM lake.customers", "nope"),
    ],
)
def test_queries_can_only_read_the_catalog(crawled: Session, sql: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        run_query(crawled, sql)


def test_unknown_table(crawled: Session) -> None:
    from sagebox.glue import EntityNotFound

    with pytest.raises(EntityNotFound, match="Table nope not found"):
        run_query(crawled, "SELECT * FROM lake.nope")


def test_headerless_csv_reads_by_position(crawled: Session, glue_role: str) -> None:
    put(crawled, "codes/codes.csv", b"a,alpha\nb,beta\n")
    create_crawler(
        crawled, "codes", glue_role, Targets={"S3Targets": [{"Path": "s3://lake/codes/"}]}
    )
    run_crawler(crawled, "codes")
    result, _ = _query(crawled, "SELECT col0, col1 FROM lake.codes ORDER BY col0")
    assert result.to_pylist() == [{"col0": "a", "col1": "alpha"}, {"col0": "b", "col1": "beta"}]


def test_cli_query_prints_rows_and_what_was_scanned(crawled: Session) -> None:
    from sagebox.cli.query import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps 'query' a subcommand
    home = str(crawled.local_home().path)
    result = CliRunner().invoke(
        app,
        [
            "query",
            "SELECT year, count(*) AS n FROM lake.loans WHERE year = 2024 GROUP BY year",
            "--home",
            home,
            "--out",
            "s3://lake/cli/",
            "--format",
            "parquet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2024" in result.output
    assert "1 row; scanned 2 of 4 partitions, 2 objects" in result.output
    assert "written to s3://lake/cli/" in result.output
    failed = CliRunner().invoke(app, ["query", "SELECT * FROM lake.nope", "--home", home])
    assert failed.exit_code == 1
    assert "EntityNotFoundException" in failed.output
