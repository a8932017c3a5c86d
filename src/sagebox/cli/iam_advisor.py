"""``sagebox iam suggest-policy``: a least-privilege policy from what a principal really did.

The ``iam`` sub-app lives in its own module; :func:`register` adds this command to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sagebox.cli._common import HomeOption, aws_errors
from sagebox.cli.audit import open_audit_log, parse_since_option


def register(app: typer.Typer) -> None:
    """Add ``suggest-policy`` to ``app`` (the ``sagebox iam`` sub-app)."""
    app.command("suggest-policy")(suggest_policy)


@aws_errors()
def suggest_policy(
    role: Annotated[
        str | None,
        typer.Option(help="The role's name or ARN; its sessions' requests are what counts."),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="A user's name or ARN, instead of --role.")
    ] = None,
    since: Annotated[
        str, typer.Option(help="Look at requests after this: 7d, 12h, 30m or an ISO-8601 time.")
    ] = "7d",
    out: Annotated[
        Path | None, typer.Option(help="Write the policy JSON to this file instead of printing.")
    ] = None,
    max_keys_per_prefix: Annotated[
        int,
        typer.Option(
            min=1, help="S3 keys listed per folder; more become arn:aws:s3:::bucket/folder/*."
        ),
    ] = 3,
    home: HomeOption = None,
) -> None:
    """Suggest an identity policy granting only the actions and resources that a role
    (or user) used and was allowed, from the audit log."""
    if (role is None) == (user is None):
        typer.echo("Give exactly one of --role NAME-or-ARN and --user NAME-or-ARN.", err=True)
        raise typer.Exit(2)
    start = parse_since_option(since)
    opened, log = open_audit_log(home)
    from sagebox.control.advisor import suggest_policy as advise

    kind, name = ("role", role) if role is not None else ("user", user or "")
    arn = name if name.startswith("arn:") else opened.arn("iam", f"{kind}/{name}")
    document = advise(log.read(start), arn, since=start, max_keys_per_prefix=max_keys_per_prefix)
    text = json.dumps(document, indent=2)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n")
    count = len(document["Statement"])
    plural = "" if count == 1 else "s"
    typer.echo(f"Wrote a policy of {count} statement{plural} for {arn} to {out}.", err=True)
