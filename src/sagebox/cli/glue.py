"""``sagebox glue databases|tables|partitions|crawlers ...``: the Data Catalog and crawlers."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from sagebox.cli._common import (
    EndpointOption,
    HomeOption,
    OutputOption,
    ProfileOption,
    aws_errors,
    check_output,
    print_json,
    print_table,
    session,
)

app = typer.Typer(no_args_is_help=True, help="Glue: the Data Catalog and crawlers.")
databases = typer.Typer(no_args_is_help=True, help="Catalog databases.")
tables = typer.Typer(no_args_is_help=True, help="Catalog tables.")
partitions = typer.Typer(no_args_is_help=True, help="Partitions of catalog tables.")
crawlers = typer.Typer(no_args_is_help=True, help="Crawlers that build tables from S3 data.")
app.add_typer(databases, name="databases")
app.add_typer(tables, name="tables")
app.add_typer(partitions, name="partitions")
app.add_typer(crawlers, name="crawlers")

DatabaseArg = Annotated[str, typer.Argument(help="The database's name.")]


def _glue(
    home: Any, endpoint_url: str | None, profile: str | None, operation: str, **params: Any
) -> dict[str, Any]:
    result: dict[str, Any] = session(home, endpoint_url, profile).control.call(
        operation, params, service="glue"
    )
    return result


def _show(rows: list[dict[str, Any]], columns: tuple[str, ...], output: str) -> None:
    if check_output(output) == "json":
        print_json(rows)
    else:
        print_table(rows, columns)


# ---- databases -----------------------------------------------------------------------
@databases.command("create")
@aws_errors("CreateDatabase")
def create_database(
    name: DatabaseArg,
    description: Annotated[str | None, typer.Option(help="What the database holds.")] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create a database."""
    database: dict[str, Any] = {"Name": name}
    if description:
        database["Description"] = description
    _glue(home, endpoint_url, profile, "CreateDatabase", DatabaseInput=database)
    typer.echo(f"Created database {name.lower()}")


