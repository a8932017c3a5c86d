"""``sagebox iam simulate``: the IAM policy simulator, answered in words.

With ``--policy-file`` it runs SimulateCustomPolicy on the files; with ``--principal`` it
runs SimulatePrincipalPolicy on a user's, group's or role's own policies (the files are
then added to them). Each action on each resource gets one line, naming the statement
that decided (its Sid when the policy text is at hand, else its line), e.g.
``s3:GetObject on arn:aws:s3:::ml-datasets/a.csv: allowed by statement 'ReadData'
(policy 'ds', line 4)``. ``--output json`` prints the API's response instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from sagebox.cli._common import (
    EndpointOption,
    HomeOption,
    ProfileOption,
    aws_errors,
    fail,
    print_json,
    session,
)

app = typer.Typer(no_args_is_help=True, help="IAM: the policy simulator.")

CONTEXT_TYPES = (
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
)


@app.callback()
def iam() -> None:
    """IAM: the policy simulator."""


@app.command()
def simulate(
    action: Annotated[
        list[str],
        typer.Option("--action", "-a", help="An action to simulate, e.g. s3:GetObject (repeat)."),
    ],
    policy_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy-file",
            "-p",
            exists=True,
            dir_okay=False,
            help="An identity policy (JSON) to simulate (repeat for several).",
        ),
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", "-r", help="A resource ARN (repeat); default '*'."),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            "-c",
            help="A condition key's value: KEY=VALUE[:TYPE], e.g. "
            "s3:ExistingObjectTag/Project=LoanDefault; list types take VALUE,VALUE (repeat).",
        ),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option("--principal", help="Simulate this user, group or role ARN's policies."),
    ] = None,
    caller: Annotated[
        str | None,
        typer.Option("--caller", help="The user or role ARN making the requests (CallerArn)."),
    ] = None,
    resource_policy: Annotated[
        Path | None,
        typer.Option(
            "--resource-policy",
            exists=True,
            dir_okay=False,
            help="A resource policy (a bucket policy ...) every resource is given.",
        ),
    ] = None,
    boundary_file: Annotated[
        Path | None,
        typer.Option(
            "--boundary-file",
            exists=True,
            dir_okay=False,
            help="A permissions boundary policy (replaces the principal's own).",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="text (the answer in words) or json.")
    ] = "text",
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Would these policies allow these actions? Ask the IAM policy simulator."""
    if output not in ("text", "json"):
        fail(f"--output must be 'text' or 'json'; got {output!r}.")
    if not policy_file and not principal:
        fail(
            "Give the policies to simulate: --policy-file FILE (repeat for several), or "
            "--principal ARN for a user's, group's or role's own policies."
        )
    # The policies by the SourcePolicyId the answer names them with: text (for Sids) and name.
    boundary = "PermissionsBoundaryPolicyInputList.1"
    given: dict[str, Path | None] = {
        f"PolicyInputList.{i}": p for i, p in enumerate(policy_file or [], 1)
    }
    given.update({"ResourcePolicy": resource_policy, boundary: boundary_file})
    paths = {source: path for source, path in given.items() if path is not None}
    texts = {source: path.read_text() for source, path in paths.items()}
    names = {source: path.stem for source, path in paths.items()}
    request: dict[str, Any] = {
        "ActionNames": list(action),
        "PolicyInputList": [t for s, t in texts.items() if s.startswith("PolicyInputList.")],
        "PermissionsBoundaryPolicyInputList": [texts[boundary]] if boundary in texts else None,
        "ContextEntries": [_context_entry(item) for item in context or []],
        "ResourceArns": resource or None,
        "CallerArn": caller,
        "ResourcePolicy": texts.get("ResourcePolicy"),
        "PolicySourceArn": principal,
    }
    request = {key: value for key, value in request.items() if value is not None}
    operation = "SimulatePrincipalPolicy" if principal else "SimulateCustomPolicy"
    response = aws_errors(operation)(_simulate)(home, endpoint_url, profile, operation, request)
    if output == "json":
        print_json(response)
        return
    for result in response["EvaluationResults"]:
        for line in _describe(result, texts, names):
            typer.echo(line)


