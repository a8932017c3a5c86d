"""The commands every kind of job shares: describe, list, stop, and a live wait.

``JobCommands("Processing", columns)`` names the API's operations and fields after the
kind (``DescribeProcessingJob``, ``ProcessingJobStatus``, ``ProcessingJobSummaries``),
so each kind's CLI module adds only its own ``create``.
"""

# No "from __future__ import annotations": typer reads these annotations at run time,
# and the commands' help texts are local to register().
from collections.abc import Callable
from dataclasses import dataclass
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
    print_mapping,
    print_table,
    session,
)


def snake_case(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@dataclass(frozen=True)
class JobCommands:
    kind: str  # "Processing", "Training"
    columns: tuple[str, ...]

    @property
    def noun(self) -> str:
        return f"{self.kind.lower()} job"

    def field(self, suffix: str) -> str:
        return f"{self.kind}Job{suffix}"  # "Name" -> "TrainingJobName"

    def call(self, control: Any, verb: str, **params: Any) -> dict[str, Any]:
        plural = "s" if verb == "List" else ""
        method = getattr(control, snake_case(f"{verb}{self.kind}Job{plural}"))
        result: dict[str, Any] = method(**params)
        return result

    def show(self, data: dict[str, Any], fmt: str) -> None:
        if fmt == "json":
            print_json(data)
        else:
            print_mapping(data)

    def finish(
        self,
        s: Any,
        response: dict[str, Any],
        name: str,
        fmt: str,
        wait: bool,
        detail: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """The end of a ``create``: the response, or with ``wait`` the job's last
        description (exit 1 unless it Completed)."""
        if not wait:
            self.show(response, fmt)
            return
        description = self.wait_live(s, name, detail)
        self.show(description, fmt)
        if description[self.field("Status")] != "Completed":
            raise typer.Exit(1)

    def wait_live(
        self, s: Any, name: str, detail: Callable[[dict[str, Any]], str] | None = None
    ) -> dict[str, Any]:
        """Wait for the job to end with a live status line; its last description."""
        from rich.console import Console

        console = Console(stderr=True)
        status_field = self.field("Status")
        with console.status(f"{name}: InProgress") as status:

            def on_poll(description: dict[str, Any]) -> None:
                started = description.get(f"{self.kind}StartTime")
                since = f" since {started:%H:%M:%S}" if started else ""
                extra = f" {detail(description)}" if detail else ""
                status.update(f"{name}: {description[status_field]}{since}{extra}")

            def describe() -> dict[str, Any]:
                return self.call(s.control, "Describe", **{self.field("Name"): name})

            description: dict[str, Any] = s.wait_for_job(describe, status_field, on_poll=on_poll)
        console.print(f"{name}: {description[status_field]}")
        return description

    def register(self, app: typer.Typer) -> None:
        """Add ``describe``, ``list`` and ``stop`` to ``app``."""
        spec = self
        name_help = self.field("Name") + "."

        @app.command()
        @aws_errors(f"Describe{self.kind}Job")
        def describe(
            name: Annotated[str, typer.Argument(help=name_help)],
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
            output: OutputOption = "json",
        ) -> None:
            fmt = check_output(output)
            control = session(home, endpoint_url, profile).control
            spec.show(spec.call(control, "Describe", **{spec.field("Name"): name}), fmt)

        describe.__doc__ = f"Describe a {self.noun}."

        @app.command("list")
        @aws_errors(f"List{self.kind}Jobs")
        def list_(
            name_contains: Annotated[str | None, typer.Option(help="NameContains.")] = None,
            status: Annotated[str | None, typer.Option(help="StatusEquals.")] = None,
            sort_by: Annotated[
                str, typer.Option(help="Name, CreationTime or Status.")
            ] = "CreationTime",
            sort_order: Annotated[
                str, typer.Option(help="Ascending or Descending.")
            ] = "Descending",
            max_results: Annotated[int, typer.Option(help="Page size (1-100).")] = 10,
            next_token: Annotated[
                str | None, typer.Option(help="NextToken of the previous page.")
            ] = None,
            all_pages: Annotated[
                bool, typer.Option("--all", help="Follow NextToken to the end.")
            ] = False,
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
            output: OutputOption = "table",
        ) -> None:
            fmt = check_output(output)
            control = session(home, endpoint_url, profile).control
            request: dict[str, Any] = {
                "SortBy": sort_by,
                "SortOrder": sort_order,
                "MaxResults": max_results,
            }
            if name_contains:
                request["NameContains"] = name_contains
            if status:
                request["StatusEquals"] = status
            if next_token:
                request["NextToken"] = next_token
            key = spec.field("Summaries")
            summaries: list[dict[str, Any]] = []
            while True:
                page = spec.call(control, "List", **request)
                summaries.extend(page[key])
                token = page.get("NextToken")
                if not (all_pages and token):
                    break
                request["NextToken"] = token
            if fmt == "json":
                more = {"NextToken": token} if token and not all_pages else {}
                print_json({key: summaries, **more})
            else:
                print_table(summaries, spec.columns)
                if token and not all_pages:
                    typer.echo(f"More: --next-token {token}")

        list_.__doc__ = f"List {self.noun}s, newest first."

        @app.command()
        @aws_errors(f"Stop{self.kind}Job")
        def stop(
            name: Annotated[str, typer.Argument(help=name_help)],
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
        ) -> None:
            spec.call(
                session(home, endpoint_url, profile).control, "Stop", **{spec.field("Name"): name}
            )
            typer.echo(f"Stopping {name}")

        stop.__doc__ = f"Stop a running {self.noun} (SIGTERM, a grace period, then SIGKILL)."
