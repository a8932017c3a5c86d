"""The least-privilege advisor: audit events in, the narrowest identity policy out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sagebox.control.advisor import generalise_resources, principal_matcher, suggest_policy
from sagebox.control.audit import AuditEvent
from sagebox.errors import ValidationError
from sagebox.iam import NamedPolicy, PolicySet, RequestContext, evaluate, parse_policy

ACCT = "123456789012"
ROLE = f"arn:aws:iam::{ACCT}:role/Exec"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def session(name: str, role: str = "Exec", account: str = ACCT) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{name}"


def job(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCT}:processing-job/{name}"


def event(
    principal: str,
    action: str,
    resource: str,
    decision: str = "allowed",
    at: datetime = NOW,
) -> AuditEvent:
    return AuditEvent(
        eventTime=at.isoformat(),
        principal=principal,
        action=action,
        resource=resource,
        sourceIp=None,
        decision=decision,
        statement=None,
        requestId="r",
    )


def test_a_role_gets_what_its_sessions_used_one_statement_per_service() -> None:
    events = [
        event(session("job-1"), "sagemaker:CreateProcessingJob", job("prep")),
        event(session("job-2"), "sagemaker:DescribeProcessingJob", job("prep")),
        event(session("job-2"), "sagemaker:DescribeProcessingJob", job("prep")),
        event(session("job-1"), "sagemaker:ListProcessingJobs", "*"),
        event(session("job-1"), "s3:GetObject", "arn:aws:s3:::data/raw/credit.csv"),
        event(session("job-1"), "s3:PutObject", "arn:aws:s3:::data/prepared/train.csv"),
        event(session("job-1"), "s3:ListBucket", "arn:aws:s3:::data"),
        event(session("job-1"), "iam:PassRole", ROLE),
    ]
    assert suggest_policy(events, ROLE) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "IamActions",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": [ROLE],
            },
            {
                "Sid": "S3Actions",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
                "Resource": [
                    "arn:aws:s3:::data",
                    "arn:aws:s3:::data/prepared/train.csv",
                    "arn:aws:s3:::data/raw/credit.csv",
                ],
            },
            {
                "Sid": "SagemakerActions",
                "Effect": "Allow",
                "Action": ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob"],
                "Resource": [job("prep")],
            },
            {
                # A List call must not widen Create/Describe to every job.
                "Sid": "SagemakerActionsOnAnyResource",
                "Effect": "Allow",
                "Action": ["sagemaker:ListProcessingJobs"],
                "Resource": ["*"],
            },
        ],
    }


def test_denied_requests_and_other_principals_are_left_out() -> None:
    used = event(session("job-1"), "sagemaker:DescribeProcessingJob", job("mine"))
    noise = [
        event(session("job-1"), "sagemaker:StopProcessingJob", job("mine"), "implicitDeny"),
        event(session("job-1"), "sagemaker:DeleteModel", "*", "explicitDeny"),
        event(session("s", role="Executor"), "s3:GetObject", "arn:aws:s3:::b/k"),
        event(session("s", role="Exe"), "s3:GetObject", "arn:aws:s3:::b/k"),
        event(session("job-1", account="999999999999"), "s3:GetObject", "arn:aws:s3:::b/k"),
        event(f"arn:aws:iam::{ACCT}:root", "iam:CreateRole", "*"),
        event(ALICE, "sagemaker:CreateProcessingJob", job("mine")),
        # Authorized, then failed validation: it acted on nothing a policy can name.
        event(session("job-1"), "iam:GetPolicy", "not-an-arn"),
    ]
    document = suggest_policy([*noise, used], ROLE)
    assert document["Statement"] == [
        {
            "Sid": "SagemakerActions",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeProcessingJob"],
            "Resource": [job("mine")],
        }
    ]


def test_since_keeps_only_recent_requests() -> None:
    events = [
        event(ALICE, "sagemaker:CreateProcessingJob", job("old"), at=NOW - timedelta(days=8)),
        event(ALICE, "sagemaker:DescribeProcessingJob", job("new"), at=NOW - timedelta(hours=1)),
    ]
    recent = suggest_policy(events, ALICE, since=NOW - timedelta(days=7))
    assert [s["Action"] for s in recent["Statement"]] == [["sagemaker:DescribeProcessingJob"]]
    naive = suggest_policy(events, ALICE, since=(NOW - timedelta(days=7)).replace(tzinfo=None))
    assert naive == recent
    with pytest.raises(
        ValidationError, match=r"no allowed request by \S+:user/alice since 2024-05-01"
    ):
        suggest_policy(events, ALICE, since=NOW)


def test_s3_keys_become_a_folder_wildcard_above_the_threshold() -> None:
    many = [f"arn:aws:s3:::b/train/part-{i}.csv" for i in range(4)]
    few = [f"arn:aws:s3:::b/test/part-{i}.csv" for i in range(3)]
    nested = ["arn:aws:s3:::b/train/sub/x.csv"]  # inside train/*, so not listed again
    assert generalise_resources([*many, *few, *nested, "arn:aws:s3:::b"], 3) == [
        "arn:aws:s3:::b",
        *few,
        "arn:aws:s3:::b/train/*",
    ]
    assert generalise_resources([*many, *few], 4) == sorted([*many, *few])
    # Folders made wildcards count as entries of their parent: four run folders of
    # four keys each make runs/*, and two make no more than themselves.
    runs = [f"arn:aws:s3:::b/runs/r{r}/k{k}" for r in range(4) for k in range(4)]
    assert generalise_resources(runs, 3) == ["arn:aws:s3:::b/runs/*"]
    two = [f"arn:aws:s3:::b/runs/r{r}/k{k}" for r in range(2) for k in range(4)]
    assert generalise_resources(two, 3) == ["arn:aws:s3:::b/runs/r0/*", "arn:aws:s3:::b/runs/r1/*"]
    top = [f"arn:aws:s3:::b/k{i}" for i in range(4)]
    assert generalise_resources(top, 3) == ["arn:aws:s3:::b/*"]


def test_keys_with_wildcard_characters_stay_literal() -> None:
    events = [event(ALICE, "s3:GetObject", "arn:aws:s3:::b/report*?$.csv")]
    document = suggest_policy(events, ALICE)
    assert document["Statement"][0]["Resource"] == ["arn:aws:s3:::b/report${*}${?}${$}.csv"]
    policy = NamedPolicy("suggested", parse_policy(document, "identity"))

    def decide(resource: str) -> str:
        request = RequestContext(ALICE, ACCT, "user", "s3:GetObject", resource)
        return evaluate(request, PolicySet(identity=(policy,))).decision

    assert decide("arn:aws:s3:::b/report*?$.csv") == "allowed"
    assert decide("arn:aws:s3:::b/report-2024x$.csv") == "implicitDeny"


def test_the_suggestion_allows_what_was_used_and_nothing_that_was_denied() -> None:
    allowed = [
        (session("a"), "sagemaker:CreateProcessingJob", job("prep")),
        (session("b"), "sagemaker:ListProcessingJobs", "*"),
        *[(session("a"), "s3:GetObject", f"arn:aws:s3:::data/raw/{i}.csv") for i in range(5)],
        (session("a"), "s3:PutObject", "arn:aws:s3:::data/out/model.tar.gz"),
    ]
    denied = [(session("a"), "sagemaker:DeleteModel", job("prep"))]
    events = [event(*e) for e in allowed] + [event(*e, "implicitDeny") for e in denied]
    document = suggest_policy(events, ROLE)
    policy = NamedPolicy("suggested", parse_policy(document, "identity"))

    def decide(principal: str, action: str, resource: str) -> str:
        request = RequestContext(principal, ACCT, "role-session", action, resource)
        return evaluate(request, PolicySet(identity=(policy,))).decision

    assert all(decide(*e) == "allowed" for e in allowed)
    assert all(decide(*e) == "implicitDeny" for e in denied)
    assert decide(session("a"), "s3:GetObject", "arn:aws:s3:::data/raw/new.csv") == "allowed"
    assert decide(session("a"), "s3:GetObject", "arn:aws:s3:::data/secret.csv") == "implicitDeny"
    assert decide(session("a"), "sagemaker:CreateProcessingJob", job("x")) == "implicitDeny"


@pytest.mark.parametrize(
    ("target", "principal", "expected"),
    [
        (ROLE, session("any"), True),
        (f"arn:aws:iam::{ACCT}:role/service/Exec", session("any"), True),  # role with a path
        (ROLE, ROLE, True),
        (ROLE, session("any", role="Exec2"), False),
        (ALICE, f"arn:aws:iam::{ACCT}:user/team/alice", True),  # user with a path
        (ALICE, f"arn:aws:iam::{ACCT}:user/alicia", False),
        (ALICE, "arn:aws:iam::999999999999:user/alice", False),
        (session("job-1"), session("job-1"), True),
        (session("job-1"), session("job-2"), False),
        (f"arn:aws:sts::{ACCT}:assumed-role/Exec/job-*", session("job-7"), True),
        (f"arn:aws:iam::{ACCT}:root", f"arn:aws:iam::{ACCT}:root", True),
    ],
)
def test_which_principals_a_target_names(target: str, principal: str, expected: bool) -> None:
    assert principal_matcher(target)(principal) is expected


def test_a_user_with_nothing_allowed_gets_an_error_not_an_empty_policy() -> None:
    events = [event(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", "implicitDeny")]
    with pytest.raises(ValidationError, match="nothing to suggest"):
        suggest_policy(events, ALICE)
    with pytest.raises(ValidationError, match="max_keys_per_prefix must be at least 1; got 0"):
        suggest_policy(events, ALICE, max_keys_per_prefix=0)
