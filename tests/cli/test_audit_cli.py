"""``sagebox audit`` and ``sagebox iam suggest-policy`` over a home's audit log."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from sagebox.cli import audit as audit_cli
from sagebox.cli import iam_advisor
from sagebox.control.audit import AuditEvent, AuditLog
from sagebox.control.authorize import Principal
from sagebox.errors import AccessDenied, ResourceNotFound
from sagebox.home import Home
from sagebox.session import Session

runner = CliRunner()
NOW = datetime.now(UTC)


def _mounted() -> typer.Typer:
    """The sub-apps as the root ``sagebox`` app mounts them."""
    root = typer.Typer()
    iam = typer.Typer()
    iam_advisor.register(iam)
    root.add_typer(audit_cli.app, name="audit")
    root.add_typer(iam, name="iam")
    return root


APP = _mounted()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.open(tmp_path / "home")


def run(home: Home, *args: str) -> Result:
    # A wide terminal, so table cells are not wrapped.
    return runner.invoke(APP, [*args, "--home", str(home.path)], env={"COLUMNS": "300"})


def write(home: Home, *events: tuple[Any, ...]) -> None:
    log = AuditLog(home.logs_path / "audit")
    for principal, action, resource, decision, *rest in events:
        at: datetime = rest[0] if rest else NOW
        statement = rest[1] if len(rest) > 1 else None
        log.write(
            AuditEvent(
                eventTime=at.isoformat(),
                principal=principal,
                action=action,
                resource=resource,
                sourceIp="10.0.0.7",
                decision=decision,
                statement=statement,
                requestId=f"req-{action}",
            )
        )


def arns(home: Home) -> dict[str, str]:
    a = home.account_id
    return {
        "alice": f"arn:aws:iam::{a}:user/alice",
        "bob": f"arn:aws:iam::{a}:user/bob",
        "s1": f"arn:aws:sts::{a}:assumed-role/Exec/job-1",
        "s2": f"arn:aws:sts::{a}:assumed-role/Exec/job-2",
        "job": f"arn:aws:sagemaker:us-east-1:{a}:processing-job/prep",
    }


@pytest.fixture
def logged(home: Home) -> dict[str, str]:
    n = arns(home)
    deny = {"policy": f"arn:aws:iam::{home.account_id}:policy/NoDelete", "index": 1, "sid": "No"}
    write(
        home,
        (
            n["alice"],
            "sagemaker:CreateProcessingJob",
            n["job"],
            "allowed",
            NOW - timedelta(days=10),
        ),
        (n["alice"], "sagemaker:CreateProcessingJob", n["job"], "allowed"),
        (n["bob"], "sagemaker:DeleteModel", "*", "explicitDeny", NOW, deny),
        (n["bob"], "sagemaker:CreateProcessingJob", n["job"], "implicitDeny"),
        (n["s1"], "s3:GetObject", "arn:aws:s3:::data/raw/a.csv", "allowed"),
        (n["s2"], "s3:GetObject", "arn:aws:s3:::data/raw/b.csv", "allowed"),
        (n["s2"], "s3:PutObject", "arn:aws:s3:::data/out/model.tar.gz", "allowed"),
        (n["s2"], "sagemaker:ListProcessingJobs", "*", "allowed"),
    )
    return n


def events(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.stdout)["Events"]
    return listed


def test_filters_select_events(home: Home, logged: dict[str, str]) -> None:
    everything = events(run(home, "audit", "-o", "json"))
    assert len(everything) == 8
    assert everything[0]["eventTime"] < everything[1]["eventTime"]  # oldest first
    assert everything[0]["sourceIp"] == "10.0.0.7"

    def actions(*args: str) -> list[tuple[str, str]]:
        found = events(run(home, "audit", "-o", "json", *args))
        return [(e["principal"].rsplit(":", 1)[-1], e["action"]) for e in found]

    assert actions("--since", "7d", "--principal", "ALICE") == [
        ("user/alice", "sagemaker:CreateProcessingJob")
    ]
    # A role's ARN names each of its sessions.
    role = f"arn:aws:iam::{home.account_id}:role/Exec"
    assert [a for _, a in actions("--principal", role)] == [
        "s3:GetObject",
        "s3:GetObject",
        "s3:PutObject",
        "sagemaker:ListProcessingJobs",
    ]
    assert actions("--action", "SageMaker:create*", "--decision", "denied") == [
        ("user/bob", "sagemaker:CreateProcessingJob")
    ]
    assert actions("--decision", "explicitDeny") == [("user/bob", "sagemaker:DeleteModel")]
    assert len(actions("--decision", "implicitDeny")) == 1
    assert len(actions("--decision", "allowed")) == 6
    assert actions("--action", "s3:?utObject") == [("assumed-role/Exec/job-2", "s3:PutObject")]
    assert [a for _, a in actions("--resource", "arn:aws:s3:::data/raw/*")] == [
        "s3:GetObject",
        "s3:GetObject",
    ]


def test_limit_keeps_the_newest_and_says_so(home: Home, logged: dict[str, str]) -> None:
    result = run(home, "audit", "-o", "json", "--limit", "2")
    assert [e["action"] for e in events(result)] == ["s3:PutObject", "sagemaker:ListProcessingJobs"]
    assert "Showing the newest 2 of 8 matching events" in result.stderr
    assert len(events(run(home, "audit", "-o", "json", "--limit", "0"))) == 8


def test_table_shows_short_principals_and_the_deciding_statement(
    home: Home, logged: dict[str, str]
) -> None:
    result = run(home, "audit", "--decision", "denied")
    assert result.exit_code == 0, result.output
    for header in ("Time", "Principal", "Action", "Resource", "Decision", "Statement", "Source"):
        assert header in result.stdout
    rows = [line for line in result.stdout.splitlines() if "user/bob" in line]
    assert len(rows) == 2
    assert "explicitDeny" in rows[0] and "policy/NoDelete #1 No" in rows[0]
    assert "10.0.0.7" in rows[0] and NOW.strftime("%Y-%m-%d %H:%M") in rows[0]
    assert "implicitDeny" in rows[1] and logged["job"] in rows[1]
    assert "arn:aws:iam::" not in "".join(rows)  # principals and policies shortened


def test_bad_options_and_a_missing_home_read_clearly(home: Home, tmp_path: Path) -> None:
    bad = run(home, "audit", "--decision", "deny")
    assert bad.exit_code == 2
    assert "--decision must be allowed, denied, explicitDeny or implicitDeny; got 'deny'" in (
        bad.stderr
    )
    since = run(home, "audit", "--since", "a week")
    assert since.exit_code == 2 and "got 'a week'" in since.stderr
    fmt = run(home, "audit", "-o", "yaml")
    assert fmt.exit_code == 2 and "--output must be 'json' or 'table'" in fmt.stderr
    nowhere = tmp_path / "nowhere"
    missing = runner.invoke(APP, ["audit", "--home", str(nowhere)])
    assert missing.exit_code == 1 and "No sagebox home at" in missing.stderr
    assert not nowhere.exists()  # a query never creates a home
    assert events(run(home, "audit", "-o", "json")) == []  # a home without an audit log


def test_suggest_policy_for_a_role_to_a_file(
    home: Home, logged: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "policy.json"
    result = run(home, "iam", "suggest-policy", "--role", "Exec", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"role/Exec to {out}" in result.stderr
    assert json.loads(out.read_text()) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3Actions",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [
                    "arn:aws:s3:::data/out/model.tar.gz",
                    "arn:aws:s3:::data/raw/a.csv",
                    "arn:aws:s3:::data/raw/b.csv",
                ],
            },
            {
                "Sid": "SagemakerActionsOnAnyResource",
                "Effect": "Allow",
                "Action": ["sagemaker:ListProcessingJobs"],
                "Resource": ["*"],
            },
        ],
    }
    wide = run(home, "iam", "suggest-policy", "--role", "Exec", "--max-keys-per-prefix", "1")
    assert "arn:aws:s3:::data/raw/*" in json.loads(wide.stdout)["Statement"][0]["Resource"]


def test_suggest_policy_for_a_user_prints_it(home: Home, logged: dict[str, str]) -> None:
    recent = run(home, "iam", "suggest-policy", "--user", "alice", "--since", "7d")
    assert recent.exit_code == 0, recent.output
    assert json.loads(recent.stdout)["Statement"] == [
        {
            "Sid": "SagemakerActions",
            "Effect": "Allow",
            "Action": ["sagemaker:CreateProcessingJob"],
            "Resource": [logged["job"]],
        }
    ]
    bob = run(home, "iam", "suggest-policy", "--user", logged["bob"])
    assert bob.exit_code == 1 and "nothing to suggest" in bob.stderr
    both = run(home, "iam", "suggest-policy", "--user", "alice", "--role", "Exec")
    neither = run(home, "iam", "suggest-policy")
    for result in (both, neither):
        assert result.exit_code == 2 and "exactly one of --role" in result.stderr


def test_control_plane_calls_show_up_as_allowed_for_root(home: Home) -> None:
    session = Session(home)
    session.control.list_processing_jobs()
    session.control.list_processing_jobs(MaxResults=5)
    with pytest.raises(ResourceNotFound):
        session.control.describe_processing_job(ProcessingJobName="ghost")
    shown = events(run(home, "audit", "-o", "json", "--action", "sagemaker:*ProcessingJob*"))
    assert [(e["action"], e["decision"], e["principal"]) for e in shown] == [
        ("sagemaker:ListProcessingJobs", "allowed", home.root_arn),
        ("sagemaker:ListProcessingJobs", "allowed", home.root_arn),
        ("sagemaker:DescribeProcessingJob", "allowed", home.root_arn),
    ]
    assert shown[2]["resource"] == home.arn("sagemaker", "processing-job/ghost")
    assert len({e["requestId"] for e in shown}) == 3
    table = run(home, "audit")
    assert table.stdout.count(" root ") == 3 and table.stdout.count("allowed") == 3


def test_a_suggested_policy_replaces_a_broad_one(home: Home, tmp_path: Path) -> None:
    control = Session(home).control
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    control.call(
        "CreateRole",
        {"RoleName": "Exec", "AssumeRolePolicyDocument": json.dumps(trust)},
        service="iam",
    )
    broad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}],
    }

    def put_policy(document: dict[str, Any]) -> None:
        request = {"RoleName": "Exec", "PolicyName": "p", "PolicyDocument": json.dumps(document)}
        control.call("PutRolePolicy", request, service="iam")

    put_policy(broad)
    job_session = Principal(arns(home)["s1"], home.account_id)

    def as_session(operation: str, **params: Any) -> None:
        # Authorized, then answered "no such job": the audit line is what counts here.
        with contextlib.suppress(ResourceNotFound):
            control.call(operation, params, principal=job_session)

    as_session("ListProcessingJobs")
    as_session("DescribeProcessingJob", ProcessingJobName="prep")
    out = tmp_path / "suggested.json"
    result = run(
        home,
        "iam",
        "suggest-policy",
        "--role",
        f"arn:aws:iam::{home.account_id}:role/Exec",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    put_policy(json.loads(out.read_text()))

    as_session("ListProcessingJobs")
    as_session("DescribeProcessingJob", ProcessingJobName="prep")
    with pytest.raises(AccessDenied):
        as_session("DescribeProcessingJob", ProcessingJobName="other")
    with pytest.raises(AccessDenied):
        as_session("StopProcessingJob", ProcessingJobName="prep")
    denied = events(run(home, "audit", "-o", "json", "--decision", "denied"))
    assert [e["action"] for e in denied] == [
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ]