def _simulate(
    home: Path | None,
    endpoint_url: str | None,
    profile: str | None,
    operation: str,
    request: dict[str, Any],
) -> dict[str, Any]:
    """Every page of the simulation, as one response."""
    control = session(home, endpoint_url, profile).control
    results: list[dict[str, Any]] = []
    while True:
        page = control.call(operation, request, service="iam")
        results += page["EvaluationResults"]
        if not page.get("IsTruncated"):
            return {"EvaluationResults": results, "IsTruncated": False}
        request = {**request, "Marker": page["Marker"]}


def _context_entry(item: str) -> dict[str, Any]:
    """``KEY=VALUE[:TYPE]`` as a ContextEntry; a value may hold ':' (dates, ARNs, IPv6)."""
    key, equals, rest = item.partition("=")
    if not equals or not key:
        fail(
            f"--context takes KEY=VALUE[:TYPE], e.g. s3:ExistingObjectTag/Project=LoanDefault "
            f"or aws:SourceIp=10.0.0.7:ip; got {item!r}."
        )
    value, colon, kind = rest.rpartition(":")
    if not colon or kind not in CONTEXT_TYPES:
        value, kind = rest, "string"
    values = value.split(",") if kind.endswith("List") else [value]
    return {"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind}


def _describe(result: dict[str, Any], texts: dict[str, str], names: dict[str, str]) -> list[str]:
    """One line per resource (and one for missing context values) of an EvaluationResult."""
    action = result["EvalActionName"]
    per_resource = result.get("ResourceSpecificResults") or [
        {
            "EvalResourceName": result.get("EvalResourceName", "*"),
            "EvalResourceDecision": result["EvalDecision"],
            "MatchedStatements": result.get("MatchedStatements", []),
            "MissingContextValues": result.get("MissingContextValues", []),
            "PermissionsBoundaryDecisionDetail": result.get("PermissionsBoundaryDecisionDetail"),
        }
    ]
    lines = []
    for item in per_resource:
        decision = item["EvalResourceDecision"]
        said = [_statement(m, texts, names, decision) for m in item.get("MatchedStatements", [])]
        if decision == "allowed":
            verdict = "allowed by " + " and ".join(said) if said else "allowed"
        elif decision == "explicitDeny":
            verdict = "denied explicitly by " + " and ".join(said)
        else:
            verdict = "denied: no statement allows it (implicit deny)"
            boundary = item.get("PermissionsBoundaryDecisionDetail") or {}
            if boundary.get("AllowedByPermissionsBoundary") is False:
                verdict += "; the permissions boundary does not allow it either"
        lines.append(f"{action} on {item['EvalResourceName']}: {verdict}")
        if item.get("MissingContextValues"):
            lines.append(
                f"  missing context values: {', '.join(item['MissingContextValues'])} "
                "(give them with --context KEY=VALUE[:TYPE])"
            )
    return lines


def _statement(
    matched: dict[str, Any], texts: dict[str, str], names: dict[str, str], decision: str
) -> str:
    """A matched statement in words: by its Sid when the policy's text is at hand (the
    files given), else by the line where it starts."""
    source = matched.get("SourcePolicyId", "?")
    policy = f"policy '{names.get(source, source)}'"
    start, end = matched.get("StartPosition"), matched.get("EndPosition")
    if not start:
        return f"a statement of {policy}"
    line = start["Line"]
    sid = None
    if source in texts and end:
        text = texts[source]
        try:
            found = json.loads(text[_offset(text, start) : _offset(text, end)])
            sid = found.get("Sid") if isinstance(found, dict) else None
        except ValueError:
            sid = None
    if not sid:
        return f"the statement at line {line} of {policy}"
    if decision == "allowed":
        return f"statement '{sid}' ({policy}, line {line})"
    return f"statement '{sid}' in {policy} (line {line})"


def _offset(text: str, position: dict[str, int]) -> int:
    """The offset of a 1-based line and column in ``text``."""
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[: position["Line"] - 1]) + position["Column"] - 1
