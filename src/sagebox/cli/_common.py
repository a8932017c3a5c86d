"""What every CLI command shares: the --home and --output options, errors, printing."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import typer

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="SAGEBOX_HOME",
        help="The sagebox home folder (default: $SAGEBOX_HOME or ~/.sagebox).",
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="SAGEBOX_ENDPOINT_URL",
        help="A sagebox server "
        "(e.g. http://127.0.0.1:8642); requests are SigV4-signed. Default: in-process "
        "on --home.",
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="AWS_PROFILE",
        help="The credentials profile to sign "
        "with (AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials).",
    ),
]
OutputFormat = Literal["json", "table"]
OutputOption = Annotated[
    str, typer.Option("--output", "-o", help="How to print the result: json or table.")
]
WaitOption = Annotated[
    bool,
    typer.Option("--wait/--no-wait", help="Wait for the job to end, with a live status line."),
]

P = ParamSpec("P")
R = TypeVar("R")


def aws_errors(operation: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Print a SageboxError as the AWS CLI does and exit 1, instead of a traceback."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            from sagebox.errors import SageboxError

            try:
                return function(*args, **kwargs)
            except SageboxError as error:
                where = f" when calling the {operation} operation" if operation else ""
                typer.echo(f"An error occurred ({error.code}){where}: {error.message}", err=True)
                raise typer.Exit(1) from None

        return wrapper

    return decorate


def session(home: Path | None, endpoint_url: str | None = None, profile: str | None = None) -> Any:
    """An in-process session on ``home``, or a signed remote one on ``endpoint_url``."""
    from sagebox.session import Session

    if endpoint_url:
        return Session(endpoint_url=endpoint_url, profile=profile)
    return Session(home)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=_default))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    Console().print(table)


def print_mapping(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("Field", "Value", show_header=False)
    for key, value in data.items():
        table.add_row(key, _cell(value))
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_default)
    return str(value)


def check_output(output: str) -> OutputFormat:
    if output not in ("json", "table"):
        typer.echo(f"--output must be 'json' or 'table'; got {output!r}.", err=True)
        raise typer.Exit(2)
    return output  # type: ignore[return-value]


def load_spec(path: Path) -> dict[str, Any]:
    """A request in the API's shape from a JSON or YAML file."""
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        typer.echo(f"The spec file {path} must hold one JSON/YAML object.", err=True)
        raise typer.Exit(2)
    return data


def fail(message: str) -> None:
    typer.echo(message, err=True)
    sys.exit(2)


def pairs(items: list[str] | None, flag: str, shape: str = "NAME=VALUE") -> dict[str, str]:
    """Repeated ``--flag NAME=VALUE`` options as a dict; exit 2 naming a malformed one."""
    found: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{flag} takes {shape}; got {item!r}.")
        found[key] = value
    return found
