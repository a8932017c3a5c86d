"""The IAM policy simulator: SimulateCustomPolicy and SimulatePrincipalPolicy.

Each action is decided on each resource by the engine that authorizes real requests, with
policies given as text or gathered as the authorizer gathers them. As the current IAM API
does, one ``EvaluationResult`` per action carries the most restrictive decision over the
resources (``EvalResourceName`` is the ARN when there is one, else ``*``), with
``ResourceSpecificResults`` when ARNs are given. A matched statement spans from its ``{``
to just past its ``}``, lines and columns from 1. As on AWS, no resource policy is fetched
and no clock is read; cross-account simulation and SCPs are refused (a home is one account).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagebox import iam
from sagebox.control.context import Context
from sagebox.errors import NoSuchEntity, ResourceNotFound, ValidationError
from sagebox.iam.conditions import to_address, to_bool, to_bytes, to_datetime, to_number
from sagebox.iam.evaluation import PrincipalType
from sagebox.iam.matching import Resolver

_SEVERITY = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_IAM_ARN = re.compile(r"arn:aws:iam::(\d{12}):(user|group|role)/(?:[^/]+/)*([^/]+)")
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9_-]+")
_VARIABLE = re.compile(r"\$\{([^},]*)\}")  # a variable with no default: its key is needed
_DECODER = json.JSONDecoder()
_SESSION = "sagebox-simulation"
# Keys the engine derives from its principal; when no caller is simulated they are absent.
_CALLER_KEYS = ("aws:principalarn", "aws:principaltype", "aws:username")
_VALUE_TYPES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "string": (lambda v: v, "text"),
    "numeric": (to_number, "a number such as 10 or 2.5"),
    "boolean": (to_bool, "true or false"),
    "date": (to_datetime, "an ISO 8601 date such as 2024-01-31T12:00:00Z, or epoch seconds"),
    "ip": (lambda v: v if to_address(v) else None, "an IP address such as 203.0.113.7"),
    "binary": (to_bytes, "base64 text such as QmluYXJ5"),
}


@dataclass(frozen=True)
class _Source:
    """A policy as MatchedStatements name it, and its JSON text."""

    policy_id: str
    policy_type: str  # user | group | role (inline) | aws-managed | user-managed | resource | none
    text: str


@dataclass(frozen=True)
class _Caller:
    """Who the simulated requests come from, as the engine sees them."""

    arn: str
    account: str
    kind: PrincipalType
    role_arn: str | None = None
    known: bool = True  # False: nobody is simulated (no CallerArn, or a group)


@dataclass
class _Simulation:
    """Everything one simulation decides with; ``sources`` by NamedPolicy id."""

    caller: _Caller
    identity: list[iam.NamedPolicy] = field(default_factory=list)
    boundary: iam.NamedPolicy | None = None
    resource: iam.NamedPolicy | None = None
    sources: dict[str, _Source] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, source: _Source, kind: iam.PolicyKind) -> iam.NamedPolicy:
        """Parse a policy given as text; a malformed one is refused, saying which it is."""
        try:
            policy = iam.parse_policy(source.text, kind)
        except iam.MalformedPolicyDocument as error:
            raise iam.MalformedPolicyDocument(f"{source.policy_id}: {error.message}") from None
        self.sources[source.policy_id] = source
        return iam.NamedPolicy(source.policy_id, policy)


# ---- operations -------------------------------------------------------------------------
def simulate_custom_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Decide ActionNames on ResourceArns with policies given as text."""
    if request.get("OrderedOrganizationPolicyInputList"):
        raise ValidationError(
            "OrderedOrganizationPolicyInputList (SCPs) cannot be simulated: a sagebox home is "
            "one account outside any AWS Organization. Leave it out."
        )
    account, caller = ctx.home.account_id, request.get("CallerArn")
    nobody = _Caller(f"arn:aws:iam::{account}:user/{_SESSION}", account, "user", known=False)
    sim = _Simulation(_caller(caller)[0] if caller else nobody)
    _add_inputs(sim, request)
    return _run(sim, request)


