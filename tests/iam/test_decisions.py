"""Decision table for the IAM policy engine: one row per rule of AWS's evaluation logic.

Each row is (id, policies, request, expected decision). Policies are JSON documents as a
user would write them; they are parsed for their use (identity, resource, trust,
boundary) exactly as the control plane does before asking ``evaluate``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from sagebox.iam import (
    NamedPolicy,
    PolicySet,
    RequestContext,
    evaluate,
    is_trusted,
    parse_policy,
)
from sagebox.iam.matching import arn_match, compile_tokens, wildcard_match

ACCT = "123456789012"
ROOT = f"arn:aws:iam::{ACCT}:root"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ROLE = f"arn:aws:iam::{ACCT}:role/ml/Exec"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Exec/job-1"
BUCKET = "arn:aws:s3:::ml-datasets"
OBJ = "arn:aws:s3:::ml-datasets/train.csv"
JOB = f"arn:aws:sagemaker:us-east-1:{ACCT}:training-job/loan-xgb"
V12 = "2012-10-17"

PRINCIPALS: dict[str, tuple[str, str, str]] = {
    "alice": (ALICE, ACCT, "user"),
    "bob": (BOB, ACCT, "user"),
    "session": (SESSION, ACCT, "role-session"),
    "root": (ROOT, ACCT, "root"),
    "sagemaker": ("sagemaker.amazonaws.com", "", "service"),
    "glue": ("glue.amazonaws.com", "", "service"),
}


def _stmt(effect: str, action: Any, resource: Any, elements: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect}
    if action is not None:
        statement["Action"] = action
    if resource is not None and "NotResource" not in elements:
        statement["Resource"] = resource
    statement.update(elements)
    return statement


def A(action: Any = None, resource: Any = "*", **elements: Any) -> dict[str, Any]:
    """An Allow statement."""
    return _stmt("Allow", action, resource, elements)


def D(action: Any = None, resource: Any = "*", **elements: Any) -> dict[str, Any]:
    """A Deny statement."""
    return _stmt("Deny", action, resource, elements)


def pol(*statements: dict[str, Any], version: str | None = V12) -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def cond(operator: str, key: str, value: Any) -> dict[str, Any]:
    return {operator: {key: value}}


ALLOW_ALL = pol(A("*", "*", Sid="All"))


@dataclass
class Case:
    expected: str
    identity: tuple[dict[str, Any], ...] = ()
    resource: tuple[dict[str, Any], ...] = ()
    trust: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    session: tuple[dict[str, Any], ...] = ()
    who: str = "alice"
    action: str = "s3:GetObject"
    target: str = OBJ
    keys: dict[str, Any] = field(default_factory=dict)
    sids: tuple[str, ...] | None = None  # the Sids expected in Decision.matched

    def run(self) -> Any:
        def named(prefix: str, docs: tuple[dict[str, Any], ...], kind: Any) -> tuple[Any, ...]:
            return tuple(
                NamedPolicy(f"{prefix}{i}", parse_policy(d, kind)) for i, d in enumerate(docs)
            )

        resource = named("bucket-policy:", self.resource, "resource")
        if self.trust is not None:
            resource += named("trust:", (self.trust,), "trust")
        policies = PolicySet(
            identity=named("identity:", self.identity, "identity"),
            resource=resource,
            boundary=None
            if self.boundary is None
            else NamedPolicy("boundary", parse_policy(self.boundary, "boundary")),
            session=named("session:", self.session, "identity"),
        )
        arn, account, kind = PRINCIPALS[self.who]
        request = RequestContext(
            principal_arn=arn,
            principal_account=account,
            principal_type=kind,  # type: ignore[arg-type]
            action=self.action,
            resource=self.target,
            context=self.keys,
            role_arn=ROLE if kind == "role-session" else None,
        )
        return evaluate(request, policies)


def row(case_id: str, expected: str, **fields: Any) -> Any:
    return pytest.param(Case(expected, **fields), id=case_id)


ALLOWED, EXPLICIT, IMPLICIT = "allowed", "explicitDeny", "implicitDeny"
GET = pol(A("s3:GetObject", OBJ, Sid="Get"))


# The AWS ML guide's examples: a data scientist who reads the training data, and a job's
# execution role that reads input/ and writes output/ only.
DATA_SCIENTIST = pol(
    A(["s3:GetObject", "s3:ListBucket"], [BUCKET, f"{BUCKET}/*"], Sid="ReadDatasets")
)
EXEC_ROLE = pol(
    A("s3:GetObject", f"{BUCKET}/input/*", Sid="ReadInput"),
    A("s3:PutObject", f"{BUCKET}/output/*", Sid="WriteOutput"),
)


def when(
    operator: str, key: str, value: Any, action: str = "s3:GetObject", resource: str = OBJ
) -> dict[str, Any]:
    """An identity policy allowing ``action`` (s3:GetObject on OBJ) under one condition."""
    return pol(A(action, resource, Condition=cond(operator, key, value)))


def training(operator: str, key: str, value: Any) -> dict[str, Any]:
    """An identity policy allowing sagemaker:CreateTrainingJob under one condition."""
    return when(operator, key, value, "sagemaker:CreateTrainingJob", JOB)


CASES = [
    # ---- identity policies: actions -----------------------------------------------------
    row("no-policies", IMPLICIT),
    row("exact-allow", ALLOWED, identity=(GET,), sids=("Get",)),
    row("other-action", IMPLICIT, identity=(GET,), action="s3:PutObject"),
    row("service-wildcard", ALLOWED, identity=(pol(A("s3:*", OBJ)),)),
    row("action-star", ALLOWED, identity=(pol(A("*", OBJ)),)),
    row("action-prefix", ALLOWED, identity=(pol(A("s3:Get*", OBJ)),)),
    row("action-prefix-miss", IMPLICIT, identity=(pol(A("s3:Get*", OBJ)),), action="s3:PutObject"),
    row("action-pattern-case", ALLOWED, identity=(pol(A("S3:GETOBJECT", OBJ)),)),
    row("action-request-case", ALLOWED, identity=(GET,), action="S3:getobject"),
    row("action-qmark", ALLOWED, identity=(pol(A("s3:Get?bject", OBJ)),)),
    row("action-qmark-one-char", IMPLICIT, identity=(pol(A("s3:Get?Object", OBJ)),)),
    row("action-list", ALLOWED, identity=(pol(A(["s3:PutObject", "s3:GetObject"], OBJ)),)),
    row("action-other-service", IMPLICIT, identity=(pol(A("sagemaker:*", "*")),)),
    row("single-statement-object", ALLOWED, identity=({"Version": V12, "Statement": A("s3:*")},)),
    # ---- explicit deny ------------------------------------------------------------------
    row(
        "deny-beats-allow-same-policy",
        EXPLICIT,
        identity=(pol(A("s3:*", "*"), D("s3:GetObject", OBJ, Sid="No")),),
        sids=("No",),
    ),
    row(
        "deny-beats-allow-other-policy",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D("s3:*", "*", Sid="NoS3"))),
        sids=("NoS3",),
    ),
    row("deny-alone", EXPLICIT, identity=(pol(D("s3:GetObject", OBJ)),)),
    row(
        "all-matching-denies-listed",
        EXPLICIT,
        identity=(pol(D("s3:*", "*", Sid="D1"), D("s3:GetObject", OBJ, Sid="D2"), A("*")),),
        sids=("D1", "D2"),
    ),
    row(
        "deny-other-action",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D("s3:PutObject", OBJ))),
        sids=("All",),
    ),
    row("deny-other-resource", ALLOWED, identity=(ALLOW_ALL, pol(D("s3:*", f"{BUCKET}/secret/*")))),
    # ---- NotAction ----------------------------------------------------------------------
    row("allow-notaction-outside", ALLOWED, identity=(pol(A(NotAction="iam:*")),)),
    row("allow-notaction-inside", IMPLICIT, identity=(pol(A(NotAction="s3:*")),)),
    row(
        "deny-notaction-listed-action",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D(NotAction=["s3:GetObject"]))),
    ),
    row(
        "deny-notaction-other-action",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D(NotAction=["s3:GetObject"]))),
        action="s3:PutObject",
    ),
    row(
        "deny-notaction-wildcard",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D(NotAction="s3:Get*"))),
        action="s3:GetObjectTagging",
    ),
    row(
        "deny-notaction-qmark-spares-match",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D(NotAction="s3:Get?bject"))),
    ),
    row(
        "deny-notaction-qmark-denies-others",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D(NotAction="s3:Get?bject"))),
        action="s3:PutObject",
    ),
    row(
        "deny-notresource-regex-path-denies-others",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource="arn:aws:s3:::ml-*/train.cs?"))),
        target="arn:aws:s3:::ml-datasets/other.csv",
    ),
    row(
        "deny-notresource-regex-path-spares-match",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource="arn:aws:s3:::ml-*/train.cs?"))),
    ),
    row(
        "deny-notaction-case-insensitive",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D(NotAction="S3:GETOBJECT"))),
    ),
    # ---- resources ----------------------------------------------------------------------
    row("bucket-arn-not-object", IMPLICIT, identity=(pol(A("s3:GetObject", BUCKET)),)),
    row("bucket-star-object", ALLOWED, identity=(pol(A("s3:GetObject", f"{BUCKET}/*")),)),
    row(
        "bucket-star-not-bucket",
        IMPLICIT,
        identity=(pol(A("s3:ListBucket", f"{BUCKET}/*")),),
        action="s3:ListBucket",
        target=BUCKET,
    ),
    row(
        "resource-case-sensitive",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::ML-datasets/*")),),
    ),
    row(
        "dot-is-literal",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", OBJ)),),
        target="arn:aws:s3:::ml-datasets/trainXcsv",
    ),
    row(
        "regex-chars-literal-miss",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", f"{BUCKET}/a+b(1)[x]")),),
        target=f"{BUCKET}/aab(1)[x]",
    ),
    row(
        "regex-chars-literal-hit",
        ALLOWED,
        identity=(pol(A("s3:GetObject", f"{BUCKET}/a+b(1)[x]^$|")),),
        target=f"{BUCKET}/a+b(1)[x]^$|",
    ),
    row("resource-qmark", ALLOWED, identity=(pol(A("s3:GetObject", f"{BUCKET}/train.cs?")),)),
    row(
        "arn-region-wildcard",
        ALLOWED,
        identity=(pol(A("sagemaker:*", f"arn:aws:sagemaker:*:{ACCT}:training-job/*")),),
        action="sagemaker:DescribeTrainingJob",
        target=JOB,
    ),
    row(
        "arn-wildcard-cannot-span-segments",
        IMPLICIT,
        identity=(pol(A("sagemaker:*", f"arn:aws:sagemaker:*:{ACCT}:training-job/x")),),
        action="sagemaker:DescribeTrainingJob",
        target=f"arn:aws:sagemaker:us:east:{ACCT}:training-job/x",
    ),
    row(
        "arn-resource-part-has-colons",
        ALLOWED,
        identity=(pol(A("logs:*", f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/sagemaker/*")),),
        action="logs:PutLogEvents",
        target=f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/sagemaker/Jobs:log-stream:a",
    ),
    row("resource-star", ALLOWED, identity=(pol(A("s3:GetObject", "*")),)),
    row(
        "resource-list-second",
        ALLOWED,
        identity=(pol(A("s3:GetObject", ["arn:aws:s3:::other/*", f"{BUCKET}/*"])),),
    ),
    row(
        "no-resource-request-vs-arn-pattern",
        IMPLICIT,
        identity=(pol(A("s3:ListAllMyBuckets", "arn:aws:s3:::*")),),
        action="s3:ListAllMyBuckets",
        target="*",
    ),
    row(
        "no-resource-request-vs-star",
        ALLOWED,
        identity=(pol(A("s3:ListAllMyBuckets", "*")),),
        action="s3:ListAllMyBuckets",
        target="*",
    ),
    # ---- NotResource (moto lets a Deny+NotResource through; we must not) --------------
    row(
        "allow-notresource-outside",
        ALLOWED,
        identity=(pol(A("s3:*", NotResource=["arn:aws:s3:::hr/*"])),),
    ),
    row(
        "allow-notresource-inside",
        IMPLICIT,
        identity=(pol(A("s3:*", NotResource=[f"{BUCKET}/*"])),),
    ),
    row(
        "deny-notresource-outside-list-denied",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource=["arn:aws:s3:::hr/payroll/*"], Sid="X"))),
        sids=("X",),
    ),
    row(
        "deny-notresource-inside-list-allowed",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource=[f"{BUCKET}/*"]))),
    ),
    row(
        "deny-notresource-wildcard-inside",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource="arn:aws:s3:::hr/*"))),
        target="arn:aws:s3:::hr/payroll/2024.csv",
    ),
    row(
        "deny-notresource-no-resource-request",
        EXPLICIT,
        identity=(ALLOW_ALL, pol(D("s3:*", NotResource=["arn:aws:s3:::hr/*"]))),
        action="s3:ListAllMyBuckets",
        target="*",
    ),
    row(
        "allow-notresource-no-resource-request",
        IMPLICIT,
        identity=(pol(A("s3:*", NotResource=["arn:aws:s3:::hr/*"])),),
        action="s3:ListAllMyBuckets",
        target="*",
    ),
    # ---- policy variables ---------------------------------------------------------------
    row(
        "var-username-own-home",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*")),),
        target="arn:aws:s3:::home/alice/notes.txt",
    ),
    row(
        "var-username-other-home",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*")),),
        target="arn:aws:s3:::home/bob/notes.txt",
    ),
    row(
        "var-no-version-literal",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version=None),),
        target="arn:aws:s3:::home/alice/notes.txt",
    ),
    row(
        "var-2008-literal",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17"),),
        target="arn:aws:s3:::home/alice/notes.txt",
    ),
    row(
        "var-2008-literal-text-matches",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17"),),
        target="arn:aws:s3:::home/${aws:username}/notes.txt",
    ),
    row(
        "var-default-used",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*")),),
        target="arn:aws:s3:::teams/shared/x",
    ),
    row(
        "var-default-not-used",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*")),),
        target="arn:aws:s3:::teams/risk/x",
        keys={"aws:PrincipalTag/team": "risk"},
    ),
    row(
        "var-default-ignored-when-tag-present",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*")),),
        target="arn:aws:s3:::teams/shared/x",
        keys={"aws:PrincipalTag/team": "risk"},
    ),
    row(
        "var-missing-allow-void",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*")),),
        target="arn:aws:s3:::teams/risk/x",
    ),
    row(
        "var-missing-allow-notresource-void",
        IMPLICIT,
        identity=(pol(A("s3:*", NotResource="arn:aws:s3:::teams/${aws:PrincipalTag/team}/*")),),
    ),
    row(
        "var-missing-deny-notresource-applies",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("s3:*", NotResource="arn:aws:s3:::teams/${aws:PrincipalTag/team}/*")),
        ),
    ),
    row(
        "var-missing-deny-resource-no-match",
        ALLOWED,
        identity=(ALLOW_ALL, pol(D("s3:*", f"{BUCKET}/${{aws:PrincipalTag/team}}*"))),
    ),
    row(
        "var-special-star-literal",
        ALLOWED,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::b/${*}")),),
        target="arn:aws:s3:::b/*",
    ),
    row(
        "var-special-star-not-wildcard",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::b/${*}")),),
        target="arn:aws:s3:::b/anything",
    ),
    row(
        "var-special-qmark-literal",
        ALLOWED,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::b/what${?}")),),
        target="arn:aws:s3:::b/what?",
    ),
    row(
        "var-special-qmark-not-wildcard",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::b/what${?}")),),
        target="arn:aws:s3:::b/whatx",
    ),
    row(
        "var-special-dollar",
        ALLOWED,
        identity=(pol(A("s3:GetObject", "arn:aws:s3:::b/${$}{x}")),),
        target="arn:aws:s3:::b/${x}",
    ),
    row(
        "var-value-is-literal-not-wildcard",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::teams/${aws:PrincipalTag/team}/x")),),
        target="arn:aws:s3:::teams/risk/x",
        keys={"aws:PrincipalTag/team": "r*"},
    ),
    row(
        "var-only-in-resource-part",
        IMPLICIT,
        identity=(pol(A("sagemaker:*", "arn:aws:sagemaker:us-east-1:${aws:PrincipalAccount}:*")),),
        action="sagemaker:DescribeTrainingJob",
        target=JOB,
    ),
    row(
        "var-userid",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:userid}/*")),),
        target="arn:aws:s3:::home/AIDAEXAMPLE/x",
        keys={"aws:userid": "AIDAEXAMPLE"},
    ),
    row(
        "var-key-case-insensitive",
        ALLOWED,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${AWS:UserName}/*")),),
        target="arn:aws:s3:::home/alice/x",
    ),
    row(
        "var-username-absent-for-session",
        IMPLICIT,
        identity=(pol(A("s3:*", "arn:aws:s3:::home/${aws:username}/*")),),
        who="session",
        target="arn:aws:s3:::home/Exec/x",
    ),
    row(
        "var-in-condition-stringlike",
        ALLOWED,
        identity=(when("StringLike", "s3:prefix", ["", "home/${aws:username}/*"]),),
        keys={"s3:prefix": "home/alice/docs/"},
    ),
    row(
        "var-in-condition-other-user",
        IMPLICIT,
        identity=(when("StringLike", "s3:prefix", "home/${aws:username}/*"),),
        keys={"s3:prefix": "home/bob/"},
    ),
    row(
        "var-in-condition-tag-equality",
        ALLOWED,
        identity=(when("StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}"),),
        keys={"aws:ResourceTag/team": "risk", "aws:PrincipalTag/team": "risk"},
    ),
    # ---- string operators ---------------------------------------------------------------
    row("string-equals", ALLOWED, identity=(when("StringEquals", "aws:username", "alice"),)),
    row("string-equals-miss", IMPLICIT, identity=(when("StringEquals", "aws:username", "bob"),)),
    row(
        "string-equals-case-sensitive",
        IMPLICIT,
        identity=(when("StringEquals", "aws:username", "Alice"),),
    ),
    row(
        "string-equals-ignore-case",
        ALLOWED,
        identity=(when("StringEqualsIgnoreCase", "aws:username", "ALICE"),),
    ),
    row(
        "string-values-ored",
        ALLOWED,
        identity=(when("StringEquals", "aws:username", ["bob", "alice"]),),
    ),
    row(
        "string-equals-missing-key",
        IMPLICIT,
        identity=(when("StringEquals", "aws:PrincipalTag/team", "risk"),),
    ),
    row(
        "negated-missing-key-true",
        ALLOWED,
        identity=(when("StringNotEquals", "aws:PrincipalTag/team", "risk"),),
    ),
    row(
        "string-not-equals-equal",
        IMPLICIT,
        identity=(when("StringNotEquals", "aws:username", "alice"),),
    ),
    row(
        "string-not-equals-values-nor",
        IMPLICIT,
        identity=(when("StringNotEquals", "aws:username", ["bob", "alice"]),),
    ),
    row(
        "string-not-equals-none-equal",
        ALLOWED,
        identity=(when("StringNotEquals", "aws:username", ["bob", "carol"]),),
    ),
    row(
        "string-not-equals-ignore-case",
        IMPLICIT,
        identity=(when("StringNotEqualsIgnoreCase", "aws:username", "ALICE"),),
    ),
    row("string-like", ALLOWED, identity=(when("StringLike", "aws:username", "al*"),)),
    row(
        "string-like-dot-literal",
        IMPLICIT,
        identity=(when("StringLike", "s3:prefix", "data/file.csv"),),
        keys={"s3:prefix": "data/fileXcsv"},
    ),
    row(
        "string-not-like-missing",
        ALLOWED,
        identity=(when("StringNotLike", "s3:prefix", "secret/*"),),
    ),
    row(
        "string-not-like-matching",
        IMPLICIT,
        identity=(when("StringNotLike", "s3:prefix", "secret/*"),),
        keys={"s3:prefix": "secret/x"},
    ),
    row(
        "condition-key-case-insensitive",
        ALLOWED,
        identity=(when("StringEquals", "AWS:UserName", "alice"),),
    ),
    row(
        "keys-anded",
        IMPLICIT,
        identity=(
            pol(
                A(
                    "s3:GetObject",
                    OBJ,
                    Condition={"StringEquals": {"aws:username": "alice", "s3:prefix": "x"}},
                )
            ),
        ),
    ),
    row(
        "operators-anded",
        IMPLICIT,
        identity=(
            pol(
                A(
                    "s3:GetObject",
                    OBJ,
                    Condition={
                        "StringEquals": {"aws:username": "alice"},
                        "Bool": {"aws:SecureTransport": "true"},
                    },
                )
            ),
        ),
        keys={"aws:SecureTransport": False},
    ),
    row(
        "operators-anded-all-hold",
        ALLOWED,
        identity=(
            pol(
                A(
                    "s3:GetObject",
                    OBJ,
                    Condition={
                        "StringEquals": {"aws:username": "alice"},
                        "Bool": {"aws:SecureTransport": "true"},
                    },
                )
            ),
        ),
        keys={"aws:SecureTransport": True},
    ),
    row(
        "if-exists-missing",
        ALLOWED,
        identity=(when("StringEqualsIfExists", "sagemaker:VolumeKmsKey", "k1"),),
    ),
    row(
        "if-exists-present-mismatch",
        IMPLICIT,
        identity=(when("StringEqualsIfExists", "sagemaker:VolumeKmsKey", "k1"),),
        keys={"sagemaker:VolumeKmsKey": "k2"},
    ),
    row(
        "deny-negated-missing-key-applies",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("s3:*", "*", Condition=cond("StringNotEquals", "aws:PrincipalTag/dept", "ml"))),
        ),
    ),
    row(
        "deny-if-exists-missing-applies",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("s3:*", "*", Condition=cond("StringNotEqualsIfExists", "s3:prefix", "x"))),
        ),
    ),
    row(
        "existing-object-tag-match",
        ALLOWED,
        identity=(when("StringEquals", "s3:ExistingObjectTag/Project", "LoanDefault"),),
        keys={"s3:ExistingObjectTag/Project": "LoanDefault"},
    ),
    row(
        "existing-object-tag-other",
        IMPLICIT,
        identity=(when("StringEquals", "s3:ExistingObjectTag/Project", "LoanDefault"),),
        keys={"s3:ExistingObjectTag/Project": "Fraud"},
    ),
    row(
        "existing-object-tag-missing",
        IMPLICIT,
        identity=(when("StringEquals", "s3:ExistingObjectTag/Project", "LoanDefault"),),
    ),
    row(
        "string-vs-bool-context",
        ALLOWED,
        identity=(when("StringEquals", "aws:SecureTransport", "true"),),
        keys={"aws:SecureTransport": True},
    ),
    row(
        "string-number-policy-value",
        ALLOWED,
        identity=(when("StringEquals", "s3:max-keys", 10),),
        keys={"s3:max-keys": "10"},
    ),
    # ---- numeric ------------------------------------------------------------------------
    row(
        "numeric-lte-in",
        ALLOWED,
        identity=(when("NumericLessThanEquals", "s3:max-keys", "10"),),
        keys={"s3:max-keys": "5"},
    ),
    row(
        "numeric-lte-out",
        IMPLICIT,
        identity=(when("NumericLessThanEquals", "s3:max-keys", "10"),),
        keys={"s3:max-keys": 11},
    ),
    row(
        "numeric-equals-int-float",
        ALLOWED,
        identity=(when("NumericEquals", "s3:max-keys", "10"),),
        keys={"s3:max-keys": 10.0},
    ),
    row(
        "numeric-not-equals-missing",
        ALLOWED,
        identity=(when("NumericNotEquals", "s3:max-keys", 10),),
    ),
    row(
        "numeric-non-number-context",
        IMPLICIT,
        identity=(when("NumericGreaterThan", "s3:max-keys", 1),),
        keys={"s3:max-keys": "abc"},
    ),
    row(
        "numeric-decimal",
        ALLOWED,
        identity=(when("NumericLessThan", "sagemaker:MaxRuntimeHours", "2.5"),),
        keys={"sagemaker:MaxRuntimeHours": 2.4},
    ),
    row(
        "numeric-gte-equal",
        ALLOWED,
        identity=(when("NumericGreaterThanEquals", "aws:MultiFactorAuthAge", 0),),
        keys={"aws:MultiFactorAuthAge": "0"},
    ),
    row(
        "numeric-gt-missing",
        IMPLICIT,
        identity=(when("NumericGreaterThan", "aws:MultiFactorAuthAge", 0),),
    ),
    # ---- dates --------------------------------------------------------------------------
    row(
        "date-after",
        ALLOWED,
        identity=(when("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00Z"),),
        keys={"aws:CurrentTime": datetime(2024, 6, 1, tzinfo=UTC)},
    ),
    row(
        "date-before",
        IMPLICIT,
        identity=(when("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00Z"),),
        keys={"aws:CurrentTime": datetime(2023, 6, 1, tzinfo=UTC)},
    ),
    row(
        "date-epoch-policy-value",
        ALLOWED,
        identity=(when("DateLessThan", "aws:CurrentTime", 1700000000),),
        keys={"aws:CurrentTime": datetime(2023, 1, 1, tzinfo=UTC)},
    ),
    row(
        "date-epoch-context-string",
        ALLOWED,
        identity=(when("DateLessThan", "aws:EpochTime", "2021-01-01T00:00:00Z"),),
        keys={"aws:EpochTime": "1600000000"},
    ),
    row(
        "date-epoch-context-after",
        IMPLICIT,
        identity=(when("DateLessThan", "aws:EpochTime", "2021-01-01T00:00:00Z"),),
        keys={"aws:EpochTime": 1700000000},
    ),
    row(
        "date-timezone-offset",
        ALLOWED,
        identity=(when("DateEquals", "aws:CurrentTime", "2024-01-01T01:00:00+01:00"),),
        keys={"aws:CurrentTime": "2024-01-01T00:00:00Z"},
    ),
    row(
        "date-day-only",
        ALLOWED,
        identity=(when("DateGreaterThanEquals", "aws:CurrentTime", "2024-01-01"),),
        keys={"aws:CurrentTime": datetime(2024, 1, 1, tzinfo=UTC)},
    ),
    row(
        "date-not-equals-missing",
        ALLOWED,
        identity=(when("DateNotEquals", "aws:TokenIssueTime", "2024-01-01"),),
    ),
    row(
        "date-missing",
        IMPLICIT,
        identity=(when("DateGreaterThan", "aws:TokenIssueTime", "2024-01-01"),),
    ),
    # ---- Bool / Binary ------------------------------------------------------------------
    row(
        "bool-string-true",
        ALLOWED,
        identity=(when("Bool", "aws:SecureTransport", "true"),),
        keys={"aws:SecureTransport": True},
    ),
    row(
        "bool-json-true-context-string",
        ALLOWED,
        identity=(when("Bool", "aws:SecureTransport", True),),
        keys={"aws:SecureTransport": "true"},
    ),
    row(
        "bool-false-context",
        IMPLICIT,
        identity=(when("Bool", "aws:SecureTransport", "true"),),
        keys={"aws:SecureTransport": False},
    ),
    row(
        "bool-deny-insecure",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("s3:*", "*", Condition=cond("Bool", "aws:SecureTransport", "false"))),
        ),
        keys={"aws:SecureTransport": False},
    ),
    row(
        "bool-deny-key-missing",
        ALLOWED,
        identity=(
            ALLOW_ALL,
            pol(D("s3:*", "*", Condition=cond("Bool", "aws:SecureTransport", "false"))),
        ),
    ),
    row(
        "bool-if-exists-missing",
        ALLOWED,
        identity=(when("BoolIfExists", "aws:MultiFactorAuthPresent", "true"),),
    ),
    row(
        "binary-bytes",
        ALLOWED,
        identity=(when("BinaryEquals", "kms:EncryptionContext/x", "QmluYXJ5VmFsdWU="),),
        keys={"kms:EncryptionContext/x": b"BinaryValue"},
    ),
    row(
        "binary-base64-context",
        ALLOWED,
        identity=(when("BinaryEquals", "kms:EncryptionContext/x", "QmluYXJ5VmFsdWU="),),
        keys={"kms:EncryptionContext/x": base64.b64encode(b"BinaryValue").decode()},
    ),
    row(
        "binary-mismatch",
        IMPLICIT,
        identity=(when("BinaryEquals", "kms:EncryptionContext/x", "QmluYXJ5VmFsdWU="),),
        keys={"kms:EncryptionContext/x": b"other"},
    ),
    # ---- IP addresses -------------------------------------------------------------------
    row(
        "ip-v4-in",
        ALLOWED,
        identity=(when("IpAddress", "aws:SourceIp", "203.0.113.0/24"),),
        keys={"aws:SourceIp": "203.0.113.77"},
    ),
    row(
        "ip-v4-out",
        IMPLICIT,
        identity=(when("IpAddress", "aws:SourceIp", "203.0.113.0/24"),),
        keys={"aws:SourceIp": "198.51.100.1"},
    ),
    row(
        "ip-bare-is-32",
        ALLOWED,
        identity=(when("IpAddress", "aws:SourceIp", "203.0.113.5"),),
        keys={"aws:SourceIp": "203.0.113.5"},
    ),
    row(
        "ip-bare-is-32-miss",
        IMPLICIT,
        identity=(when("IpAddress", "aws:SourceIp", "203.0.113.5"),),
        keys={"aws:SourceIp": "203.0.113.6"},
    ),
    row(
        "ip-v6-in",
        ALLOWED,
        identity=(when("IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64"),),
        keys={"aws:SourceIp": "2001:db8:1234:5678:abcd::1"},
    ),
    row(
        "ip-v6-out",
        IMPLICIT,
        identity=(when("IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64"),),
        keys={"aws:SourceIp": "2001:db8:1234:9999::1"},
    ),
    row(
        "ip-v4-request-v6-policy",
        IMPLICIT,
        identity=(when("IpAddress", "aws:SourceIp", "::/0"),),
        keys={"aws:SourceIp": "203.0.113.5"},
    ),
    row(
        "ip-mixed-list-v6",
        ALLOWED,
        identity=(when("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"]),),
        keys={"aws:SourceIp": "2001:db8::42"},
    ),
    row(
        "not-ip-in-range",
        IMPLICIT,
        identity=(when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"),),
        keys={"aws:SourceIp": "10.1.2.3"},
    ),
    row(
        "not-ip-out-of-range",
        ALLOWED,
        identity=(when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"),),
        keys={"aws:SourceIp": "192.168.1.1"},
    ),
    row(
        "not-ip-missing",
        ALLOWED,
        identity=(when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"),),
    ),
    row(
        "deny-outside-corporate-range",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("*", "*", Condition=cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"))),
        ),
        keys={"aws:SourceIp": "8.8.8.8"},
    ),
    row(
        "ip-garbage-context",
        IMPLICIT,
        identity=(when("IpAddress", "aws:SourceIp", "0.0.0.0/0"),),
        keys={"aws:SourceIp": "not-an-ip"},
    ),
    # ---- ARN operators ------------------------------------------------------------------
    row(
        "arn-like",
        ALLOWED,
        identity=(when("ArnLike", "aws:SourceArn", f"arn:aws:sagemaker:*:{ACCT}:training-job/*"),),
        keys={"aws:SourceArn": JOB},
    ),
    row(
        "arn-like-segments",
        IMPLICIT,
        identity=(when("ArnLike", "aws:SourceArn", f"arn:aws:sagemaker:*:{ACCT}:job/x"),),
        keys={"aws:SourceArn": f"arn:aws:sagemaker:us:east:{ACCT}:job/x"},
    ),
    row(
        "string-like-spans-colons",
        ALLOWED,
        identity=(when("StringLike", "aws:SourceArn", f"arn:aws:sagemaker:*:{ACCT}:job/x"),),
        keys={"aws:SourceArn": f"arn:aws:sagemaker:us:east:{ACCT}:job/x"},
    ),
    row(
        "arn-equals",
        ALLOWED,
        identity=(when("ArnEquals", "aws:SourceArn", JOB),),
        keys={"aws:SourceArn": JOB},
    ),
    row(
        "arn-equals-wildcards-like-arnlike",
        ALLOWED,
        identity=(when("ArnEquals", "aws:SourceArn", f"arn:aws:sagemaker:*:{ACCT}:*"),),
        keys={"aws:SourceArn": JOB},
    ),
    row(
        "arn-not-like-missing",
        ALLOWED,
        identity=(when("ArnNotLike", "aws:SourceArn", f"arn:aws:sagemaker:*:{ACCT}:*"),),
    ),
    row(
        "arn-not-equals-matching",
        IMPLICIT,
        identity=(when("ArnNotEquals", "aws:PrincipalArn", ALICE),),
    ),
    row(
        "arn-like-non-arn-context",
        IMPLICIT,
        identity=(when("ArnLike", "aws:SourceArn", "arn:aws:s3:::*"),),
        keys={"aws:SourceArn": "ml-datasets"},
    ),
    row(
        "arn-like-variable",
        ALLOWED,
        identity=(
            when("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:user/${{aws:username}}"),
        ),
    ),
    row(
        "arn-like-case-sensitive",
        IMPLICIT,
        identity=(when("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:user/ALICE"),),
    ),
    # ---- Null ---------------------------------------------------------------------------
    row("null-true-missing", ALLOWED, identity=(when("Null", "aws:TokenIssueTime", "true"),)),
    row(
        "null-true-present",
        IMPLICIT,
        identity=(when("Null", "aws:TokenIssueTime", "true"),),
        keys={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"},
    ),
    row(
        "null-false-present",
        ALLOWED,
        identity=(when("Null", "aws:RequestTag/Project", "false"),),
        keys={"aws:RequestTag/Project": "LoanDefault"},
    ),
    row("null-false-missing", IMPLICIT, identity=(when("Null", "aws:RequestTag/Project", False),)),
    row(
        "null-true-empty-string",
        ALLOWED,
        identity=(when("Null", "aws:RequestTag/Project", "true"),),
        keys={"aws:RequestTag/Project": ""},
    ),
    row(
        "null-deny-temporary-credentials",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(D("iam:*", "*", Condition=cond("Null", "aws:TokenIssueTime", "false"))),
        ),
        action="iam:CreateUser",
        target=f"arn:aws:iam::{ACCT}:user/x",
        keys={"aws:TokenIssueTime": datetime(2024, 1, 1, tzinfo=UTC)},
    ),
    # ---- set operators ------------------------------------------------------------------
    row(
        "for-all-values-subset",
        ALLOWED,
        identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["Project", "Owner"]),),
        keys={"aws:TagKeys": ["Project"]},
    ),
    row(
        "for-all-values-not-subset",
        IMPLICIT,
        identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["Project", "Owner"]),),
        keys={"aws:TagKeys": ["Project", "Cost"]},
    ),
    row(
        "for-all-values-missing-true",
        ALLOWED,
        identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["Project"]),),
    ),
    row(
        "for-all-values-empty-list-true",
        ALLOWED,
        identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["Project"]),),
        keys={"aws:TagKeys": []},
    ),
    row(
        "for-all-values-empty-string-true",
        ALLOWED,
        identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["Project"]),),
        keys={"aws:TagKeys": ""},
    ),
    row(
        "for-any-value-missing-false",
        IMPLICIT,
        identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["Project"]),),
    ),
    row(
        "for-any-value-empty-false",
        IMPLICIT,
        identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["Project"]),),
        keys={"aws:TagKeys": []},
    ),
    row(
        "for-any-value-one-match",
        ALLOWED,
        identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["Project"]),),
        keys={"aws:TagKeys": ["Cost", "Project"]},
    ),
    row(
        "for-any-value-no-match",
        IMPLICIT,
        identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["Project"]),),
        keys={"aws:TagKeys": ["Cost"]},
    ),
    row(
        "for-any-value-deny-forbidden",
        EXPLICIT,
        identity=(
            ALLOW_ALL,
            pol(
                D(
                    "dynamodb:PutItem",
                    "*",
                    Condition=cond("ForAnyValue:StringEquals", "dynamodb:Attributes", ["ID"]),
                )
            ),
        ),
        action="dynamodb:PutItem",
        target=f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Thread",
        keys={"dynamodb:Attributes": ["Message", "ID"]},
    ),
    row(
        "for-all-values-not-equals-clean",
        ALLOWED,
        identity=(when("ForAllValues:StringNotEquals", "aws:TagKeys", ["Owner", "Cost"]),),
        keys={"aws:TagKeys": ["Project", "Team"]},
    ),
    row(
        "for-all-values-not-equals-forbidden",
        IMPLICIT,
        identity=(when("ForAllValues:StringNotEquals", "aws:TagKeys", ["Owner", "Cost"]),),
        keys={"aws:TagKeys": ["Project", "Cost"]},
    ),
    row(
        "for-any-value-like",
        ALLOWED,
        identity=(when("ForAnyValue:StringLike", "aws:TagKeys", ["Proj*"]),),
        keys={"aws:TagKeys": ["Cost", "Project"]},
    ),
    row(
        "plain-operator-multivalued-any",
        ALLOWED,
        identity=(when("StringEquals", "aws:TagKeys", "Project"),),
        keys={"aws:TagKeys": ["Cost", "Project"]},
    ),
    row(
        "plain-negated-multivalued-none",
        IMPLICIT,
        identity=(when("StringNotEquals", "aws:TagKeys", "Project"),),
        keys={"aws:TagKeys": ["Cost", "Project"]},
    ),
    row(
        "instance-types-all-allowed",
        ALLOWED,
        identity=(
            training("ForAllValues:StringLike", "sagemaker:InstanceTypes", ["ml.m5.*", "ml.c5.*"]),
        ),
        action="sagemaker:CreateTrainingJob",
        target=JOB,
        keys={"sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.c5.2xlarge"]},
    ),
    row(
        "instance-types-one-gpu",
        IMPLICIT,
        identity=(
            training("ForAllValues:StringLike", "sagemaker:InstanceTypes", ["ml.m5.*", "ml.c5.*"]),
        ),
        action="sagemaker:CreateTrainingJob",
        target=JOB,
        keys={"sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.p3.2xlarge"]},
    ),
    row(
        "instance-types-dot-literal",
        IMPLICIT,
        identity=(training("ForAllValues:StringLike", "sagemaker:InstanceTypes", ["ml.m5.*"]),),
        action="sagemaker:CreateTrainingJob",
        target=JOB,
        keys={"sagemaker:InstanceTypes": ["ml.m5Xlarge"]},
    ),
    row(
        "set-operator-if-exists-missing",
        ALLOWED,
        identity=(when("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["Project"]),),
    ),
    # ---- permissions boundaries ---------------------------------------------------------
    row(
        "boundary-both-allow",
        ALLOWED,
        identity=(GET,),
        boundary=pol(A("s3:*", "*", Sid="Max")),
        sids=("Get", "Max"),
    ),
    row("boundary-does-not-allow", IMPLICIT, identity=(GET,), boundary=pol(A("ec2:*", "*"))),
    row("boundary-alone-grants-nothing", IMPLICIT, boundary=pol(A("s3:*", "*"))),
    row(
        "boundary-explicit-deny",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        boundary=pol(A("*", "*"), D("s3:GetObject", "*", Sid="NoGet")),
        sids=("NoGet",),
    ),
    row(
        "boundary-empty-allows-nothing",
        IMPLICIT,
        identity=(ALLOW_ALL,),
        boundary={"Version": V12, "Statement": []},
    ),
    row(
        "boundary-narrower-resource",
        IMPLICIT,
        identity=(pol(A("s3:GetObject", "*")),),
        boundary=pol(A("s3:GetObject", "arn:aws:s3:::other/*")),
    ),
    row(
        "rbp-names-user-boundary-ignored",
        ALLOWED,
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ALICE}, Sid="Alice")),),
        boundary=pol(A("ec2:*", "*")),
        sids=("Alice",),
    ),
    row(
        "rbp-names-session-boundary-ignored",
        ALLOWED,
        who="session",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": SESSION})),),
        boundary=pol(A("ec2:*", "*")),
    ),
    row(
        "rbp-names-role-boundary-limits",
        IMPLICIT,
        who="session",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ROLE})),),
        boundary=pol(A("ec2:*", "*")),
    ),
    row(
        "rbp-names-role-boundary-allows",
        ALLOWED,
        who="session",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ROLE}, Sid="Role")),),
        boundary=pol(A("s3:*", "*", Sid="B")),
        sids=("Role", "B"),
    ),
    row(
        "rbp-names-role-no-boundary",
        ALLOWED,
        who="session",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ROLE})),),
    ),
    row(
        "rbp-names-account-only-delegates",
        IMPLICIT,
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ACCT})),),
    ),
    row(
        "rbp-names-account-plus-identity",
        ALLOWED,
        identity=(GET,),
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ROOT})),),
    ),
    row(
        "rbp-public-boundary-ignored",
        ALLOWED,
        resource=(pol(A("s3:GetObject", OBJ, Principal="*")),),
        boundary=pol(A("ec2:*", "*")),
    ),
    row(
        "rbp-aws-star-is-everyone",
        ALLOWED,
        who="sagemaker",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": "*"})),),
    ),
    # ---- session policies ---------------------------------------------------------------
    row(
        "session-both-allow",
        ALLOWED,
        who="session",
        identity=(GET,),
        session=(pol(A("s3:*", "*", Sid="Sess")),),
        sids=("Get", "Sess"),
    ),
    row(
        "session-does-not-allow",
        IMPLICIT,
        who="session",
        identity=(GET,),
        session=(pol(A("ec2:*", "*")),),
    ),
    row(
        "session-alone-grants-nothing",
        IMPLICIT,
        who="session",
        session=(pol(A("s3:*", "*")),),
    ),
    row(
        "session-policies-union",
        ALLOWED,
        who="session",
        identity=(GET,),
        session=(pol(A("ec2:*", "*")), pol(A("s3:Get*", "*"))),
    ),
    row(
        "session-deny",
        EXPLICIT,
        who="session",
        identity=(ALLOW_ALL,),
        session=(pol(A("*", "*"), D("s3:*", "*")),),
    ),
    row(
        "session-rbp-names-session",
        ALLOWED,
        who="session",
        session=(pol(A("ec2:*", "*")),),
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": SESSION})),),
    ),
    row(
        "session-rbp-names-role",
        IMPLICIT,
        who="session",
        session=(pol(A("ec2:*", "*")),),
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ROLE})),),
    ),
    row(
        "identity-boundary-session-all-allow",
        ALLOWED,
        who="session",
        identity=(GET,),
        boundary=pol(A("s3:*", "*")),
        session=(pol(A("s3:GetObject", OBJ)),),
    ),
    row(
        "role-session-identity-only",
        ALLOWED,
        who="session",
        identity=(GET,),
    ),
    # ---- resource-based policies, root, NotPrincipal -----------------------------------
    row(
        "rbp-alone-grants-user",
        ALLOWED,
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": [BOB, ALICE]})),),
    ),
    row(
        "rbp-other-user",
        IMPLICIT,
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": BOB})),),
    ),
    row(
        "rbp-deny-beats-identity",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:GetObject", OBJ, Principal={"AWS": ALICE}, Sid="NoAlice")),),
        sids=("NoAlice",),
    ),
    row(
        "rbp-deny-other-user",
        ALLOWED,
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:GetObject", OBJ, Principal={"AWS": BOB})),),
    ),
    row(
        "rbp-deny-account-covers-user",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:GetObject", OBJ, Principal={"AWS": ACCT})),),
    ),
    row(
        "rbp-deny-role-covers-session",
        EXPLICIT,
        who="session",
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:GetObject", OBJ, Principal={"AWS": ROLE})),),
    ),
    row("root-no-policies", ALLOWED, who="root"),
    row(
        "root-bucket-deny-everyone",
        EXPLICIT,
        who="root",
        resource=(pol(D("s3:*", "*", Principal="*")),),
    ),
    row(
        "root-bucket-deny-account",
        EXPLICIT,
        who="root",
        resource=(pol(D("s3:*", "*", Principal={"AWS": ACCT})),),
    ),
    row(
        "root-bucket-deny-other",
        ALLOWED,
        who="root",
        resource=(pol(D("s3:*", "*", Principal={"AWS": BOB})),),
    ),
    row(
        "root-identity-deny-honoured",
        EXPLICIT,
        who="root",
        identity=(pol(D("s3:*", "*")),),
    ),
    row(
        "not-principal-deny-spares-listed",
        ALLOWED,
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [ALICE, ROOT]})),),
    ),
    row(
        "not-principal-deny-without-account",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [ALICE]})),),
    ),
    row(
        "not-principal-deny-other-user",
        EXPLICIT,
        who="bob",
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [ALICE, ROOT]})),),
    ),
    row(
        "not-principal-deny-session-chain",
        ALLOWED,
        who="session",
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [SESSION, ROLE, ACCT]})),),
    ),
    row(
        "not-principal-deny-role-without-session",
        EXPLICIT,
        who="session",
        identity=(ALLOW_ALL,),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [ROLE, ACCT]})),),
    ),
    row(
        "not-principal-deny-boundary-quirk",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        boundary=pol(A("*", "*")),
        resource=(pol(D("s3:*", "*", NotPrincipal={"AWS": [ALICE, ROOT]})),),
    ),
    row(
        "not-principal-allow-others",
        ALLOWED,
        resource=(pol(A("s3:GetObject", OBJ, NotPrincipal={"AWS": BOB})),),
    ),
    row(
        "not-principal-allow-listed",
        IMPLICIT,
        resource=(pol(A("s3:GetObject", OBJ, NotPrincipal={"AWS": ALICE})),),
    ),
    row(
        "rbp-service-principal",
        ALLOWED,
        who="sagemaker",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"Service": "sagemaker.amazonaws.com"})),),
    ),
    row(
        "rbp-other-service",
        IMPLICIT,
        who="glue",
        resource=(pol(A("s3:GetObject", OBJ, Principal={"Service": "sagemaker.amazonaws.com"})),),
    ),
    row(
        "rbp-condition-fails",
        IMPLICIT,
        resource=(
            pol(
                A(
                    "s3:GetObject",
                    OBJ,
                    Principal={"AWS": ALICE},
                    Condition=cond("IpAddress", "aws:SourceIp", "10.0.0.0/8"),
                )
            ),
        ),
        keys={"aws:SourceIp": "8.8.8.8"},
    ),
    row(
        "rbp-deny-insecure-transport",
        EXPLICIT,
        identity=(ALLOW_ALL,),
        resource=(
            pol(
                D(
                    "s3:*",
                    [BUCKET, f"{BUCKET}/*"],
                    Principal="*",
                    Condition=cond("Bool", "aws:SecureTransport", "false"),
                )
            ),
        ),
        keys={"aws:SecureTransport": False},
    ),
    row(
        "rbp-other-action",
        IMPLICIT,
        resource=(pol(A("s3:GetObject", OBJ, Principal={"AWS": ALICE})),),
        action="s3:DeleteObject",
    ),
    # ---- role trust policies -----------------------------------------------------------
    row(
        "trust-service",
        ALLOWED,
        who="sagemaker",
        trust=pol(A("sts:AssumeRole", None, Principal={"Service": "sagemaker.amazonaws.com"})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-other-service",
        IMPLICIT,
        who="glue",
        trust=pol(A("sts:AssumeRole", None, Principal={"Service": "sagemaker.amazonaws.com"})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-names-user",
        ALLOWED,
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": ALICE})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-account-needs-identity",
        IMPLICIT,
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": ACCT})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-account-with-identity",
        ALLOWED,
        identity=(pol(A("sts:AssumeRole", ROLE, Sid="Assume")),),
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": ACCT}, Sid="Trust")),
        action="sts:AssumeRole",
        target=ROLE,
        sids=("Trust", "Assume"),
    ),
    row(
        "trust-required-even-with-identity",
        IMPLICIT,
        identity=(pol(A("sts:AssumeRole", ROLE)),),
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": BOB})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-deny",
        EXPLICIT,
        trust=pol(
            A("sts:AssumeRole", None, Principal={"AWS": ACCT}),
            D("sts:AssumeRole", None, Principal={"AWS": ALICE}),
        ),
        identity=(ALLOW_ALL,),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-root-cannot-assume",
        IMPLICIT,
        who="root",
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": ACCT})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-account-boundary-limits",
        IMPLICIT,
        identity=(pol(A("sts:AssumeRole", ROLE)),),
        boundary=pol(A("s3:*", "*")),
        trust=pol(A("sts:AssumeRole", None, Principal={"AWS": ACCT})),
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "trust-external-id-right",
        ALLOWED,
        trust=pol(
            A(
                "sts:AssumeRole",
                None,
                Principal={"AWS": ALICE},
                Condition=cond("StringEquals", "sts:ExternalId", "loan-42"),
            )
        ),
        action="sts:AssumeRole",
        target=ROLE,
        keys={"sts:ExternalId": "loan-42"},
    ),
    row(
        "trust-external-id-wrong",
        IMPLICIT,
        trust=pol(
            A(
                "sts:AssumeRole",
                None,
                Principal={"AWS": ALICE},
                Condition=cond("StringEquals", "sts:ExternalId", "loan-42"),
            )
        ),
        action="sts:AssumeRole",
        target=ROLE,
        keys={"sts:ExternalId": "other"},
    ),
    row(
        "trust-source-account-confused-deputy",
        IMPLICIT,
        who="sagemaker",
        trust=pol(
            A(
                "sts:AssumeRole",
                None,
                Principal={"Service": "sagemaker.amazonaws.com"},
                Condition=cond("StringEquals", "aws:SourceAccount", ACCT),
            )
        ),
        action="sts:AssumeRole",
        target=ROLE,
        keys={"aws:SourceAccount": "999999999999"},
    ),
    # ---- the ML guide's policies --------------------------------------------------------
    *[
        row(f"guide-datascientist-{name}", expected, identity=(DATA_SCIENTIST,), **request)
        for name, expected, request in [
            ("get-object", ALLOWED, {"action": "s3:GetObject", "target": OBJ}),
            ("put-object", IMPLICIT, {"action": "s3:PutObject", "target": OBJ}),
            ("list-bucket", ALLOWED, {"action": "s3:ListBucket", "target": BUCKET}),
            ("other-bucket", IMPLICIT, {"action": "s3:GetObject", "target": "arn:aws:s3:::x/y"}),
            ("delete-object", IMPLICIT, {"action": "s3:DeleteObject", "target": OBJ}),
            (
                "create-training-job",
                IMPLICIT,
                {"action": "sagemaker:CreateTrainingJob", "target": JOB},
            ),
        ]
    ],
    *[
        row(f"guide-execution-role-{name}", expected, who="session", identity=(EXEC_ROLE,), **req)
        for name, expected, req in [
            ("read-input", ALLOWED, {"action": "s3:GetObject", "target": f"{BUCKET}/input/a"}),
            ("write-input", IMPLICIT, {"action": "s3:PutObject", "target": f"{BUCKET}/input/a"}),
            ("write-output", ALLOWED, {"action": "s3:PutObject", "target": f"{BUCKET}/output/m"}),
            ("read-output", IMPLICIT, {"action": "s3:GetObject", "target": f"{BUCKET}/output/m"}),
            (
                "prefix-is-exact",
                IMPLICIT,
                {"action": "s3:GetObject", "target": f"{BUCKET}/inputs/a"},
            ),
        ]
    ],
    row(
        "guide-trust-policy-sagemaker",
        ALLOWED,
        who="sagemaker",
        trust={
            "Version": V12,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        action="sts:AssumeRole",
        target=ROLE,
    ),
    row(
        "guide-tagged-objects-only",
        ALLOWED,
        who="session",
        identity=(
            pol(
                A(
                    "s3:GetObject",
                    f"{BUCKET}/*",
                    Condition=cond("StringEquals", "s3:ExistingObjectTag/Project", "LoanDefault"),
                )
            ),
        ),
        keys={"s3:ExistingObjectTag/Project": "LoanDefault"},
    ),
    row(
        "guide-tagged-objects-other-project",
        IMPLICIT,
        who="session",
        identity=(
            pol(
                A(
                    "s3:GetObject",
                    f"{BUCKET}/*",
                    Condition=cond("StringEquals", "s3:ExistingObjectTag/Project", "LoanDefault"),
                )
            ),
        ),
        keys={"s3:ExistingObjectTag/Project": "Churn"},
    ),
]


def test_table_is_large_and_ids_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES)
def test_decision(case: Case) -> None:
    decision = case.run()
    assert decision.decision == case.expected
    effects = {m.effect for m in decision.matched}
    if case.expected == EXPLICIT:
        assert effects == {"Deny"}
    elif case.expected == ALLOWED and case.who != "root":
        assert effects == {"Allow"}, "an allow names the statements it rests on"
    else:
        assert decision.matched == ()  # implicit deny, or the root user's default allow
    if case.sids is not None:
        assert tuple(m.sid for m in decision.matched) == case.sids


# ---- API contracts around the table ------------------------------------------------------
SAGEMAKER_TRUST = parse_policy(
    pol(A("sts:AssumeRole", None, Principal={"Service": "sagemaker.amazonaws.com"})), "trust"
)


def test_is_trusted_service() -> None:
    assert is_trusted(SAGEMAKER_TRUST, "sagemaker.amazonaws.com")
    assert not is_trusted(SAGEMAKER_TRUST, "glue.amazonaws.com")
    assert not is_trusted(SAGEMAKER_TRUST, "sagemaker.amazonaws.com", "sts:TagSession")
    assert not is_trusted(SAGEMAKER_TRUST, ALICE)


def test_is_trusted_account_user_and_deny() -> None:
    account_trust = parse_policy(
        pol(
            A("sts:AssumeRole", None, Principal={"AWS": ACCT}),
            D("sts:AssumeRole", None, Principal={"AWS": BOB}),
        ),
        "trust",
    )
    assert is_trusted(account_trust, ALICE)  # the account is trusted (identity check still due)
    assert is_trusted(account_trust, ACCT)
    assert not is_trusted(account_trust, BOB)  # explicitly denied
    assert not is_trusted(account_trust, "arn:aws:iam::999999999999:user/eve")


def test_is_trusted_with_conditions() -> None:
    trust = parse_policy(
        pol(
            A(
                "sts:AssumeRole",
                None,
                Principal={"Service": "sagemaker.amazonaws.com"},
                Condition=cond("StringEquals", "aws:SourceAccount", ACCT),
            )
        ),
        "trust",
    )
    assert is_trusted(trust, "sagemaker.amazonaws.com", context={"aws:SourceAccount": ACCT})
    assert not is_trusted(trust, "sagemaker.amazonaws.com")
    with pytest.raises(ValueError, match="needs a trust policy"):
        is_trusted(parse_policy(GET, "identity"), "sagemaker.amazonaws.com")


def test_session_principal_arn_is_its_role() -> None:
    request = RequestContext(SESSION, ACCT, "role-session", "s3:GetObject", OBJ, role_arn=ROLE)
    assert request.keys["aws:principalarn"] == ROLE
    assert request.keys["aws:principaltype"] == "AssumedRole"
    assert "aws:username" not in request.keys
    derived = RequestContext(SESSION, ACCT, "role-session", "s3:GetObject", OBJ)
    assert derived.keys["aws:principalarn"] == f"arn:aws:iam::{ACCT}:role/Exec"


def test_user_keys_are_derived_and_overridable() -> None:
    request = RequestContext(ALICE, ACCT, "user", "s3:GetObject", OBJ, {"AWS:UserName": "x"})
    assert request.keys["aws:username"] == "x"  # given keys win, names are case-insensitive
    assert request.keys["aws:principalaccount"] == ACCT
    assert request.keys["aws:principalisawsservice"] is False
    plain = RequestContext(ALICE, ACCT, "user", "s3:GetObject", OBJ, {"s3:prefix": None})
    assert plain.keys["aws:username"] == "alice"
    assert "s3:prefix" not in plain.keys  # None means absent


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"principal_type": "group"}, "principal_type"),
        ({"action": "s3:*"}, "service:Operation"),
        ({"action": "GetObject"}, "service:Operation"),
        ({"resource": "ml-datasets/train.csv"}, "ARN"),
    ],
)
def test_request_context_rejects_malformed_requests(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "principal_arn": ALICE,
        "principal_account": ACCT,
        "principal_type": "user",
        "action": "s3:GetObject",
        "resource": OBJ,
    }
    with pytest.raises(ValueError, match=message):
        RequestContext(**(base | fields))


def test_policy_set_rejects_policies_in_the_wrong_role() -> None:
    resource_policy = NamedPolicy("b", parse_policy(pol(A("s3:*", Principal="*")), "resource"))
    identity_policy = NamedPolicy("i", parse_policy(GET, "identity"))
    with pytest.raises(ValueError, match=r"cannot go in PolicySet\.identity"):
        PolicySet(identity=(resource_policy,))
    with pytest.raises(ValueError, match=r"cannot go in PolicySet\.resource"):
        PolicySet(resource=(identity_policy,))
    assert PolicySet(identity=[identity_policy]).identity == (identity_policy,)  # type: ignore[arg-type]


def test_no_pattern_is_compiled_per_evaluation() -> None:
    policy = parse_policy(
        pol(
            A("s3:Get*", "arn:aws:s3:::home/${aws:username}/*"),
            A("s3:*", "arn:aws:s3:::ml-*/data?/*", Condition=cond("StringLike", "s3:prefix", "a*")),
        ),
        "identity",
    )
    policies = PolicySet(identity=(NamedPolicy("p", policy),))
    request = RequestContext(ALICE, ACCT, "user", "s3:GetObject", "arn:aws:s3:::home/alice/x")
    evaluate(request, policies)
    misses = compile_tokens.cache_info().misses
    for _ in range(50):
        assert evaluate(request, policies).allowed
    assert compile_tokens.cache_info().misses == misses


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("ml.m5.*", "ml.m5.xlarge", True),
        ("ml.m5.*", "ml.m5Xlarge", False),  # "." is a dot
        ("a+b", "aab", False),  # regex syntax is literal
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*", "", True),
        ("Home/*", "home/x", False),  # case-sensitive
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_wildcard_match_case_insensitive_and_arn_segments() -> None:
    assert wildcard_match("S3:Get*", "s3:getobject", case_sensitive=False)
    assert arn_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons")
    assert arn_match("arn:aws:*:*:*:x", "arn:aws:sqs:us-east-1:123:x")
    assert not arn_match("arn:aws:*:*:x", "arn:aws:sqs:us-east-1:x")  # * stays in a segment
    assert not arn_match("arn:aws:sqs:*:123:x", "arn:aws:sqs:us:east:123:x")
    assert wildcard_match("arn:aws:sqs:*:123:x", "arn:aws:sqs:us:east:123:x")
