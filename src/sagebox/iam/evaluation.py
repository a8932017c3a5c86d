"""AWS's policy evaluation logic for requests within one account.

Order (IAM User Guide, "Policy evaluation logic" and "Permissions boundaries"):

1. An explicit Deny in any applicable policy — identity, resource, boundary or session —
   decides ``explicitDeny``.
2. The account's root user is allowed: identity policies and boundaries cannot be
   attached to it, but a resource policy can deny it (step 1). It cannot assume roles.
3. A resource-based policy that names the requester itself — the IAM user, the role
   session, the service, or everyone (``*``) — allows on its own: "an implicit deny in
   a permissions boundary does not limit the permissions granted by a resource-based
   policy", nor does a missing identity allow or a session policy.
4. Otherwise the request needs an identity-policy Allow, or a resource-policy Allow that
   names the session's *role* ARN (such grants "are limited by an implicit deny in a
   permissions boundary or session policy"), AND an Allow in the boundary (if any) AND
   in the session policies (if any).
5. A resource policy that names only the requester's account delegates to the account's
   IAM policies: it grants nothing by itself.
6. A role trust policy (kind ``trust``) is the exception where the resource side must
   allow: trust that names the principal (or its role) suffices, trust that names the
   account also needs an identity Allow; without trust the answer is ``implicitDeny``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from sagebox.iam.matching import (
    ACCOUNT,
    DIRECT,
    ENTITY,
    NO_MATCH,
    Chain,
    ContextValue,
    Resolver,
    account_root,
)
from sagebox.iam.policy import Policy, Statement, validate_policy_kind

PrincipalType: TypeAlias = Literal["root", "user", "role-session", "service", "federated"]
DecisionName: TypeAlias = Literal["allowed", "explicitDeny", "implicitDeny"]

_PRINCIPAL_TYPES = ("root", "user", "role-session", "service", "federated")
_AWS_PRINCIPAL_TYPE = {
    "root": "Account",
    "user": "User",
    "role-session": "AssumedRole",
    "federated": "FederatedUser",
}


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asks to do what on which resource, and the request's condition keys.

    ``context`` maps condition keys (case-insensitive) to a string, a list of strings,
    a bool, a number or a datetime (``None`` values count as absent). Keys that follow
    from the principal — ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``aws:PrincipalType``, ``aws:username`` (users), ``aws:PrincipalIsAWSService``,
    ``aws:PrincipalServiceName`` (services) — are filled in unless given. Evaluation
    reads no clock: pass ``aws:CurrentTime`` / ``aws:EpochTime`` for date conditions.

    For a role session, ``role_arn`` is the role's ARN (with its path); when omitted it
    is taken from an ``aws:PrincipalArn`` role ARN in ``context``, else derived from the
    session ARN (``arn:aws:sts::A:assumed-role/R/S`` -> ``arn:aws:iam::A:role/R``),
    which is only right for roles without a path.
    """

    principal_arn: str
    principal_account: str
    principal_type: PrincipalType
    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict, hash=False)
    role_arn: str | None = None
    _keys: dict[str, ContextValue] = field(init=False, repr=False, compare=False, hash=False)
    _action: str = field(init=False, repr=False, compare=False)
    _chain: Chain = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.principal_type not in _PRINCIPAL_TYPES:
            raise ValueError(
                f"principal_type must be one of {', '.join(_PRINCIPAL_TYPES)}; "
                f"got {self.principal_type!r}"
            )
        head, colon, tail = self.action.partition(":")
        if not (head and colon and tail) or "*" in self.action or "?" in self.action:
            raise ValueError(f"action must be service:Operation; got {self.action!r}")
        if self.resource != "*" and len(self.resource.split(":", 5)) != 6:
            raise ValueError(f'resource must be an ARN or "*"; got {self.resource!r}')
        keys: dict[str, ContextValue] = {}
        for key, value in self.context.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple, set, frozenset)):
                value = tuple(value)
            keys[key.lower()] = value
        role_arn = self.role_arn
        if self.principal_type == "role-session" and role_arn is None:
            given = keys.get("aws:principalarn")
            role_arn = given if isinstance(given, str) and ":role/" in given else None
            role_arn = role_arn or _role_of_session(self.principal_arn)
        for key, value in self._derived(role_arn).items():
            keys.setdefault(key, value)
        if self.principal_type == "role-session" and role_arn is not None:
            # A session's aws:PrincipalArn is its role's ARN (AWS), whatever was passed.
            keys["aws:principalarn"] = role_arn
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_action", self.action.lower())
        object.__setattr__(self, "_chain", self._make_chain(role_arn))

    def _derived(self, role_arn: str | None) -> dict[str, ContextValue]:
        kind = self.principal_type
        keys: dict[str, ContextValue] = {
            "aws:principalisawsservice": kind == "service",
        }
        if kind == "service":
            keys["aws:principalservicename"] = self.principal_arn
            return keys
        keys["aws:principalarn"] = role_arn or self.principal_arn
        if self.principal_account:
            keys["aws:principalaccount"] = self.principal_account
        keys["aws:principaltype"] = _AWS_PRINCIPAL_TYPE[kind]
        if kind == "user":
            keys["aws:username"] = self.principal_arn.rsplit("/", 1)[-1]
        return keys

    def _make_chain(self, role_arn: str | None) -> Chain:
        kind = self.principal_type
        if kind == "service":
            return Chain(("Service", self.principal_arn), None, None)
        if kind == "federated":
            return Chain(("Federated", self.principal_arn), None, None)
        if kind == "root":
            return Chain(("AWS", self.principal_arn), None, None)
        account = ("AWS", account_root(self.principal_account)) if self.principal_account else None
        entity = ("AWS", role_arn) if kind == "role-session" and role_arn else None
        return Chain(("AWS", self.principal_arn), entity, account)

    @property
    def keys(self) -> Mapping[str, ContextValue]:
        """The effective condition keys (lower-cased names), derived keys included."""
        return self._keys


