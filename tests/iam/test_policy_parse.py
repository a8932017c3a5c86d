"""Strict validation of policy documents: what is rejected, and what the user is told."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

import sagebox.iam as iam
from sagebox.errors import ValidationError
from sagebox.iam import MalformedPolicyDocument, parse_policy

V12 = "2012-10-17"
ALICE = "arn:aws:iam::123456789012:user/alice"


def doc(*statements: Any, **top: Any) -> dict[str, Any]:
    return {"Version": V12, "Statement": list(statements), **top}


def ok(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **extra}


def rbp(**extra: Any) -> dict[str, Any]:
    """A resource-policy statement (Principal alice unless given)."""
    return ok(**{"Principal": {"AWS": ALICE}, **extra})


def trust(**extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", **extra}
    statement.setdefault("Principal", {"Service": "sagemaker.amazonaws.com"})
    return statement


def rejected(document: Any, kind: Any = "identity") -> str:
    with pytest.raises(MalformedPolicyDocument) as caught:
        parse_policy(document, kind)
    return caught.value.message


# Each row: (id, document, kind, fragments the message must contain).
REJECTIONS: list[Any] = [
    (
        "json-syntax",
        '{"Version": "2012-10-17", "Statement": [',
        "identity",
        ["Syntax errors in policy", "line 1"],
    ),
    ("json-nan", '{"Version": "2012-10-17", "Statement": NaN}', "identity", ["NaN"]),
    (
        "duplicate-json-key",
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
        "identity",
        ["'Version' appears twice"],
    ),
    ("not-an-object", "[1, 2]", "identity", ["must be a JSON object", "list"]),
    ("unknown-top-element", doc(ok(), Statements=[]), "identity", ["Unknown element 'Statements'"]),
    (
        "bad-version",
        {"Version": "2012-10-18", "Statement": [ok()]},
        "identity",
        ["'2012-10-18'", "2012-10-17"],
    ),
    ("no-statement", {"Version": V12}, "identity", ["no Statement"]),
    ("statement-string", {"Version": V12, "Statement": "Allow"}, "identity", ["object or a list"]),
    ("statement-item-not-object", doc("Allow"), "identity", ["Statement 0 must be an object"]),
    (
        "unknown-statement-element",
        doc(ok(Actions="s3:*")),
        "identity",
        ["Unknown element 'Actions'", "case-sensitive"],
    ),
    ("effect-lowercase", doc(ok(Effect="allow")), "identity", ['"Allow" or "Deny"', "'allow'"]),
    ("effect-missing", doc({"Action": "s3:*", "Resource": "*"}), "identity", ["Effect", "None"]),
    ("action-and-notaction", doc(ok(NotAction="iam:*")), "identity", ["both Action and NotAction"]),
    (
        "no-action",
        doc({"Effect": "Allow", "Resource": "*"}),
        "identity",
        ["Policy statement must contain actions"],
    ),
    (
        "action-no-vendor",
        doc(ok(Action="GetObject")),
        "identity",
        ["must be prefaced by a vendor", "'GetObject'"],
    ),
    ("action-space", doc(ok(Action="s3:Get Object")), "identity", ["'s3:Get Object'"]),
    ("action-empty-list", doc(ok(Action=[])), "identity", ["non-empty"]),
    ("action-not-string", doc(ok(Action=["s3:GetObject", 3])), "identity", ["non-empty list"]),
    (
        "no-resource",
        doc({"Effect": "Allow", "Action": "s3:*"}),
        "identity",
        ["Policy statement must contain resources"],
    ),
    (
        "resource-not-arn",
        doc(ok(Resource="ml-datasets/*")),
        "identity",
        ['Resource ml-datasets/* must be in ARN format or "*"'],
    ),
    (
        "resource-short-arn",
        doc(ok(Resource="arn:aws:s3:bucket")),
        "identity",
        ["must be in ARN format"],
    ),
    (
        "resource-no-service",
        doc(ok(Resource="arn:aws::::x")),
        "identity",
        ["must be in ARN format"],
    ),
    (
        "resource-no-resource-part",
        doc(ok(Resource="arn:aws:s3:::")),
        "identity",
        ["must be in ARN format"],
    ),
    (
        "resource-and-notresource",
        doc(ok(NotResource="*")),
        "identity",
        ["both Resource and NotResource"],
    ),
    (
        "principal-in-identity",
        doc(ok(Principal="*")),
        "identity",
        ["Policy document should not specify a principal"],
    ),
    (
        "notprincipal-in-boundary",
        doc(ok(NotPrincipal={"AWS": ALICE})),
        "boundary",
        ["should not specify a principal"],
    ),
    ("principal-missing-resource", doc(ok()), "resource", ["Missing required field Principal"]),
    (
        "principal-missing-trust",
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "trust",
        ["Missing required field Principal"],
    ),
    (
        "principal-partial-wildcard",
        doc(rbp(Principal={"AWS": "arn:aws:iam::123456789012:user/*"})),
        "resource",
        ["Invalid principal in policy", "user/*"],
    ),
    (
        "principal-short-account",
        doc(rbp(Principal={"AWS": "12345"})),
        "resource",
        ["Invalid principal"],
    ),
    (
        "principal-group",
        doc(rbp(Principal={"AWS": "arn:aws:iam::123456789012:group/ds"})),
        "resource",
        ["Invalid principal"],
    ),
    (
        "principal-service-star",
        doc(rbp(Principal={"Service": "*"})),
        "resource",
        ["Invalid principal"],
    ),
    (
        "principal-service-not-host",
        doc(rbp(Principal={"Service": "sagemaker"})),
        "resource",
        ["Invalid principal"],
    ),
    (
        "principal-canonical-user",
        doc(rbp(Principal={"CanonicalUser": "79a59df9"})),
        "resource",
        ["canonical user"],
    ),
    (
        "principal-unknown-type",
        doc(rbp(Principal={"Group": "ds"})),
        "resource",
        ["Invalid principal"],
    ),
    ("principal-empty", doc(rbp(Principal={})), "resource", ["Invalid principal"]),
    ("principal-string-not-star", doc(rbp(Principal=ALICE)), "resource", ["Invalid principal"]),
    ("trust-with-resource", doc(trust(Resource="*")), "trust", ["Has prohibited field Resource"]),
    (
        "trust-non-sts-action",
        doc(trust(Action="s3:GetObject")),
        "trust",
        ["may only specify STS AssumeRole actions"],
    ),
    (
        "trust-notaction",
        doc({"Effect": "Allow", "NotAction": "s3:*", "Principal": "*"}),
        "trust",
        ["STS"],
    ),
    (
        "unknown-operator",
        doc(ok(Condition={"StringEqualz": {"aws:username": "a"}})),
        "identity",
        ["Invalid condition operator 'StringEqualz'"],
    ),
    (
        "null-if-exists",
        doc(ok(Condition={"NullIfExists": {"aws:username": "true"}})),
        "identity",
        ["'NullIfExists'"],
    ),
    (
        "set-operator-null",
        doc(ok(Condition={"ForAnyValue:Null": {"aws:TagKeys": "true"}})),
        "identity",
        ["'ForAnyValue:Null'"],
    ),
    (
        "unknown-set-operator",
        doc(ok(Condition={"ForSomeValues:StringEquals": {"a:b": "c"}})),
        "identity",
        ["ForSomeValues"],
    ),
    (
        "operator-twice",
        doc(ok(Condition={"StringEquals": {"a:b": "c"}, "stringequals": {"a:c": "d"}})),
        "identity",
        ["appears twice"],
    ),
    (
        "condition-not-object",
        doc(ok(Condition=["StringEquals"])),
        "identity",
        ["Condition of Statement 0 must be an object"],
    ),
    (
        "condition-body-empty",
        doc(ok(Condition={"StringEquals": {}})),
        "identity",
        ["must map condition keys"],
    ),
    (
        "condition-value-null",
        doc(ok(Condition={"StringEquals": {"aws:username": None}})),
        "identity",
        ["string, number or boolean", "None"],
    ),
    (
        "condition-value-nested",
        doc(ok(Condition={"StringEquals": {"aws:username": [["a"]]}})),
        "identity",
        ["string, number or boolean"],
    ),
    (
        "condition-value-empty-list",
        doc(ok(Condition={"StringEquals": {"aws:username": []}})),
        "identity",
        ["non-empty list"],
    ),
    (
        "condition-value-object",
        doc(ok(Condition={"StringEquals": {"aws:username": {"a": 1}}})),
        "identity",
        ["string, number or boolean"],
    ),
    (
        "condition-key-no-vendor",
        doc(ok(Condition={"StringEquals": {"username": "a"}})),
        "identity",
        ["prefaced by a vendor", "'username'"],
    ),
    (
        "condition-key-twice",
        doc(ok(Condition={"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}})),
        "identity",
        ["appears twice", "case-insensitive"],
    ),
    (
        "numeric-not-number",
        doc(ok(Condition={"NumericLessThan": {"s3:max-keys": "ten"}})),
        "identity",
        ["'ten' is not a number"],
    ),
    (
        "numeric-bool",
        doc(ok(Condition={"NumericEquals": {"s3:max-keys": True}})),
        "identity",
        ["not a number"],
    ),
    (
        "date-bad",
        doc(ok(Condition={"DateGreaterThan": {"aws:CurrentTime": "yesterday"}})),
        "identity",
        ["'yesterday' is not a date", "ISO 8601"],
    ),
    (
        "date-bad-month",
        doc(ok(Condition={"DateGreaterThan": {"aws:CurrentTime": "2024-13-01"}})),
        "identity",
        ["not a date"],
    ),
    (
        "bool-bad",
        doc(ok(Condition={"Bool": {"aws:SecureTransport": "yes"}})),
        "identity",
        ["'yes' is not a boolean"],
    ),
    (
        "null-bad",
        doc(ok(Condition={"Null": {"aws:TokenIssueTime": "maybe"}})),
        "identity",
        ["not a boolean"],
    ),
    (
        "ip-bad",
        doc(ok(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})),
        "identity",
        ["not an IP address or CIDR"],
    ),
    (
        "ip-number",
        doc(ok(Condition={"IpAddress": {"aws:SourceIp": 10}})),
        "identity",
        ["not an IP address"],
    ),
    (
        "binary-bad",
        doc(ok(Condition={"BinaryEquals": {"a:b": "not base64!"}})),
        "identity",
        ["not base64"],
    ),
    (
        "arn-value-not-arn",
        doc(ok(Condition={"ArnLike": {"aws:SourceArn": "my-topic"}})),
        "identity",
        ["'my-topic' is not an ARN"],
    ),
    (
        "duplicate-sid",
        doc(ok(Sid="Read"), ok(Sid="Read")),
        "identity",
        ["Statement IDs (SID) in a single policy must be unique", "Read"],
    ),
    (
        "sid-not-alphanumeric",
        doc(ok(Sid="read data")),
        "identity",
        ["must be alpha-numeric", "'read data'"],
    ),
    ("sid-not-string", doc(ok(Sid=7)), "identity", ["Sid of Statement 0 must be a string"]),
    (
        "variable-empty",
        doc(ok(Resource="arn:aws:s3:::b/${}")),
        "identity",
        ["Invalid policy variable '${}'"],
    ),
    (
        "variable-default-unquoted",
        doc(ok(Resource="arn:aws:s3:::b/${aws:username, guest}")),
        "identity",
        ["single quotes"],
    ),
    (
        "variable-in-condition-bad",
        doc(ok(Condition={"StringEquals": {"a:b": "${a b}"}})),
        "identity",
        ["Invalid policy variable"],
    ),
    ("id-not-string", doc(ok(), Id=5), "identity", ["Id must be a string"]),
]


@pytest.mark.parametrize(
    ("document", "kind", "fragments"),
    [pytest.param(d, k, f, id=i) for i, d, k, f in REJECTIONS],
)
def test_rejected_with_a_useful_message(document: Any, kind: Any, fragments: list[str]) -> None:
    message = rejected(document, kind)
    for fragment in fragments:
        assert fragment in message, message


def test_error_is_a_validation_error_with_aws_code() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_policy("{", "identity")
    assert caught.value.code == "MalformedPolicyDocument"
    assert caught.value.http_status == 400
    assert str(caught.value).startswith("MalformedPolicyDocument: Syntax errors in policy.")


ACCEPTED: list[Any] = [
    ("minimal", doc(ok()), "identity"),
    ("statement-object", {"Version": V12, "Statement": ok()}, "identity"),
    ("no-version", {"Statement": [ok()]}, "identity"),
    ("legacy-version", {"Version": "2008-10-17", "Statement": [ok()]}, "identity"),
    ("empty-statements", {"Version": V12, "Statement": []}, "boundary"),
    ("with-id", doc(ok(), Id="loan-policy"), "identity"),
    (
        "notaction-notresource",
        doc({"Effect": "Deny", "NotAction": "s3:*", "NotResource": "*"}),
        "identity",
    ),
    ("action-star", doc(ok(Action="*")), "identity"),
    (
        "action-wildcards",
        doc(ok(Action=["s3:Get*", "iam:*AccessKey*", "ec2:Describe?pcs"])),
        "identity",
    ),
    (
        "operator-case-insensitive",
        doc(ok(Condition={"stringequals": {"aws:username": "a"}})),
        "identity",
    ),
    (
        "every-operator",
        doc(
            ok(
                Condition={
                    "StringEquals": {"a:a": "x"},
                    "StringNotEquals": {"a:a": "x"},
                    "StringEqualsIgnoreCase": {"a:a": "x"},
                    "StringNotEqualsIgnoreCase": {"a:a": "x"},
                    "StringLike": {"a:a": "x*"},
                    "StringNotLike": {"a:a": "x?"},
                    "NumericEquals": {"a:a": 1},
                    "NumericNotEquals": {"a:a": "1"},
                    "NumericLessThan": {"a:a": "1.5"},
                    "NumericLessThanEquals": {"a:a": -1},
                    "NumericGreaterThan": {"a:a": 0},
                    "NumericGreaterThanEquals": {"a:a": 1e3},
                    "DateEquals": {"a:a": "2024-01-01"},
                    "DateNotEquals": {"a:a": 1700000000},
                    "DateLessThan": {"a:a": "2024-01-01T00:00Z"},
                    "DateLessThanEquals": {"a:a": "2024"},
                    "DateGreaterThan": {"a:a": "2024-01-01T00:00:00.123+02:00"},
                    "DateGreaterThanEquals": {"a:a": "2024-06"},
                    "Bool": {"a:a": True},
                    "BinaryEquals": {"a:a": "QmluYXJ5"},
                    "IpAddress": {"a:a": ["10.0.0.0/8", "2001:db8::/32"]},
                    "NotIpAddress": {"a:a": "1.2.3.4"},
                    "ArnEquals": {"a:a": "arn:aws:s3:::b"},
                    "ArnLike": {"a:a": "arn:aws:*:*:*:*"},
                    "ArnNotEquals": {"a:a": "arn:aws:s3:::b"},
                    "ArnNotLike": {"a:a": "${aws:PrincipalArn}"},
                    "Null": {"a:a": "false"},
                    "StringEqualsIfExists": {"a:a": "x"},
                    "NumericLessThanIfExists": {"a:a": 1},
                    "DateLessThanIfExists": {"a:a": 1},
                    "BoolIfExists": {"a:a": "true"},
                    "BinaryEqualsIfExists": {"a:a": "QQ=="},
                    "IpAddressIfExists": {"a:a": "::1"},
                    "ArnLikeIfExists": {"a:a": "arn:aws:s3:::*"},
                    "ForAllValues:StringLike": {"a:a": ["x*"]},
                    "ForAnyValue:StringEquals": {"a:a": "x"},
                    "ForAnyValue:StringNotEqualsIfExists": {"a:a": "x"},
                }
            )
        ),
        "identity",
    ),
    (
        "resource-policy-principals",
        doc(
            rbp(
                Principal={
                    "AWS": [
                        "123456789012",
                        "arn:aws:iam::123456789012:root",
                        ALICE,
                        "arn:aws:iam::123456789012:role/path/R",
                        "arn:aws:sts::123456789012:assumed-role/R/session",
                    ],
                    "Service": ["sagemaker.amazonaws.com", "logs.us-east-1.amazonaws.com"],
                    "Federated": "arn:aws:iam::123456789012:saml-provider/corp",
                }
            )
        ),
        "resource",
    ),
    ("resource-policy-free-sid", doc(rbp(Sid="Read data (public)")), "resource"),
    ("resource-policy-not-principal", doc(ok(NotPrincipal={"AWS": ALICE})), "resource"),
    ("trust-service", doc(trust()), "trust"),
    ("trust-many-sts", doc(trust(Action=["sts:AssumeRole", "sts:TagSession", "sts:*"])), "trust"),
    ("resource-with-spaces-and-colons", doc(ok(Resource="arn:aws:s3:::b/my file:v1")), "identity"),
    (
        "variable-default",
        doc(ok(Resource="arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*")),
        "identity",
    ),
    (
        "variables-literal-in-2008",
        {"Version": "2008-10-17", "Statement": [ok(Resource="arn:aws:s3:::b/${}")]},
        "identity",
    ),
]


@pytest.mark.parametrize(("document", "kind"), [pytest.param(d, k, id=i) for i, d, k in ACCEPTED])
def test_accepted(document: Any, kind: Any) -> None:
    policy = parse_policy(document, kind)
    assert policy.kind == kind
    assert parse_policy(json.dumps(document), kind) == policy  # text and mapping agree


def test_parsed_policy_is_frozen_with_tuples() -> None:
    policy = parse_policy(
        doc(ok(Sid="Read", Action=["s3:GetObject", "s3:ListBucket"], Resource=["*"])), "identity"
    )
    statement = policy.statements[0]
    assert isinstance(policy.statements, tuple)
    assert statement.actions == ("s3:GetObject", "s3:ListBucket")
    assert statement.resources == ("*",)
    assert (statement.index, statement.sid, statement.effect) == (0, "Read", "Allow")
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.version = "2008-10-17"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.effect = "Deny"  # type: ignore[misc]


def test_version_controls_variables() -> None:
    assert parse_policy(doc(ok()), "identity").variables_enabled
    assert not parse_policy({"Statement": [ok()]}, "identity").variables_enabled
    assert not parse_policy(
        {"Version": "2008-10-17", "Statement": [ok()]}, "identity"
    ).variables_enabled


def test_operator_names_are_stored_canonically() -> None:
    policy = parse_policy(
        doc(ok(Condition={"forallvalues:stringlikeifexists": {"AWS:TagKeys": "x*"}})), "identity"
    )
    condition = policy.statements[0].conditions[0]
    assert condition.operator == "ForAllValues:StringLikeIfExists"
    assert condition.key == "AWS:TagKeys"


def test_account_principal_is_root_arn() -> None:
    policy = parse_policy(doc(rbp(Principal={"AWS": "123456789012"})), "resource")
    principal = policy.statements[0].principal
    assert principal is not None
    assert principal.aws == frozenset({"arn:aws:iam::123456789012:root"})


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_policy(doc(ok()), "scp")  # type: ignore[arg-type]


def test_public_surface() -> None:
    assert set(iam.__all__) == {
        "Decision",
        "MalformedPolicyDocument",
        "MatchedStatement",
        "NamedPolicy",
        "Policy",
        "PolicyKind",
        "PolicySet",
        "RequestContext",
        "Statement",
        "evaluate",
        "is_trusted",
        "parse_policy",
    }
    for name in iam.__all__:
        assert hasattr(iam, name)
