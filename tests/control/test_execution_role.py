"""Jobs act as their execution role: PassRole, the trust policy, and S3 access as the role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagebox.control import Principal
from sagebox.errors import AccessDenied, ValidationError
from sagebox.runtime.processes import namespace_mode
from sagebox.session import Session
from tests.helpers import ROLE, job_request, s3_input, s3_output, wait

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
COPY = """
    import pathlib, shutil
    src = pathlib.Path('/opt/ml/processing/input/data')
    for f in src.iterdir():
        shutil.copy(f, pathlib.Path('/opt/ml/processing/output') / f.name)
"""


def _iam(session: Session, operation: str, **params: Any) -> dict[str, Any]:
    return session.control.call(operation, params, service="iam")


def _role(
    session: Session, name: str, policy: dict[str, Any] | None, trust: dict[str, Any] = TRUST
) -> str:
    arn = _iam(session, "CreateRole", RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    if policy is not None:
        _iam(
            session,
            "PutRolePolicy",
            RoleName=name,
            PolicyName="access",
            PolicyDocument=json.dumps(policy),
        )
    return str(arn)


def _guide_role(session: Session, name: str = "LoanDefaultJob") -> str:
    """The AWS ML guide's execution role: reads under input/, writes under output/."""
    return _role(
        session,
        name,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadInput",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::loans/input/*",
                },
                {
                    "Sid": "ListInput",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": "arn:aws:s3:::loans",
                    "Condition": {"StringLike": {"s3:prefix": "input/*"}},
                },
                {
                    "Sid": "WriteOutput",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::loans/output/*",
                },
                {
                    "Sid": "ReadCode",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": ["arn:aws:s3:::code", "arn:aws:s3:::code/*"],
                },
            ],
        },
    )


def _copy_job(session: Session, name: str, role: str, source: str, target: str) -> dict[str, Any]:
    request = job_request(
        session,
        name,
        COPY,
        inputs=[s3_input("data", source, "/opt/ml/processing/input/data")],
        outputs=[s3_output("out", "/opt/ml/processing/output", target)],
    )
    request["RoleArn"] = role
    session.control.create_processing_job(**request)
    return wait(session, name)


@pytest.fixture
def loans(session: Session) -> Session:
    session.home.objects.create_bucket("loans")
    session.home.objects.put_object("loans", "input/a.csv", b"1,2\n")
    session.home.objects.put_object("loans", "secret/b.csv", b"3,4\n")
    return session


pytestmark = pytest.mark.skipif(
    namespace_mode() is None, reason="the copy script uses literal /opt/ml paths"
)


def test_the_guides_role_reads_input_and_writes_output(loans: Session) -> None:
    role = _guide_role(loans)
    described = _copy_job(loans, "allowed", role, "s3://loans/input/", "s3://loans/output/run1")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert loans.home.objects.get_object("loans", "output/run1/a.csv") == b"1,2\n"


def test_a_role_without_get_object_fails_the_job_with_access_denied(loans: Session) -> None:
    role = _guide_role(loans, "NarrowRole")
    described = _copy_job(loans, "denied-read", role, "s3://loans/secret/", "s3://loans/output/x")
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError:")
    assert "assumed-role/NarrowRole/SageMaker is not authorized to perform: s3:ListBucket" in (
        reason
    )


def test_a_role_without_put_object_fails_at_upload(loans: Session) -> None:
    role = _guide_role(loans, "NoWrite")
    described = _copy_job(loans, "denied-write", role, "s3://loans/input/", "s3://loans/elsewhere")
    assert described["ProcessingJobStatus"] == "Failed"
    assert (
        "s3:PutObject on resource: arn:aws:s3:::loans/elsewhere/a.csv"
        in (described["FailureReason"])
    )
    assert not list(loans.home.objects.iter_objects("loans", "elsewhere/"))


def test_existing_object_tag_condition(loans: Session) -> None:
    objects = loans.home.objects
    objects.put_object("loans", "tagged/a.csv", b"1\n", tags={"Project": "LoanDefault"})
    objects.put_object("loans", "other/a.csv", b"2\n", tags={"Project": "Marketing"})
    role = _role(
        loans,
        "TaggedOnly",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::loans/*",
                    "Condition": {"StringEquals": {"s3:ExistingObjectTag/Project": "LoanDefault"}},
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject"],
                    "Resource": ["arn:aws:s3:::loans", "arn:aws:s3:::code", "arn:aws:s3:::code/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::loans/out/*",
                },
            ],
        },
    )
    good = _copy_job(loans, "tag-ok", role, "s3://loans/tagged/", "s3://loans/out/ok")
    assert good["ProcessingJobStatus"] == "Completed", good.get("FailureReason")
    bad = _copy_job(loans, "tag-bad", role, "s3://loans/other/", "s3://loans/out/bad")
    assert bad["ProcessingJobStatus"] == "Failed"
    assert "s3:GetObject on resource: arn:aws:s3:::loans/other/a.csv" in bad["FailureReason"]


def test_a_bucket_policy_deny_wins_over_the_role(loans: Session) -> None:
    role = loans.get_execution_role()  # s3:* on everything
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoSecrets",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::loans/secret/*",
            }
        ],
    }
    loans.control.call(
        "PutBucketPolicy", {"Bucket": "loans", "Policy": json.dumps(deny)}, service="s3"
    )
    described = _copy_job(loans, "bucket-deny", role, "s3://loans/secret/", "s3://loans/o")
    assert described["ProcessingJobStatus"] == "Failed"
    assert "explicit deny in a resource-based policy" in described["FailureReason"]


def test_roles_that_do_not_exist_or_do_not_trust_sagemaker_are_refused(loans: Session) -> None:
    request = job_request(loans, "no-role", "print(1)\n")
    request["RoleArn"] = ROLE
    with pytest.raises(ValidationError, match="Could not assume role"):
        loans.control.create_processing_job(**request)
    untrusting = _role(
        loans,
        "NotForSageMaker",
        None,
        trust={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
    )
    request["RoleArn"] = untrusting
    with pytest.raises(ValidationError, match=r"sagemaker\.amazonaws\.com"):
        loans.control.create_processing_job(**request)


def test_pass_role_is_required(loans: Session) -> None:
    role = loans.get_execution_role()
    _iam(loans, "CreateUser", UserName="builder")
    _iam(
        loans,
        "PutUserPolicy",
        UserName="builder",
        PolicyName="jobs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sagemaker:CreateProcessingJob", "Resource": "*"}
                ],
            }
        ),
    )
    builder = Principal(f"arn:aws:iam::{loans.account_id}:user/builder", loans.account_id)
    request = job_request(loans, "passrole", "print(1)\n")
    request["RoleArn"] = role
    with pytest.raises(AccessDenied, match="iam:PassRole on resource: " + role):
        loans.control.call("CreateProcessingJob", request, principal=builder)
    _iam(
        loans,
        "PutUserPolicy",
        UserName="builder",
        PolicyName="pass",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": role,
                        "Condition": {
                            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                        },
                    }
                ],
            }
        ),
    )
    loans.control.call("CreateProcessingJob", request, principal=builder)
    assert wait(loans, "passrole")["ProcessingJobStatus"] == "Completed"