def simulate_principal_policy(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Decide ActionNames on ResourceArns with the policies of a user, group or role."""
    from sagebox.control.authorizer import PolicyAuthorizer
    from sagebox.control.iam_entities import KINDS, get_entity

    arn = request["PolicySourceArn"]
    source, noun, name = _caller(arn, "PolicySourceArn")
    record = get_entity(ctx, KINDS[noun], name)
    if record.arn != arn:
        raise NoSuchEntity(
            f"PolicySourceArn {arn} names no {noun}: the {noun} {name} is {record.arn}. "
            f"Check the account and path, or get the {noun} to see its ARN."
        )
    sim = _Simulation(_caller(request["CallerArn"])[0] if request.get("CallerArn") else source)
    rules = list(request.get("PolicyExclusionList", []))
    identity, boundary = PolicyAuthorizer(ctx.home).entity_policies(noun, name)
    for named in identity:
        attached = _attached(ctx, named.id)
        if not _excluded(rules, named.id, attached.policy_type):
            sim.identity.append(named)
            sim.sources[named.id] = attached
    if boundary is not None and not _excluded(rules, boundary.id, "permission-boundary"):
        sim.boundary = boundary
        sim.sources[boundary.id] = _attached(ctx, boundary.id)
    _add_inputs(sim, request)
    return _run(sim, request)


# ---- inputs -----------------------------------------------------------------------------
def _add_inputs(sim: _Simulation, request: Mapping[str, Any]) -> None:
    for i, text in enumerate(request.get("PolicyInputList", []), 1):
        sim.identity.append(sim.add(_Source(f"PolicyInputList.{i}", "none", text), "identity"))
    boundaries = list(request.get("PermissionsBoundaryPolicyInputList", []))
    if len(boundaries) > 1:
        raise ValidationError(
            f"PermissionsBoundaryPolicyInputList takes one policy (an entity has one "
            f"permissions boundary); got {len(boundaries)}. Pass only the boundary to simulate."
        )
    if boundaries:  # it replaces the entity's own boundary, as AWS documents
        where = "PermissionsBoundaryPolicyInputList.1"
        sim.boundary = sim.add(_Source(where, "none", boundaries[0]), "boundary")
    if request.get("ResourcePolicy"):
        if not sim.caller.known:
            raise ValidationError(
                "CallerArn is required with a ResourcePolicy, so that its Principal has a "
                f"caller to match; the simulated caller is {sim.caller.arn}. Pass the ARN of "
                "an IAM user or role as CallerArn."
            )
        source = _Source("ResourcePolicy", "resource", request["ResourcePolicy"])
        sim.resource = sim.add(source, "resource")
    owner = request.get("ResourceOwner")
    if owner and re.sub(r"^arn:aws:iam::(\d{12}):root$", r"\1", owner) != sim.caller.account:
        raise ValidationError(
            f"ResourceOwner {owner} is not the caller's account {sim.caller.account}: sagebox "
            "simulates requests within one account. Leave ResourceOwner out, or pass "
            f"arn:aws:iam::{sim.caller.account}:root."
        )
    sim.context = _context_entries(request.get("ContextEntries", []))


def _caller(arn: str, member: str = "CallerArn") -> tuple[_Caller, str, str]:
    """The caller an IAM user, group or role ARN simulates, and the entity's kind and name."""
    found = _IAM_ARN.fullmatch(arn)
    if found is None:
        raise ValidationError(
            f"{member} must be the ARN of an IAM user, group or role, such as "
            f"arn:aws:iam::123456789012:user/alice; got {arn!r}. Assumed roles, federated "
            "users and service principals cannot be simulated."
        )
    account, noun, name = found.groups()
    if noun == "role":  # a role acts through a session of itself
        session = f"arn:aws:sts::{account}:assumed-role/{name}/{_SESSION}"
        return _Caller(session, account, "role-session", role_arn=arn), noun, name
    return _Caller(arn, account, "user", known=noun == "user"), noun, name  # a group: nobody


def _attached(ctx: Context, policy_id: str) -> _Source:
    """A gathered policy by its id (``inline:<noun>/<entity>/<name>`` or an ARN)."""
    from sagebox.control.iam_entities import INLINE
    from sagebox.control.iam_policies import POLICY_KIND, policy_document

    if policy_id.startswith("inline:"):
        noun, entity, name = policy_id.removeprefix("inline:").split("/", 2)
        document = ctx.home.metadata.get(f"iam-{noun}", entity).document
        return _Source(name, noun, str(document[INLINE].get(name, "")))
    name = policy_id.rsplit("/", 1)[-1]
    kind = "aws-managed" if policy_id.split(":")[4] == "aws" else "user-managed"
    try:
        return _Source(name, kind, policy_document(ctx.home.metadata.get(POLICY_KIND, name)))
    except ResourceNotFound:  # a boundary whose policy was deleted has no statements
        return _Source(name, kind, "")


def _excluded(rules: Iterable[Mapping[str, Any]], policy_id: str, kind: str) -> bool:
    """Whether PolicyExclusionList names a gathered policy: every field of an identifier
    must match (``*`` and ``?`` are wildcards in PolicyArn and AttachmentName)."""
    inline = (
        policy_id.removeprefix("inline:").split("/", 2) if kind in ("user", "group", "role") else []
    )
    noun, entity, name = inline or ("", "", "")
    kind = "inline" if inline else kind
    for i, rule in enumerate(rules, 1):
        wanted = rule.get("InlinePolicyIdentifier") or {}
        if not (rule.get("PolicyType") or rule.get("PolicyArn") or wanted):
            raise ValidationError(
                f"PolicyExclusionList.{i} identifies no policy; give PolicyType, PolicyArn "
                "or InlinePolicyIdentifier."
            )
        if rule.get("PolicyType", kind) != kind or not _glob(rule.get("PolicyArn"), policy_id):
            continue
        if (rule.get("PolicyArn") and inline) or (wanted and not inline):
            continue
        if (
            wanted.get("PolicyName", name) == name
            and str(wanted.get("AttachmentType", noun)).lower() == noun
            and _glob(wanted.get("AttachmentName"), entity)
        ):
            return True
    return False


def _glob(pattern: str | None, text: str) -> bool:
    """Whether ``text`` matches the IAM wildcard ``pattern``; no pattern matches anything."""
    regex = re.escape(pattern or "*").replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, text) is not None