def _role_of_session(session_arn: str) -> str | None:
    head, _, tail = session_arn.partition(":assumed-role/")
    role = tail.split("/", 1)[0]
    if not tail or not role:
        return None
    return f"{head.replace(':sts:', ':iam:', 1)}:role/{role}"


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A policy with the id the audit log shows: a managed policy ARN,
    ``inline:user/alice/PolicyName``, ``bucket-policy:bucket``, ``trust:<role arn>`` ..."""

    id: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy that applies to one request, by role in the evaluation."""

    identity: tuple[NamedPolicy, ...] = ()
    resource: tuple[NamedPolicy, ...] = ()
    boundary: NamedPolicy | None = None
    session: tuple[NamedPolicy, ...] = ()

    def __post_init__(self) -> None:
        for name in ("identity", "resource", "session"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for slot in ("identity", "session"):
            for named in getattr(self, slot):
                validate_policy_kind(named.policy, ("identity", "boundary"), slot)
        if self.boundary is not None:
            validate_policy_kind(self.boundary.policy, ("boundary", "identity"), "boundary")
        for named in self.resource:
            validate_policy_kind(named.policy, ("resource", "trust"), "resource")


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that decided: which policy, its position and Sid, its effect."""

    policy_id: str
    statement_index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer. ``matched``: every matching Deny for ``explicitDeny``; the Allow
    statements the grant rests on for ``allowed`` (empty for the root user); nothing
    for ``implicitDeny``."""

    decision: DecisionName
    matched: tuple[MatchedStatement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


_IMPLICIT = Decision("implicitDeny")


class _Scan:
    """The statements of one request that apply, sorted by policy role and effect."""

    __slots__ = ("boundary", "chain", "context", "denies", "has_boundary", "resolver", "session")

    def __init__(self, context: RequestContext, has_boundary: bool) -> None:
        self.context = context
        self.chain = context._chain
        self.resolver = Resolver(context._keys)
        self.has_boundary = has_boundary
        self.denies: list[MatchedStatement] = []

    def applies(self, statement: Statement) -> bool:
        """Resource and Condition (Action was filtered by the policy's index)."""
        resolver = self.resolver
        resolver.missing = False
        static = statement._static_resources
        if static is not None and not statement.not_resource:
            if not static(self.context.resource):  # the common case, inlined
                return False
        elif not statement.matches_resource(self.context.resource, resolver):
            return False
        keys = self.context._keys
        for condition in statement.conditions:
            if not condition.holds(keys, resolver):
                return False
        # An Allow whose variable has no value is void; a Deny keeps the "no value
        # matches nothing" reading, which never makes it weaker.
        return not (resolver.missing and statement.effect == "Allow")

    def allows(self, named: NamedPolicy) -> list[MatchedStatement]:
        """Record the Denies of a principal-less policy; return its Allows."""
        allows: list[MatchedStatement] = []
        for statement in named.policy.statements_for(self.context._action):
            if self.applies(statement):
                matched = _matched(named, statement)
                if statement.effect == "Deny":
                    self.denies.append(matched)
                else:
                    allows.append(matched)
        return allows

    def resource_allows(self, named: NamedPolicy) -> list[tuple[int, MatchedStatement]]:
        """Record the Denies of a resource policy; return its Allows with their strength."""
        allows: list[tuple[int, MatchedStatement]] = []
        for statement in named.policy.statements_for(self.context._action):
            strength = self.principal_strength(statement)
            if strength == NO_MATCH or not self.applies(statement):
                continue
            if statement.effect == "Deny":
                self.denies.append(_matched(named, statement))
            else:
                allows.append((strength, _matched(named, statement)))
        return allows

    def principal_strength(self, statement: Statement) -> int:
        principals = statement.principal
        if principals is None:
            return NO_MATCH
        if not statement.not_principal:
            return principals.strength(self.chain)
        if statement.effect == "Deny":
            # Deny+NotPrincipal spares only a principal whose whole chain (account,
            # role, session) is listed, and AWS documents that it never spares a
            # principal that has a permissions boundary.
            spared = principals.lists_all(self.chain) and not self.has_boundary
            return NO_MATCH if spared else DIRECT
        return NO_MATCH if principals.lists_any(self.chain) else DIRECT


def _matched(named: NamedPolicy, statement: Statement) -> MatchedStatement:
    return MatchedStatement(named.id, statement.index, statement.sid, statement.effect)


def evaluate(context: RequestContext, policies: PolicySet) -> Decision:
    """Decide one request (see the module docstring for the order)."""
    scan = _Scan(context, policies.boundary is not None)
    identity = [m for named in policies.identity for m in scan.allows(named)]
    session = [m for named in policies.session for m in scan.allows(named)]
    boundary = [] if policies.boundary is None else scan.allows(policies.boundary)
    resource: list[tuple[int, MatchedStatement]] = []
    for named in policies.resource:
        resource += scan.resource_allows(named)
    if scan.denies:
        return Decision("explicitDeny", tuple(scan.denies))
    trust = any(named.policy.kind == "trust" for named in policies.resource)
    if context.principal_type == "root":
        return _IMPLICIT if trust else Decision("allowed")
    direct = [m for s, m in resource if s == DIRECT]
    if direct:
        return Decision("allowed", tuple(direct))
    gate = (policies.boundary is None or bool(boundary)) and (not policies.session or bool(session))
    if not gate:
        return _IMPLICIT
    limits = boundary + session
    via_role = [m for s, m in resource if s == ENTITY]
    if via_role:
        return Decision("allowed", tuple(via_role + identity + limits))
    if not identity:
        return _IMPLICIT
    if trust:
        via_account = [m for s, m in resource if s == ACCOUNT]
        if not via_account:
            return _IMPLICIT
        return Decision("allowed", tuple(via_account + identity + limits))
    return Decision("allowed", tuple(identity + limits))


def is_trusted(
    trust_policy: Policy | NamedPolicy,
    principal: str | RequestContext,
    action: str = "sts:AssumeRole",
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a role's trust policy lets ``principal`` perform ``action`` (the trust
    side only). ``principal`` is a service principal (``sagemaker.amazonaws.com``), an
    account id, or a user, role-session or root ARN — or a full RequestContext.

    When the trust policy names the account rather than the principal, AWS also requires
    the principal's identity policies to allow ``action``: use :func:`evaluate` with the
    trust policy in ``PolicySet.resource`` for the whole decision.
    """
    named = (
        trust_policy
        if isinstance(trust_policy, NamedPolicy)
        else NamedPolicy("trust", trust_policy)
    )
    if named.policy.kind != "trust":
        raise ValueError(f"is_trusted needs a trust policy; got a {named.policy.kind} policy")
    request = (
        principal
        if isinstance(principal, RequestContext)
        else _principal_context(principal, action, context or {})
    )
    scan = _Scan(request, has_boundary=False)
    allows = scan.resource_allows(named)
    return not scan.denies and any(s >= ACCOUNT for s, _ in allows)


def _principal_context(principal: str, action: str, keys: Mapping[str, Any]) -> RequestContext:
    kind: PrincipalType
    if principal.isdigit() and len(principal) == 12:
        principal, kind, account = account_root(principal), "root", principal
    elif principal.startswith("arn:"):
        account = principal.split(":", 5)[4]
        kind = (
            "root"
            if principal.endswith(":root")
            else "role-session"
            if ":assumed-role/" in principal
            else "user"
        )
    else:
        kind, account = "service", ""
    return RequestContext(principal, account, kind, action, "*", dict(keys))
