"""``sagebox audit``: who did what, and what decided it, from the authorization audit log."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagebox.cli._common import (
    HomeOption,
    OutputOption,
    aws_errors,
    check_output,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from sagebox.control.audit import AuditEvent, AuditLog
    from sagebox.home import Home

app = typer.Typer(
    help="Authorization decisions from the audit log, as CloudTrail shows them on AWS.",
    subcommand_metavar="",
)

DEFAULT_LIMIT = 100
_DECISIONS = {
    "allowed": frozenset({"allowed"}),
    "denied": frozenset({"explicitDeny", "implicitDeny"}),
    "explicitdeny": frozenset({"explicitDeny"}),
    "implicitdeny": frozenset({"implicitDeny"}),
}
_COLUMNS = ("Time", "Principal", "Action", "Resource", "Decision", "Statement", "Source IP")


def parse_since_option(text: str | None) -> datetime | None:
    """The ``--since`` option as a UTC time, or exit 2 with how to write it."""
    if text is None:
        return None
    from sagebox.control.audit import parse_since

    try:
        return parse_since(text)
    except ValueError:
        typer.echo(
            f"--since takes a duration such as 7d, 12h or 30m, or an ISO-8601 time such as "
            f"2024-05-01T09:00:00; got {text!r}.",
            err=True,
        )
        raise typer.Exit(2) from None


def open_audit_log(home: Path | None) -> tuple[Home, AuditLog]:
    """An existing home (a query never creates one) and its audit log."""
    from sagebox.control.audit import AuditLog
    from sagebox.home import Home

    opened = Home.open(home, create=False)
    return opened, AuditLog(opened.logs_path / "audit")


@dataclass(frozen=True)
class EventFilter:
    """Which events a query keeps; every criterion left as None keeps all."""

    principal: str | None = None
    action: str | None = None
    decision: str | None = None
    resource: str | None = None

    def compile(self) -> Callable[[AuditEvent], bool]:
        """One predicate over events: principal (an ARN as the advisor reads it, else a
        case-insensitive substring), action (IAM wildcards, case-insensitive), decision
        (``denied`` is either deny), resource (wildcards, case-sensitive like ARNs)."""
        from sagebox.iam.matching import wildcard_match

        checks: list[Callable[[AuditEvent], bool]] = []
        if self.principal:
            checks.append(_principal_check(self.principal))
        if self.action:
            action = self.action
            checks.append(lambda e: wildcard_match(action, e.action, case_sensitive=False))
        if self.decision:
            decisions = _DECISIONS[self.decision.lower()]
            checks.append(lambda e: e.decision in decisions)
        if self.resource:
            resource = self.resource
            checks.append(lambda e: wildcard_match(resource, e.resource))
        return lambda event: all(check(event) for check in checks)


def _principal_check(text: str) -> Callable[[AuditEvent], bool]:
    if text.startswith("arn:"):
        from sagebox.control.advisor import principal_matcher

        matches = principal_matcher(text)
        return lambda e: matches(e.principal)
    needle = text.lower()
    return lambda e: needle in e.principal.lower()


def newest(events: Iterable[AuditEvent], limit: int) -> tuple[list[AuditEvent], int]:
    """The newest ``limit`` events (all for 0) in time order, and how many there were."""
    kept: deque[AuditEvent] = deque(maxlen=limit or None)
    total = 0
    for event in events:
        kept.append(event)
        total += 1
    return list(kept), total


@app.callback(invoke_without_command=True)
@aws_errors()
def audit(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Only events after this: 7d, 12h, 30m or an ISO-8601 time."),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            help="A principal ARN (a role's ARN includes its sessions) or a part of one, "
            "e.g. user/alice."
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="An action, with IAM's * and ? wildcards: sagemaker:Create*."),
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option(help="allowed, denied (either deny), explicitDeny or implicitDeny."),
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option(help="A resource ARN, with * and ? wildcards: arn:aws:s3:::bucket/*."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, help="Show the newest N matching events; 0 shows all.")
    ] = DEFAULT_LIMIT,
    home: HomeOption = None,
    output: OutputOption = "table",
) -> None:
    """Show authorization decisions, oldest first: who, action, resource, decision and
    the statement that decided."""
    if ctx.invoked_subcommand is not None:
        return
    fmt = check_output(output)
    if decision is not None and decision.lower() not in _DECISIONS:
        typer.echo(
            f"--decision must be allowed, denied, explicitDeny or implicitDeny; got {decision!r}.",
            err=True,
        )
        raise typer.Exit(2)
    start = parse_since_option(since)
    keep = EventFilter(principal, action, decision, resource).compile()
    events, total = newest((e for e in open_audit_log(home)[1].read(start) if keep(e)), limit)
    if fmt == "json":
        print_json({"Events": [asdict(e) for e in events]})
    else:
        print_table(list(_rows(events)), _COLUMNS)
    if total > len(events):
        typer.echo(
            f"Showing the newest {len(events)} of {total} matching events; raise --limit "
            "(0 for all) or narrow the filters.",
            err=True,
        )


def _rows(events: Iterable[AuditEvent]) -> Iterator[dict[str, Any]]:
    for event in events:
        yield {
            "Time": event.eventTime[:19].replace("T", " "),
            "Principal": short_principal(event.principal),
            "Action": event.action,
            "Resource": event.resource,
            "Decision": event.decision,
            "Statement": _statement_text(event.statement),
            "Source IP": event.sourceIp,
        }


def short_principal(arn: str) -> str:
    """``user/alice``, ``assumed-role/R/session`` or ``root``: the ARN's resource part."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 and parts[5] else arn


def _statement_text(statement: dict[str, Any] | None) -> str:
    """``policy/Name #0 Sid``: the deciding policy (a managed one by its short ARN),
    statement index and Sid."""
    if not statement:
        return ""
    policy = str(statement.get("policy", ""))
    if policy.startswith("arn:"):
        policy = short_principal(policy)
    text = f"{policy} #{statement.get('index')}"
    return f"{text} {statement['sid']}" if statement.get("sid") else text
