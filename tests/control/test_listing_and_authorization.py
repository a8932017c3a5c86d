"""List operations as AWS pages them, and the authorization hook before every operation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from sagebox.control import ControlPlane, Principal
from sagebox.errors import AccessDenied, ResourceNotFound, ValidationError
from sagebox.session import Session
from tests.helpers import job_request, wait


@pytest.fixture
def listed(session: Session) -> tuple[Session, list[str], datetime]:
    names = [f"list-{i:02d}" for i in range(8)] + ["other-job"]
    middle = datetime.max
    for index, name in enumerate(names):
        source = "raise SystemExit(1)\n" if index % 3 == 0 else "print('ok')\n"
        session.control.create_processing_job(**job_request(session, name, source))
        if index == 4:
            middle = session.control.describe_processing_job(ProcessingJobName=name)["CreationTime"]
    for name in names:
        wait(session, name)
    return session, names, middle


def _all_pages(control: ControlPlane, **request: Any) -> tuple[list[str], int]:
    names: list[str] = []
    pages = 0
    while True:
        page = control.list_processing_jobs(**request)
        pages += 1
        names += [s["ProcessingJobName"] for s in page["ProcessingJobSummaries"]]
        if "NextToken" not in page:
            return names, pages
        request["NextToken"] = page["NextToken"]


def test_pagination_filters_and_sorting(listed: tuple[Session, list[str], datetime]) -> None:
    session, names, middle = listed
    control = session.control
    newest_first, pages = _all_pages(control, MaxResults=2)
    assert newest_first == list(reversed(names))
    assert pages == 5
    default = control.list_processing_jobs()
    assert len(default["ProcessingJobSummaries"]) == 9  # AWS's default page is 10

    by_name, _ = _all_pages(control, SortBy="Name", SortOrder="Ascending", MaxResults=4)
    assert by_name == sorted(names)
    contains, _ = _all_pages(control, NameContains="LIST-0")
    assert sorted(contains) == names[:8]
    failed, _ = _all_pages(control, StatusEquals="Failed")
    assert sorted(failed) == ["list-00", "list-03", "list-06"]
    later, _ = _all_pages(control, CreationTimeAfter=middle)
    assert sorted(later) == names[5:]
    summary = control.list_processing_jobs(NameContains="list-03")["ProcessingJobSummaries"][0]
    assert summary["ProcessingJobStatus"] == "Failed"
    assert set(summary) >= {
        "ProcessingJobName",
        "ProcessingJobArn",
        "CreationTime",
        "ProcessingEndTime",
        "LastModifiedTime",
        "FailureReason",
    }


def test_bad_list_requests(session: Session) -> None:
    with pytest.raises(ValidationError, match="maxResults"):
        session.control.list_processing_jobs(MaxResults=0)
    with pytest.raises(ValidationError, match="NextToken"):
        session.control.list_processing_jobs(NextToken="not-a-token")
    with pytest.raises(ValidationError, match="sortBy"):
        session.control.list_processing_jobs(SortBy="Size")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> None:
        self.calls.append((principal.arn, action, resource))


def test_every_operation_is_authorized_first(session: Session) -> None:
    recorder = Recorder()
    control = ControlPlane(session.home, authorizer=recorder)
    request = job_request(session, "Authorized-Job", "print(1)\n")
    arn = control.create_processing_job(**request)["ProcessingJobArn"]
    control.describe_processing_job(ProcessingJobName="Authorized-Job")
    control.list_processing_jobs()
    control.list_tags(ResourceArn=arn)
    root = session.home.root_arn
    job_arn = session.home.arn("sagemaker", "processing-job/authorized-job")
    assert recorder.calls == [
        (root, "sagemaker:CreateProcessingJob", job_arn),
        (root, "iam:PassRole", session.get_execution_role()),
        (root, "sagemaker:DescribeProcessingJob", job_arn),
        (root, "sagemaker:ListProcessingJobs", "*"),
        (root, "sagemaker:ListTags", arn),
    ]
    wait(session, "Authorized-Job")


def test_a_principal_without_permission_changes_nothing(session: Session) -> None:
    stranger = Principal(
        f"arn:aws:iam::{session.account_id}:user/DataScientist", session.account_id
    )
    request = job_request(session, "denied", "print(1)\n")
    with pytest.raises(
        AccessDenied,
        match="DataScientist is not authorized to perform: sagemaker:CreateProcessingJob",
    ):
        session.control.call("CreateProcessingJob", request, principal=stranger)
    with pytest.raises(ResourceNotFound):
        session.control.describe_processing_job(ProcessingJobName="denied")


def test_policy_changes_take_effect_at_once(session: Session) -> None:
    import json

    iam = {"service": "iam"}
    session.control.call("CreateUser", {"UserName": "ops"}, **iam)
    arn = session.control.call(
        "CreatePolicy",
        {
            "PolicyName": "list",
            "PolicyDocument": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sagemaker:ListProcessingJobs",
                            "Resource": "*",
                        }
                    ],
                }
            ),
        },
        **iam,
    )["Policy"]["Arn"]
    ops = Principal(f"arn:aws:iam::{session.account_id}:user/ops", session.account_id)
    with pytest.raises(AccessDenied):
        session.control.call("ListProcessingJobs", {}, principal=ops)
    session.control.call("AttachUserPolicy", {"UserName": "ops", "PolicyArn": arn}, **iam)
    session.control.call("ListProcessingJobs", {}, principal=ops)  # allowed, not a stale deny
    session.control.call("DetachUserPolicy", {"UserName": "ops", "PolicyArn": arn}, **iam)
    with pytest.raises(AccessDenied):  # and not a stale allow
        session.control.call("ListProcessingJobs", {}, principal=ops)


def _user(
    session: Session,
    name: str,
    statements: list[dict[str, Any]],
    tags: list[dict[str, str]] | None = None,
) -> Principal:
    import json

    session.control.call(
        "CreateUser", {"UserName": name, **({"Tags": tags} if tags else {})}, service="iam"
    )
    session.control.call(
        "PutUserPolicy",
        {
            "UserName": name,
            "PolicyName": "p",
            "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": statements}),
        },
        service="iam",
    )
    return Principal(f"arn:aws:iam::{session.account_id}:user/{name}", session.account_id)


def test_condition_keys_request_tags_instance_types_principal_and_resource_tags(
    session: Session,
) -> None:
    from tests.helpers import job_request

    role = session.get_execution_role()
    creator = _user(
        session,
        "creator",
        [
            {
                "Effect": "Allow",
                "Action": "sagemaker:CreateProcessingJob",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:RequestTag/Project": "LoanDefault"},
                    "ForAllValues:StringLike": {"sagemaker:InstanceTypes": ["ml.m5.*", "ml.t3.*"]},
                },
            },
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role},
            {
                "Effect": "Allow",
                "Action": "sagemaker:DescribeProcessingJob",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/Project": "${aws:PrincipalTag/project}"}
                },
            },
        ],
        tags=[{"Key": "project", "Value": "LoanDefault"}],
    )
    tagged = {"Tags": [{"Key": "Project", "Value": "LoanDefault"}]}
    ok = job_request(session, "tagged-job", "print(1)\n", **tagged)
    session.control.call("CreateProcessingJob", ok, principal=creator)
    untagged = job_request(session, "untagged-job", "print(1)\n")
    with pytest.raises(AccessDenied):
        session.control.call("CreateProcessingJob", untagged, principal=creator)
    big = job_request(session, "gpu-job", "print(1)\n", instance_type="ml.p3.2xlarge", **tagged)
    with pytest.raises(AccessDenied):
        session.control.call("CreateProcessingJob", big, principal=creator)
    # The resource's tag matches the caller's principal tag: allowed.
    session.control.call(
        "DescribeProcessingJob", {"ProcessingJobName": "tagged-job"}, principal=creator
    )
    session.control.create_processing_job(**job_request(session, "root-job", "print(1)\n"))
    with pytest.raises(AccessDenied):  # no Project tag on this one
        session.control.call(
            "DescribeProcessingJob", {"ProcessingJobName": "root-job"}, principal=creator
        )
    wait(session, "tagged-job")
    wait(session, "root-job")