def _context_entries(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """ContextEntries as the engine's condition values (lists for the ``...List`` types)."""
    out: dict[str, Any] = {}
    for i, entry in enumerate(entries, 1):
        name = entry.get("ContextKeyName")
        values = list(entry.get("ContextKeyValues", []))
        kind = entry.get("ContextKeyType") or ("string" if len(values) == 1 else "stringList")
        if not name or name.lower() in {k.lower() for k in out}:
            raise ValidationError(
                f"ContextEntries.{i} names {'no key' if not name else f'{name} again'}: give "
                "each key (e.g. aws:SourceIp) once, with a ...List type for several values."
            )
        if not kind.endswith("List") and len(values) != 1:
            raise ValidationError(
                f"Context key {name} of type {kind} takes exactly one value; got {len(values)}. "
                f"Pass one value, or use ContextKeyType {kind}List."
            )
        convert, what = _VALUE_TYPES[kind.removesuffix("List")]
        converted = [convert(value) for value in values]
        if None in converted:
            raise ValidationError(
                f"The value {values[converted.index(None)]!r} of context key {name} is not of "
                f"type {kind}: write {what}, or change ContextKeyType."
            )
        out[name] = converted if kind.endswith("List") else converted[0]
    return out


# ---- simulating -------------------------------------------------------------------------
def _run(sim: _Simulation, request: Mapping[str, Any]) -> dict[str, Any]:
    actions = list(request["ActionNames"])
    resources = list(request.get("ResourceArns") or ["*"])
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise ValidationError(
                f"ActionNames must be service:Operation without wildcards, such as "
                f"s3:GetObject; got {action!r}. List each action to simulate."
            )
    for resource in resources:
        if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
            raise ValidationError(
                f"ResourceArns takes ARNs (arn:aws:s3:::bucket/key) or '*'; got {resource!r}."
            )
    marker = request.get("Marker")
    if marker is not None and not (marker.isdigit() and 0 < int(marker) < len(actions)):
        raise ValidationError(
            f"Marker {marker!r} is not one this simulation returned. Pass the Marker of the "
            "previous response with the same ActionNames, or leave it out to start over."
        )
    start = int(marker or 0)
    end = start + int(request.get("MaxItems") or 100)
    return {
        "EvaluationResults": [_result(sim, a, resources) for a in actions[start:end]],
        "IsTruncated": end < len(actions),
        "Marker": str(end) if end < len(actions) else None,
    }


def _result(sim: _Simulation, action: str, resources: list[str]) -> dict[str, Any]:
    specific = [_decide(sim, action, resource) for resource in resources]
    decision = max((r["EvalResourceDecision"] for r in specific), key=_SEVERITY.__getitem__)
    matched = [
        m for r in specific if r["EvalResourceDecision"] == decision for m in r["MatchedStatements"]
    ]
    missing = {key.lower(): key for r in specific for key in r["MissingContextValues"]}
    result: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resources[0] if len(resources) == 1 else "*",
        "EvalDecision": decision,
        "MatchedStatements": [m for i, m in enumerate(matched) if m not in matched[:i]],
        "MissingContextValues": sorted(missing.values(), key=str.lower),
    }
    if sim.boundary is not None:
        details = [r["PermissionsBoundaryDecisionDetail"] for r in specific]
        allowed = all(d["AllowedByPermissionsBoundary"] for d in details)
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
    if any(r != "*" for r in resources):
        result["EvalDecisionDetails"] = {}  # within one account: present and empty (AWS)
        result["ResourceSpecificResults"] = specific
    return result


