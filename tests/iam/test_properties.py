"""Property tests: policy edits that can only narrow access never widen it.

Small random policy sets over a small universe of actions, resources, principals and
conditions; every policy role (identity, resource, boundary, session) and every
requester kind (user, role session, root) is exercised.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sagebox.iam import Decision, NamedPolicy, PolicySet, RequestContext, evaluate, parse_policy

ACCT = "123456789012"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/Exec"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Exec/job"
ROOT = f"arn:aws:iam::{ACCT}:root"
OBJ = "arn:aws:s3:::ml/train.csv"
JOB = f"arn:aws:sagemaker:us-east-1:{ACCT}:training-job/j"

ACTIONS = ["s3:GetObject", "s3:PutObject", "sagemaker:CreateTrainingJob"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "*", "s3:Get*", "sagemaker:Create*"]
RESOURCES = [OBJ, "arn:aws:s3:::other/x", JOB, "*"]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::ml/*",
    OBJ,
    "arn:aws:s3:::other/*",
    f"arn:aws:sagemaker:*:{ACCT}:*",
    "arn:aws:s3:::${aws:username}/*",
]
CONDITIONS: list[dict[str, Any] | None] = [
    None,
    {"StringEquals": {"aws:username": "alice"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": "risk"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["Pro*"]}},
    {"StringEqualsIfExists": {"aws:PrincipalTag/team": "ml"}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:*"}},
]
PRINCIPALS: list[Any] = [
    ("Principal", "*"),
    ("Principal", {"AWS": ALICE}),
    ("Principal", {"AWS": ACCT}),
    ("Principal", {"AWS": ROLE}),
    ("Principal", {"AWS": SESSION}),
    ("NotPrincipal", {"AWS": [ALICE, ROOT]}),
    ("NotPrincipal", {"AWS": [SESSION, ROLE, ROOT]}),
]
WHO = {
    "alice": (ALICE, "user"),
    "session": (SESSION, "role-session"),
    "root": (ROOT, "root"),
}


@st.composite
def statements(draw: st.DrawFn, *, resource_policy: bool, effect: str | None = None) -> dict:
    # Biased toward unconditioned Allows so that "allowed" outcomes are common.
    statement: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny"]))
    }
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2))
    statement["NotAction" if draw(st.booleans()) else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2))
    statement["NotResource" if draw(st.integers(0, 3)) == 0 else "Resource"] = resources
    condition = draw(st.none() | st.sampled_from(CONDITIONS))
    if condition is not None:
        statement["Condition"] = condition
    if resource_policy:
        element, principal = draw(st.sampled_from(PRINCIPALS))
        statement[element] = principal
    return statement


def policies(*, resource_policy: bool = False) -> st.SearchStrategy[dict]:
    return st.builds(
        lambda items: {"Version": "2012-10-17", "Statement": items},
        st.lists(statements(resource_policy=resource_policy), min_size=1, max_size=3),
    )


policy_sets = st.fixed_dictionaries(
    {
        "identity": st.lists(policies(), max_size=2),
        "resource": st.lists(policies(resource_policy=True), max_size=1),
        "boundary": st.none() | policies(),
        "session": st.lists(policies(), max_size=1),
    }
)

requests = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["alice", "alice", "session", "session", "root"]),
        "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from([OBJ, OBJ, *RESOURCES]),
        "keys": st.fixed_dictionaries(
            {},
            optional={
                "aws:SecureTransport": st.booleans(),
                "aws:SourceIp": st.sampled_from(["10.1.2.3", "203.0.113.9"]),
                "aws:PrincipalTag/team": st.sampled_from(["risk", "ml"]),
                "aws:TagKeys": st.lists(st.sampled_from(["Project", "Cost"]), max_size=2),
            },
        ),
    }
)


def decide(docs: dict[str, Any], request: dict[str, Any]) -> Decision:
    def named(role: str, items: list[dict], kind: Any) -> tuple[NamedPolicy, ...]:
        return tuple(NamedPolicy(f"{role}{i}", parse_policy(d, kind)) for i, d in enumerate(items))

    boundary = docs["boundary"]
    policy_set = PolicySet(
        identity=named("identity", docs["identity"], "identity"),
        resource=named("resource", docs["resource"], "resource"),
        boundary=None if boundary is None else NamedPolicy("b", parse_policy(boundary, "boundary")),
        session=named("session", docs["session"], "identity"),
    )
    arn, kind = WHO[request["who"]]
    context = RequestContext(
        principal_arn=arn,
        principal_account=ACCT,
        principal_type=kind,  # type: ignore[arg-type]
        action=request["action"],
        resource=request["resource"],
        context=request["keys"],
        role_arn=ROLE if kind == "role-session" else None,
    )
    return evaluate(context, policy_set)


def slots(docs: dict[str, Any]) -> list[dict]:
    """Every policy document in the set (the boundary included)."""
    found = [*docs["identity"], *docs["resource"], *docs["session"]]
    return found if docs["boundary"] is None else [*found, docs["boundary"]]


def is_resource_policy(docs: dict[str, Any], policy: dict) -> bool:
    return any(policy is p for p in docs["resource"])


SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(docs=policy_sets, request=requests, data=st.data())
def test_adding_a_deny_never_widens(docs: dict, request: dict, data: st.DataObject) -> None:
    before = decide(docs, request)
    after_docs = copy.deepcopy(docs)
    targets = slots(after_docs)
    if not targets:
        after_docs["identity"].append({"Version": "2012-10-17", "Statement": []})
        targets = slots(after_docs)
    target = data.draw(st.sampled_from(targets))
    deny = data.draw(
        statements(resource_policy=is_resource_policy(after_docs, target), effect="Deny")
    )
    target["Statement"].append(deny)
    after = decide(after_docs, request)
    assert not (after.allowed and not before.allowed)
    if before.decision == "explicitDeny":
        assert after.decision == "explicitDeny"


@SETTINGS
@given(docs=policy_sets, request=requests, data=st.data())
def test_removing_an_allow_never_widens(docs: dict, request: dict, data: st.DataObject) -> None:
    before = decide(docs, request)
    after_docs = copy.deepcopy(docs)
    allows = [
        (policy, i)
        for policy in slots(after_docs)
        for i, statement in enumerate(policy["Statement"])
        if statement["Effect"] == "Allow"
    ]
    if not allows:
        return
    policy, index = data.draw(st.sampled_from(allows))
    del policy["Statement"][index]
    after = decide(after_docs, request)
    assert not (after.allowed and not before.allowed)
    if before.decision == "explicitDeny":
        assert after.decision == "explicitDeny"


@SETTINGS
@given(docs=policy_sets, request=requests, data=st.data())
def test_adding_an_allow_never_lifts_an_explicit_deny(
    docs: dict, request: dict, data: st.DataObject
) -> None:
    before = decide(docs, request)
    if before.decision != "explicitDeny":
        return
    after_docs = copy.deepcopy(docs)
    role = data.draw(st.sampled_from(["identity", "resource", "session"]))
    allow = data.draw(statements(resource_policy=role == "resource", effect="Allow"))
    after_docs[role].append({"Version": "2012-10-17", "Statement": [allow]})
    if after_docs["boundary"] is not None:
        after_docs["boundary"]["Statement"].append(
            data.draw(statements(resource_policy=False, effect="Allow"))
        )
    after = decide(after_docs, request)
    assert after.decision == "explicitDeny"
    assert set(before.matched) <= set(after.matched)


@SETTINGS
@given(docs=policy_sets, request=requests)
def test_decisions_are_consistent(docs: dict, request: dict) -> None:
    decision = decide(docs, request)
    assert decide(docs, request) == decision  # caches never change an answer
    effects = {m.effect for m in decision.matched}
    if decision.decision == "explicitDeny":
        assert effects == {"Deny"}
    elif decision.decision == "implicitDeny":
        assert decision.matched == ()
    else:
        assert effects <= {"Allow"}
