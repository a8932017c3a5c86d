"""The IAM policy simulator, in-process: SimulateCustomPolicy and SimulatePrincipalPolicy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagebox.errors import SageboxError
from sagebox.session import Session

BUCKET = "arn:aws:s3:::ml-datasets"
OBJECT = f"{BUCKET}/train.csv"

# The AWS ML guide's data-scientist policy: read the datasets bucket, nothing else.
DATA_SCIENTIST = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadData",
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::ml-datasets", "arn:aws:s3:::ml-datasets/*"]
    },
    {
      "Sid": "NoDelete",
      "Effect": "Deny",
      "Action": "s3:DeleteObject",
      "Resource": "*"
    }
  ]
}"""


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def custom(session: Session, **request: Any) -> dict[str, Any]:
    return session.control.call("SimulateCustomPolicy", request, service="iam")


def principal(session: Session, **request: Any) -> dict[str, Any]:
    return session.control.call("SimulatePrincipalPolicy", request, service="iam")


def iam(session: Session, operation: str, **request: Any) -> dict[str, Any]:
    return session.control.call(operation, request, service="iam")


def decisions(response: dict[str, Any]) -> dict[str, str]:
    return {r["EvalActionName"]: r["EvalDecision"] for r in response["EvaluationResults"]}


def test_data_scientist_policy_allows_reading_and_nothing_else(session: Session) -> None:
    response = custom(
        session,
        PolicyInputList=[DATA_SCIENTIST],
        ActionNames=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        ResourceArns=[OBJECT],
    )
    assert decisions(response) == {
        "s3:GetObject": "allowed",
        "s3:PutObject": "implicitDeny",
        "s3:DeleteObject": "explicitDeny",
    }
    get, put, delete = response["EvaluationResults"]
    # ReadData spans lines 4-9 of the text: from its "{" to just past its "}".
    read_data = {
        "SourcePolicyId": "PolicyInputList.1",
        "SourcePolicyType": "none",
        "StartPosition": {"Line": 4, "Column": 5},
        "EndPosition": {"Line": 9, "Column": 6},
    }
    assert get["MatchedStatements"] == [read_data]
    assert get["EvalResourceName"] == OBJECT
    assert put["MatchedStatements"] == [] and put["MissingContextValues"] == []
    assert delete["MatchedStatements"][0]["StartPosition"] == {"Line": 10, "Column": 5}
    assert delete["MatchedStatements"][0]["EndPosition"] == {"Line": 15, "Column": 6}
    specific = get["ResourceSpecificResults"]
    assert specific == [
        {
            "EvalResourceName": OBJECT,
            "EvalResourceDecision": "allowed",
            "MatchedStatements": [read_data],
            "MissingContextValues": [],
            "EvalDecisionDetails": {},
        }
    ]
    listing = custom(
        session,
        PolicyInputList=[DATA_SCIENTIST],
        ActionNames=["s3:ListBucket"],
        ResourceArns=[BUCKET],
    )
    assert decisions(listing) == {"s3:ListBucket": "allowed"}


def test_positions_count_columns_from_one_on_a_single_line_policy(session: Session) -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}
    text = policy(statement)  # '{"Version": "2012-10-17", "Statement": [{...}]}'
    result = custom(
        session, PolicyInputList=[text], ActionNames=["s3:GetObject"], ResourceArns=[OBJECT]
    )
    matched = result["EvaluationResults"][0]["MatchedStatements"][0]
    start = text.index('[{"Effect"') + 1
    assert matched["StartPosition"] == {"Line": 1, "Column": start + 1}  # column 41, as on AWS
    assert matched["EndPosition"] == {"Line": 1, "Column": len(text) - 1}
    assert text[start] == "{" and text[len(text) - 3] == "}"


def test_one_result_per_action_with_the_most_restrictive_decision(session: Session) -> None:
    other = "arn:aws:s3:::finance/ledger.csv"
    result = custom(
        session,
        PolicyInputList=[DATA_SCIENTIST],
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT, other],
    )["EvaluationResults"]
    assert len(result) == 1
    assert result[0]["EvalResourceName"] == "*"
    assert result[0]["EvalDecision"] == "implicitDeny"
    assert result[0]["MatchedStatements"] == []
    per_resource = {
        r["EvalResourceName"]: r["EvalResourceDecision"]
        for r in result[0]["ResourceSpecificResults"]
    }
    assert per_resource == {OBJECT: "allowed", other: "implicitDeny"}