def _decide(sim: _Simulation, action: str, resource: str) -> dict[str, Any]:
    """The ResourceSpecificResult of one action on one resource."""
    c = sim.caller
    request = iam.RequestContext(
        c.arn, c.account, c.kind, action, resource, sim.context, c.role_arn
    )
    if not c.known:  # the engine always derives keys naming its caller: drop them here
        for key in set(_CALLER_KEYS) - {key.lower() for key in sim.context}:
            request._keys.pop(key, None)
    resources = () if sim.resource is None else (sim.resource,)
    decided = iam.evaluate(request, iam.PolicySet(tuple(sim.identity), resources, sim.boundary))
    result: dict[str, Any] = {
        "EvalResourceName": resource,
        "EvalResourceDecision": decided.decision,
        "MatchedStatements": [_statement(sim, m) for m in decided.matched],
        "MissingContextValues": _missing(sim, request),
        "EvalDecisionDetails": {},
    }
    if sim.boundary is not None:
        allowed = iam.evaluate(request, iam.PolicySet((sim.boundary,))).allowed
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
    return result


def _missing(sim: _Simulation, request: iam.RequestContext) -> list[str]:
    """The condition keys and variables of the applicable statements the request lacks."""
    resolver = Resolver(request.keys)
    wanted: dict[str, str] = {}
    for named in [*sim.identity, *filter(None, (sim.boundary, sim.resource))]:
        policy = named.policy
        for statement in policy.statements_for(request.action.lower()):
            resolver.missing = False
            if not statement.matches_resource(request.resource, resolver) and not resolver.missing:
                continue
            names = [condition.key for condition in statement.conditions]
            if policy.variables_enabled:
                texts = [*statement.resources]
                texts += [str(v) for condition in statement.conditions for v in condition.values]
                found = (m.group(1).strip() for text in texts for m in _VARIABLE.finditer(text))
                names += [name for name in found if ":" in name]
            for name in names:
                if name.lower() not in request.keys:
                    wanted.setdefault(name.lower(), name)
    return sorted(wanted.values(), key=str.lower)


def _statement(sim: _Simulation, matched: iam.MatchedStatement) -> dict[str, Any]:
    source = sim.sources[matched.policy_id]
    spans = _statement_spans(source.text)
    span = spans[matched.statement_index] if matched.statement_index < len(spans) else None
    return {
        "SourcePolicyId": source.policy_id,
        "SourcePolicyType": source.policy_type,
        "StartPosition": span and _position(source.text, span[0]),
        "EndPosition": span and _position(source.text, span[1]),
    }


# ---- statement positions ----------------------------------------------------------------
def _statement_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of each statement's ``{`` and just past its ``}`` in a policy's JSON text
    (none for text that is not a policy, such as a deleted boundary's)."""
    try:
        i = _skip(text, 0) + 1  # past the policy's "{"
        while True:
            key, i = _DECODER.raw_decode(text, _skip(text, i))
            i = _skip(text, _skip(text, i) + 1)  # past the colon
            if key == "Statement":
                break
            i = _skip(text, _DECODER.raw_decode(text, i)[1]) + 1  # past the comma
        if text[i] != "[":
            return [(i, _DECODER.raw_decode(text, i)[1])]
        spans = []
        i = _skip(text, i + 1)
        while text[i] != "]":
            end = _DECODER.raw_decode(text, i)[1]
            spans.append((i, end))
            i = _skip(text, end)
            i = _skip(text, i + 1) if text[i] == "," else i
        return spans
    except (ValueError, IndexError):
        return []


def _skip(text: str, i: int) -> int:
    return len(text) - len(text[i:].lstrip(" \t\n\r"))


def _position(text: str, offset: int) -> dict[str, int]:
    return {"Line": text.count("\n", 0, offset) + 1, "Column": offset - text.rfind("\n", 0, offset)}
