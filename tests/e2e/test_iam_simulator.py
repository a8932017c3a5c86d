"""The IAM policy simulator through the server, with boto3's iam client (query protocol)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import RunningServer

BUCKET = "arn:aws:s3:::ml-datasets"
OBJECT = f"{BUCKET}/train.csv"

DATA_SCIENTIST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadData",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [BUCKET, f"{BUCKET}/*"],
            },
            {
                "Sid": "LoanDefaultTagged",
                "Effect": "Allow",
                "Action": "s3:PutObjectTagging",
                "Resource": f"{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/Project": "LoanDefault"}},
            },
        ],
    },
    indent=4,
)


def test_simulate_custom_policy_over_http(server: RunningServer) -> None:
    iam = server.client("iam")
    response = iam.simulate_custom_policy(
        PolicyInputList=[DATA_SCIENTIST],
        ActionNames=["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
        ResourceArns=[OBJECT],
        ContextEntries=[
            {
                "ContextKeyName": "s3:ExistingObjectTag/Project",
                "ContextKeyValues": ["LoanDefault"],
                "ContextKeyType": "string",
            }
        ],
    )
    get, put, tag = response["EvaluationResults"]
    assert (get["EvalDecision"], put["EvalDecision"], tag["EvalDecision"]) == (
        "allowed",
        "implicitDeny",
        "allowed",
    )
    assert get["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "none",
            "StartPosition": {"Line": 4, "Column": 9},
            "EndPosition": {"Line": 15, "Column": 10},
        }
    ]
    assert get["ResourceSpecificResults"][0]["EvalResourceName"] == OBJECT
    assert get["ResourceSpecificResults"][0]["EvalResourceDecision"] == "allowed"
    assert response["IsTruncated"] is False

    missing = iam.simulate_custom_policy(
        PolicyInputList=[DATA_SCIENTIST], ActionNames=["s3:PutObjectTagging"], ResourceArns=[OBJECT]
    )["EvaluationResults"][0]
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["s3:ExistingObjectTag/Project"]


def test_simulate_custom_policy_paginates_and_refuses_malformed_policies(
    server: RunningServer,
) -> None:
    iam = server.client("iam")
    paginator = iam.get_paginator("simulate_custom_policy")
    pages = list(
        paginator.paginate(
            PolicyInputList=[DATA_SCIENTIST],
            ActionNames=["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(p["EvaluationResults"]) for p in pages] == [2, 1]
    with pytest.raises(ClientError) as error:
        iam.simulate_custom_policy(
            PolicyInputList=['{"Statement": ['], ActionNames=["s3:GetObject"]
        )
    assert error.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert "PolicyInputList.1" in error.value.response["Error"]["Message"]


def test_simulate_principal_policy_over_http(server: RunningServer) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="dana")
    iam.create_group(GroupName="data-scientists")
    iam.add_user_to_group(GroupName="data-scientists", UserName="dana")
    iam.put_group_policy(
        GroupName="data-scientists", PolicyName="datasets", PolicyDocument=DATA_SCIENTIST
    )
    boundary = iam.create_policy(
        PolicyName="no-listing",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName="dana", PermissionsBoundary=boundary)
    dana = iam.get_user(UserName="dana")["User"]["Arn"]

    results = iam.simulate_principal_policy(
        PolicySourceArn=dana,
        ActionNames=["s3:GetObject", "s3:ListBucket"],
        ResourceArns=[OBJECT, BUCKET],
    )["EvaluationResults"]
    get, listing = results
    assert get["EvalDecision"] == "allowed"
    assert {m["SourcePolicyId"] for m in get["MatchedStatements"]} == {"datasets", "no-listing"}
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert listing["EvalDecision"] == "implicitDeny"  # the boundary allows no listing
    assert listing["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}

    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": dana},
                    "Action": "s3:ListBucket",
                    "Resource": BUCKET,
                }
            ],
        }
    )
    granted = iam.simulate_principal_policy(
        PolicySourceArn=dana,
        ActionNames=["s3:ListBucket"],
        ResourceArns=[BUCKET],
        ResourcePolicy=bucket_policy,
    )["EvaluationResults"][0]
    assert granted["EvalDecision"] == "allowed"  # a bucket policy naming the user: no boundary
    assert granted["MatchedStatements"][0]["SourcePolicyType"] == "resource"

    with pytest.raises(ClientError) as error:
        iam.simulate_principal_policy(
            PolicySourceArn=dana.replace("dana", "nobody"), ActionNames=["s3:GetObject"]
        )
    assert error.value.response["Error"]["Code"] == "NoSuchEntity"
