"""``sagebox glue ...`` commands, in-process on a home."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from sagebox.cli.glue import app as glue_app
from sagebox.session import Session


def _run(home: str, *args: str) -> str:
    root = typer.Typer()
    root.add_typer(glue_app, name="glue")
    result = CliRunner().invoke(root, ["glue", *args, "--home", home])
    assert result.exit_code == 0, result.output
    return result.output


def test_crawl_and_browse_the_catalog_from_the_cli(lake: Session, glue_role: str) -> None:
    home = str(lake.local_home().path)
    assert "Created database curated" in _run(home, "databases", "create", "Curated")
    assert "curated" in _run(home, "databases", "list")
    out = _run(
        home,
        "crawlers",
        "create",
        "raw",
        "--role",
        "GlueCrawlerRole",
        "--database",
        "lake",
        "--path",
        "s3://lake/",
        "--schedule",
        "cron(0 2 * * ? *)",
    )
    assert "Created crawler raw" in out
    out = _run(home, "crawlers", "start", "raw")
    assert "Crawler raw: SUCCEEDED" in out
    assert "3 table(s) created" in out
    tables = _run(home, "tables", "list", "lake", "--expression", "loan*")
    assert "loans" in tables and "parquet" in tables and "year, month" in tables
    table = _run(home, "tables", "get", "lake", "loans")
    assert "amount" in table and "double" in table
    partitions = _run(home, "partitions", "list", "lake", "loans", "--expression", "year = 2024")
    assert "2024/01" in partitions and "2023/01" not in partitions
    assert "SUCCEEDED" in _run(home, "crawlers", "list")
    assert "raw" in _run(home, "crawlers", "metrics", "-o", "json")
    assert '"0"' in _run(home, "tables", "versions", "lake", "loans", "-o", "json")
    assert "Deleted crawler raw" in _run(home, "crawlers", "delete", "raw")


def test_cli_errors_are_printed_as_aws_errors(lake: Session) -> None:
    root = typer.Typer()
    root.add_typer(glue_app, name="glue")
    home = str(lake.local_home().path)
    result = CliRunner().invoke(root, ["glue", "tables", "get", "lake", "nope", "--home", home])
    assert result.exit_code == 1
    assert "An error occurred (EntityNotFoundException) when calling the GetTable operation" in (
        result.output
    )