def test_without_resource_arns_the_resource_is_star(session: Session) -> None:
    result = custom(
        session,
        PolicyInputList=[policy({"Effect": "Allow", "Action": "sagemaker:List*", "Resource": "*"})],
        ActionNames=["sagemaker:ListTrainingJobs"],
    )["EvaluationResults"][0]
    assert result["EvalResourceName"] == "*" and result["EvalDecision"] == "allowed"
    assert "ResourceSpecificResults" not in result and "EvalDecisionDetails" not in result


def test_deny_with_not_resource_fences_the_user_into_one_bucket(session: Session) -> None:
    fence = policy(
        {"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "OnlyDatasets", "Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/*"},
    )
    inside = custom(
        session, PolicyInputList=[fence], ActionNames=["s3:PutObject"], ResourceArns=[OBJECT]
    )
    outside = custom(
        session,
        PolicyInputList=[fence],
        ActionNames=["s3:PutObject"],
        ResourceArns=["arn:aws:s3:::finance/ledger.csv"],
    )
    assert decisions(inside) == {"s3:PutObject": "allowed"}
    assert decisions(outside) == {"s3:PutObject": "explicitDeny"}
    deny = outside["EvaluationResults"][0]["MatchedStatements"]
    assert len(deny) == 1 and deny[0]["StartPosition"]["Column"] > 1


TAGGED = policy(
    {
        "Sid": "LoanDefaultOnly",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/Project": "LoanDefault"}},
    }
)


def tag(value: str) -> list[dict[str, Any]]:
    return [
        {
            "ContextKeyName": "s3:ExistingObjectTag/Project",
            "ContextKeyValues": [value],
            "ContextKeyType": "string",
        }
    ]


def test_a_condition_on_an_object_tag_reads_the_context_entries(session: Session) -> None:
    def ask(**extra: Any) -> dict[str, Any]:
        response = custom(
            session,
            PolicyInputList=[TAGGED],
            ActionNames=["s3:GetObject"],
            ResourceArns=[OBJECT],
            **extra,
        )
        result: dict[str, Any] = response["EvaluationResults"][0]
        return result

    assert ask(ContextEntries=tag("LoanDefault"))["EvalDecision"] == "allowed"
    other = ask(ContextEntries=tag("Fraud"))
    assert other["EvalDecision"] == "implicitDeny" and other["MissingContextValues"] == []
    missing = ask()
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["s3:ExistingObjectTag/Project"]
    specific = missing["ResourceSpecificResults"][0]
    assert specific["MissingContextValues"] == ["s3:ExistingObjectTag/Project"]


def test_context_values_take_their_declared_types(session: Session) -> None:
    guarded = policy(
        {
            "Effect": "Allow",
            "Action": "sagemaker:CreateTrainingJob",
            "Resource": "*",
            "Condition": {
                "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": 3600},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "Bool": {"aws:SecureTransport": "true"},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "project"]},
            },
        }
    )

    def ask(runtime: str, ip: str = "10.1.2.3") -> str:
        entries = [
            {
                "ContextKeyName": "sagemaker:MaxRuntimeInSeconds",
                "ContextKeyValues": [runtime],
                "ContextKeyType": "numeric",
            },
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [ip], "ContextKeyType": "ip"},
            {
                "ContextKeyName": "aws:SecureTransport",
                "ContextKeyValues": ["true"],
                "ContextKeyType": "boolean",
            },
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyValues": ["2025-06-01T12:00:00Z"],
                "ContextKeyType": "date",
            },
            {
                "ContextKeyName": "aws:TagKeys",
                "ContextKeyValues": ["team"],
                "ContextKeyType": "stringList",
            },
        ]
        response = custom(
            session,
            PolicyInputList=[guarded],
            ActionNames=["sagemaker:CreateTrainingJob"],
            ContextEntries=entries,
        )
        return str(response["EvaluationResults"][0]["EvalDecision"])

    assert ask("1800") == "allowed"
    assert ask("7200") == "implicitDeny"
    assert ask("1800", ip="192.168.1.1") == "implicitDeny"
    with pytest.raises(SageboxError) as bad:
        ask("an hour")
    assert bad.value.code == "ValidationException"
    assert "'an hour'" in bad.value.message and "numeric" in bad.value.message


def test_a_scalar_context_type_takes_one_value(session: Session) -> None:
    entries = [
        {
            "ContextKeyName": "aws:SourceIp",
            "ContextKeyValues": ["10.0.0.1", "10.0.0.2"],
            "ContextKeyType": "ip",
        }
    ]
    with pytest.raises(SageboxError) as error:
        custom(
            session, PolicyInputList=[TAGGED], ActionNames=["s3:GetObject"], ContextEntries=entries
        )
    assert "ipList" in error.value.message and "got 2" in error.value.message


def test_a_bucket_policy_naming_the_user_allows_it(session: Session) -> None:
    alice = f"arn:aws:iam::{session.account_id}:user/alice"
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AliceReads",
                    "Effect": "Allow",
                    "Principal": {"AWS": alice},
                    "Action": "s3:GetObject",
                    "Resource": f"{BUCKET}/*",
                }
            ],
        }
    )
    nothing = policy({"Effect": "Allow", "Action": "sagemaker:ListTrainingJobs", "Resource": "*"})
    result = custom(
        session,
        PolicyInputList=[nothing],
        ResourcePolicy=bucket_policy,
        CallerArn=alice,
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]] == [
        ("ResourcePolicy", "resource")
    ]
    bob = f"arn:aws:iam::{session.account_id}:user/bob"
    other = custom(
        session,
        PolicyInputList=[nothing],
        ResourcePolicy=bucket_policy,
        CallerArn=bob,
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
    )
    assert decisions(other) == {"s3:GetObject": "implicitDeny"}
    with pytest.raises(SageboxError, match="CallerArn is required"):
        custom(
            session,
            PolicyInputList=[nothing],
            ResourcePolicy=bucket_policy,
            ActionNames=["s3:GetObject"],
        )


def test_policy_variables_need_a_caller(session: Session) -> None:
    home_folder = policy(
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{BUCKET}/home/${{aws:username}}/*",
        }
    )
    alice = f"arn:aws:iam::{session.account_id}:user/alice"
    resource = f"{BUCKET}/home/alice/notes.txt"
    anonymous = custom(
        session,
        PolicyInputList=[home_folder],
        ActionNames=["s3:PutObject"],
        ResourceArns=[resource],
    )["EvaluationResults"][0]
    assert anonymous["EvalDecision"] == "implicitDeny"
    assert anonymous["MissingContextValues"] == ["aws:username"]
    as_alice = custom(
        session,
        PolicyInputList=[home_folder],
        ActionNames=["s3:PutObject"],
        ResourceArns=[resource],
        CallerArn=alice,
    )
    assert decisions(as_alice) == {"s3:PutObject": "allowed"}


def test_principal_policy_gathers_group_policies_under_the_boundary(session: Session) -> None:
    iam(session, "CreateUser", UserName="dana")
    iam(session, "CreateGroup", GroupName="data-scientists")
    iam(session, "AddUserToGroup", GroupName="data-scientists", UserName="dana")
    group_policy = policy(
        {"Sid": "DatasetsRW", "Effect": "Allow", "Action": "s3:*", "Resource": f"{BUCKET}/*"}
    )
    iam(
        session,
        "PutGroupPolicy",
        GroupName="data-scientists",
        PolicyName="datasets",
        PolicyDocument=group_policy,
    )
    boundary = iam(
        session,
        "CreatePolicy",
        PolicyName="read-only-boundary",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam(session, "PutUserPermissionsBoundary", UserName="dana", PermissionsBoundary=boundary)
    dana = f"arn:aws:iam::{session.account_id}:user/dana"

    response = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=[OBJECT],
    )
    get, put = response["EvaluationResults"]
    assert (get["EvalDecision"], put["EvalDecision"]) == ("allowed", "implicitDeny")
    sources = {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in get["MatchedStatements"]}
    assert ("datasets", "group") in sources
    assert ("read-only-boundary", "user-managed") in sources
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert put["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    datasets = next(m for m in get["MatchedStatements"] if m["SourcePolicyId"] == "datasets")
    assert datasets["StartPosition"] == {"Line": 1, "Column": 41}

    # A boundary passed in replaces the user's; excluding the group policy leaves nothing.
    widened = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:PutObject"],
        ResourceArns=[OBJECT],
        PermissionsBoundaryPolicyInputList=[
            policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
        ],
    )
    assert decisions(widened) == {"s3:PutObject": "allowed"}
    excluded = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        PolicyExclusionList=[
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "datasets",
                    "AttachmentType": "group",
                    "AttachmentName": "data-scientists",
                }
            }
        ],
    )
    assert decisions(excluded) == {"s3:GetObject": "implicitDeny"}
    no_boundary = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:PutObject"],
        ResourceArns=[OBJECT],
        PolicyExclusionList=[{"PolicyArn": "arn:aws:iam::*:policy/read-only-*"}],
    )["EvaluationResults"][0]
    assert no_boundary["EvalDecision"] == "allowed"  # the boundary's ARN, by wildcard
    assert "PermissionsBoundaryDecisionDetail" not in no_boundary
    lifted = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:PutObject"],
        ResourceArns=[OBJECT],
        PolicyExclusionList=[{"PolicyType": "permission-boundary"}],
    )
    assert decisions(lifted) == {"s3:PutObject": "allowed"}
    extra = principal(
        session,
        PolicySourceArn=dana,
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        PolicyExclusionList=[{"PolicyType": "inline"}],
        PolicyInputList=[DATA_SCIENTIST],
    )
    matched = extra["EvaluationResults"][0]["MatchedStatements"]
    assert extra["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert matched[0]["SourcePolicyId"] == "PolicyInputList.1"


def test_principal_policy_of_a_role_and_of_a_group(session: Session) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = iam(session, "CreateRole", RoleName="TrainingRole", AssumeRolePolicyDocument=trust)
    iam(
        session,
        "PutRolePolicy",
        RoleName="TrainingRole",
        PolicyName="train",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"}
        ),
    )
    result = principal(
        session, PolicySourceArn=role["Role"]["Arn"], ActionNames=["sagemaker:CreateTrainingJob"]
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "role"

    iam(session, "CreateGroup", GroupName="analysts")
    analysts = f"arn:aws:iam::{session.account_id}:group/analysts"
    assert decisions(
        principal(session, PolicySourceArn=analysts, ActionNames=["s3:GetObject"])
    ) == {"s3:GetObject": "implicitDeny"}


def test_an_unknown_principal_is_no_such_entity(session: Session) -> None:
    ghost = f"arn:aws:iam::{session.account_id}:user/ghost"
    with pytest.raises(SageboxError) as error:
        principal(session, PolicySourceArn=ghost, ActionNames=["s3:GetObject"])
    assert error.value.code == "NoSuchEntity"
    with pytest.raises(SageboxError) as bad:
        principal(
            session,
            PolicySourceArn="arn:aws:sts::123456789012:assumed-role/R/s",
            ActionNames=["s3:GetObject"],
        )
    assert bad.value.code == "ValidationException" and "PolicySourceArn" in bad.value.message


def test_a_malformed_policy_is_refused_saying_which(session: Session) -> None:
    broken = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"'
    with pytest.raises(SageboxError) as error:
        custom(session, PolicyInputList=[DATA_SCIENTIST, broken], ActionNames=["s3:GetObject"])
    assert error.value.code == "MalformedPolicyDocument"
    assert error.value.message.startswith("PolicyInputList.2: Syntax errors in policy.")
    unknown = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEqualz": {"aws:username": "x"}},
        }
    )
    with pytest.raises(SageboxError, match="StringEqualz") as typo:
        custom(session, PolicyInputList=[unknown], ActionNames=["s3:GetObject"])
    assert typo.value.code == "MalformedPolicyDocument"


def test_results_paginate_with_max_items_and_marker(session: Session) -> None:
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    first = custom(session, PolicyInputList=[DATA_SCIENTIST], ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2]
    rest = custom(
        session,
        PolicyInputList=[DATA_SCIENTIST],
        ActionNames=actions,
        MaxItems=2,
        Marker=first["Marker"],
    )
    assert rest["IsTruncated"] is False and "Marker" not in rest
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == actions[2:]
    with pytest.raises(SageboxError, match="Marker 'nope' is not one"):
        custom(session, PolicyInputList=[DATA_SCIENTIST], ActionNames=actions, Marker="nope")


def test_wildcard_actions_and_cross_account_owners_are_refused(session: Session) -> None:
    with pytest.raises(SageboxError, match="without wildcards") as wildcard:
        custom(session, PolicyInputList=[DATA_SCIENTIST], ActionNames=["s3:Get*"])
    assert wildcard.value.code == "ValidationException"
    with pytest.raises(SageboxError, match="within one account"):
        custom(
            session,
            PolicyInputList=[DATA_SCIENTIST],
            ActionNames=["s3:GetObject"],
            ResourceOwner="arn:aws:iam::999999999999:root",
        )