@databases.command("list")
@aws_errors("GetDatabases")
def list_databases(
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """List databases."""
    rows = _glue(home, endpoint_url, profile, "GetDatabases")["DatabaseList"]
    _show(rows, ("Name", "Description", "CreateTime"), output)


@databases.command("delete")
@aws_errors("DeleteDatabase")
def delete_database(
    name: DatabaseArg,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Delete a database with its tables and partitions."""
    _glue(home, endpoint_url, profile, "DeleteDatabase", Name=name)
    typer.echo(f"Deleted database {name.lower()}")


# ---- tables --------------------------------------------------------------------------
@tables.command("list")
@aws_errors("GetTables")
def list_tables(
    database: DatabaseArg,
    expression: Annotated[str | None, typer.Option(help="A name pattern, e.g. 'loan*'.")] = None,
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """List a database's tables."""
    params: dict[str, Any] = {"DatabaseName": database}
    if expression:
        params["Expression"] = expression
    rows = [
        {
            **t,
            "Location": t.get("StorageDescriptor", {}).get("Location"),
            "Format": t.get("Parameters", {}).get("classification"),
            "Partitioned by": ", ".join(k["Name"] for k in t.get("PartitionKeys", [])),
        }
        for t in _glue(home, endpoint_url, profile, "GetTables", **params)["TableList"]
    ]
    _show(rows, ("Name", "Format", "Location", "Partitioned by", "VersionId"), output)


@tables.command("get")
@aws_errors("GetTable")
def get_table(
    database: DatabaseArg,
    name: Annotated[str, typer.Argument(help="The table's name.")],
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Show a table: its columns and partition keys."""
    table = _glue(home, endpoint_url, profile, "GetTable", DatabaseName=database, Name=name)[
        "Table"
    ]
    if check_output(output) == "json":
        print_json(table)
        return
    descriptor = table.get("StorageDescriptor", {})
    typer.echo(
        f"{table['DatabaseName']}.{table['Name']}  version {table.get('VersionId')}  "
        f"{descriptor.get('Location', '')}"
    )
    rows = [{**c, "Partition key": ""} for c in descriptor.get("Columns", [])]
    rows += [{**k, "Partition key": "yes"} for k in table.get("PartitionKeys", [])]
    print_table(rows, ("Name", "Type", "Partition key"))


@tables.command("versions")
@aws_errors("GetTableVersions")
def table_versions(
    database: DatabaseArg,
    name: Annotated[str, typer.Argument(help="The table's name.")],
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """List a table's versions, newest first."""
    versions = _glue(
        home, endpoint_url, profile, "GetTableVersions", DatabaseName=database, TableName=name
    )["TableVersions"]
    rows = [
        {
            "VersionId": v["VersionId"],
            "UpdateTime": v["Table"].get("UpdateTime"),
            "Columns": ", ".join(
                f"{c['Name']} {c['Type']}" for c in v["Table"]["StorageDescriptor"]["Columns"]
            ),
        }
        for v in versions
    ]
    _show(rows, ("VersionId", "UpdateTime", "Columns"), output)


# ---- partitions ----------------------------------------------------------------------
@partitions.command("list")
@aws_errors("GetPartitions")
def list_partitions(
    database: DatabaseArg,
    table: Annotated[str, typer.Argument(help="The table's name.")],
    expression: Annotated[
        str | None, typer.Option(help='A filter on partition keys, e.g. "year = 2024".')
    ] = None,
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """List a table's partitions."""
    params: dict[str, Any] = {"DatabaseName": database, "TableName": table}
    if expression:
        params["Expression"] = expression
    rows: list[dict[str, Any]] = []
    while True:
        page = _glue(home, endpoint_url, profile, "GetPartitions", **params)
        rows += [
            {
                "Values": "/".join(p["Values"]),
                "Location": p.get("StorageDescriptor", {}).get("Location"),
                "CreationTime": p.get("CreationTime"),
            }
            for p in page["Partitions"]
        ]
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    _show(rows, ("Values", "Location", "CreationTime"), output)


# ---- crawlers ------------------------------------------------------------------------
@crawlers.command("create")
@aws_errors("CreateCrawler")
def create_crawler(
    name: Annotated[str, typer.Argument(help="The crawler's name.")],
    role: Annotated[str, typer.Option(help="A role (name or ARN) that trusts Glue.")],
    database: Annotated[str, typer.Option(help="The database to write tables to.")],
    path: Annotated[list[str], typer.Option("--path", help="An S3 path to crawl (repeatable).")],
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="A glob to skip (repeatable).")
    ] = None,
    table_prefix: Annotated[str | None, typer.Option(help="Prefix of table names.")] = None,
    update_behavior: Annotated[
        str, typer.Option(help="On a schema change: UPDATE_IN_DATABASE or LOG.")
    ] = "UPDATE_IN_DATABASE",
    delete_behavior: Annotated[
        str,
        typer.Option(help="On deleted data: DEPRECATE_IN_DATABASE, DELETE_FROM_DATABASE, LOG."),
    ] = "DEPRECATE_IN_DATABASE",
    schedule: Annotated[
        str | None, typer.Option(help="A cron schedule, e.g. 'cron(0 2 * * ? *)'.")
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create a crawler over S3 paths."""
    targets = [{"Path": p, "Exclusions": list(exclude or [])} for p in path]
    params: dict[str, Any] = {
        "Name": name,
        "Role": role,
        "DatabaseName": database,
        "Targets": {"S3Targets": targets},
        "SchemaChangePolicy": {
            "UpdateBehavior": update_behavior,
            "DeleteBehavior": delete_behavior,
        },
    }
    if table_prefix:
        params["TablePrefix"] = table_prefix
    if schedule:
        params["Schedule"] = schedule
    _glue(home, endpoint_url, profile, "CreateCrawler", **params)
    typer.echo(f"Created crawler {name}")


@crawlers.command("start")
@aws_errors("StartCrawler")
def start_crawler(
    name: Annotated[str, typer.Argument(help="The crawler's name.")],
    wait: Annotated[
        bool, typer.Option(help="Wait for the crawl to end (always, without a server).")
    ] = True,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Run a crawler and report what it did."""
    current = session(home, endpoint_url, profile)
    client = current.control
    client.call("StartCrawler", {"Name": name}, service="glue")
    if not wait and endpoint_url:
        typer.echo(f"Started crawler {name}")
        return
    # In-process the crawl runs in a thread of this process: it must outlive the command.
    while True:
        crawler = client.call("GetCrawler", {"Name": name}, service="glue")["Crawler"]
        if crawler["State"] == "READY":
            break
        time.sleep(0.2)
    last = crawler.get("LastCrawl", {})
    typer.echo(f"Crawler {name}: {last.get('Status')}")
    if last.get("ErrorMessage"):
        typer.echo(f"  {last['ErrorMessage']}")
    if not endpoint_url:
        from sagebox.control.glue_crawlers import crawl_log

        for line in crawl_log(current.local_home(), name)[-1:]:
            typer.echo(f"  {line}")
    if last.get("Status") == "FAILED":
        raise typer.Exit(1)


@crawlers.command("get")
@aws_errors("GetCrawler")
def get_crawler(
    name: Annotated[str, typer.Argument(help="The crawler's name.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Show a crawler (JSON)."""
    print_json(_glue(home, endpoint_url, profile, "GetCrawler", Name=name)["Crawler"])


@crawlers.command("list")
@aws_errors("GetCrawlers")
def list_crawlers(
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """List crawlers with their state and last crawl."""
    rows = [
        {
            **c,
            "LastCrawl": c.get("LastCrawl", {}).get("Status"),
            "Schedule": c.get("Schedule", {}).get("ScheduleExpression"),
        }
        for c in _glue(home, endpoint_url, profile, "GetCrawlers")["Crawlers"]
    ]
    _show(rows, ("Name", "State", "DatabaseName", "LastCrawl", "Schedule"), output)


@crawlers.command("metrics")
@aws_errors("GetCrawlerMetrics")
def crawler_metrics(
    output: OutputOption = "table",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Tables created, updated and deleted by each crawler's last run, and run times."""
    rows = _glue(home, endpoint_url, profile, "GetCrawlerMetrics")["CrawlerMetricsList"]
    columns = (
        "CrawlerName",
        "TablesCreated",
        "TablesUpdated",
        "TablesDeleted",
        "LastRuntimeSeconds",
        "MedianRuntimeSeconds",
    )
    _show(rows, columns, output)


@crawlers.command("stop")
@aws_errors("StopCrawler")
def stop_crawler(
    name: Annotated[str, typer.Argument(help="The crawler's name.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Stop a running crawl."""
    _glue(home, endpoint_url, profile, "StopCrawler", Name=name)
    typer.echo(f"Stopping crawler {name}")


@crawlers.command("delete")
@aws_errors("DeleteCrawler")
def delete_crawler(
    name: Annotated[str, typer.Argument(help="The crawler's name.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Delete a crawler (its tables stay)."""
    _glue(home, endpoint_url, profile, "DeleteCrawler", Name=name)
    typer.echo(f"Deleted crawler {name}")
