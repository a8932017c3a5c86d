"""Parsing and strict validation of IAM JSON policy documents.

A policy is validated when it is stored, so evaluation never meets a malformed one:
unknown elements, unknown condition operators, malformed ARNs and principals are
rejected with :class:`MalformedPolicyDocument`, never ignored. The parsed policy is
frozen, with every wildcard pattern compiled once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, TypeAlias

from sagebox.errors import ValidationError
from sagebox.iam.conditions import (
    Condition,
    ConditionValueError,
    PolicyScalar,
    build_condition,
    resolve_operator,
)
from sagebox.iam.matching import (
    ANYTHING,
    Matcher,
    PatternError,
    Principals,
    Resolver,
    Template,
    Token,
    account_root,
    action_matcher,
    arn_matcher,
    glob_matcher,
    match_set,
    tokenize,
)

PolicyKind: TypeAlias = Literal["identity", "resource", "trust", "boundary"]
Effect: TypeAlias = Literal["Allow", "Deny"]

VARIABLES_VERSION = "2012-10-17"
VERSIONS = (VARIABLES_VERSION, "2008-10-17")
_KINDS = ("identity", "resource", "trust", "boundary")
_TOP_ELEMENTS = ("Version", "Id", "Statement")
_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_ACTION = re.compile(r"[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+")
_SID = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT = re.compile(r"\d{12}")
_AWS_PRINCIPAL = re.compile(
    r"arn:aws[a-z-]*:(iam::\d{12}:(root|user/.+|role/.+|federated-user/.+)"
    r"|sts::\d{12}:(assumed-role/[^/]+/.+|federated-user/.+))"
)
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")


class MalformedPolicyDocument(ValidationError):
    """The policy document is not a valid IAM policy for where it is used."""

    code = "MalformedPolicyDocument"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, with its patterns compiled. ``index`` is its position (from 0)."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    principal: Principals | None
    not_principal: bool
    conditions: tuple[Condition, ...]
    _actions: Matcher = field(repr=False, compare=False)
    _resources: tuple[Template, ...] = field(repr=False, compare=False)
    _static_resources: Matcher | None = field(repr=False, compare=False)

    def matches_action(self, action: str) -> bool:
        """``action`` must already be lower-cased (action names are case-insensitive)."""
        return self._actions(action) != self.not_action

    def matches_resource(self, resource: str, resolver: Resolver) -> bool:
        """Resource/NotResource test. A statement without either (a trust policy's)
        covers the resource it is attached to.

        A request on no particular resource (``"*"``) is outside every NotResource list;
        we then let a Deny apply and an Allow not (AWS documents such actions escaping a
        Deny+NotResource; failing closed in both directions is deliberate).
        """
        if not self._resources:
            return True
        if self._static_resources is not None:
            hit = self._static_resources(resource)
        else:
            hit = False
            for template in self._resources:
                matcher = template.resolve(resolver)
                if matcher is not None and matcher(resource):
                    hit = True
                    break
        if not self.not_resource:
            return hit
        if hit:
            return False
        return resource != "*" or self.effect == "Deny"


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy document. Policy variables are substituted only when
    ``Version`` is ``2012-10-17``; otherwise ``${...}`` is literal text (AWS)."""

    kind: PolicyKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    @property
    def variables_enabled(self) -> bool:
        return self.version == VARIABLES_VERSION

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers ``action`` (lower-cased), cached
        per action: authorization asks the same few actions over and over."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for s in self.statements if s.matches_action(action))
            if len(self._by_action) >= 2048:
                self._by_action.clear()
            self._by_action[action] = found
        return found


def parse_policy(document: str | Mapping[str, Any], kind: PolicyKind) -> Policy:
    """Parse and validate a policy for its use: ``identity`` (user, group, role or
    session policy), ``boundary`` (a permissions boundary), ``resource`` (bucket, key
    ... policy) or ``trust`` (a role's trust policy)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    data = _load(document) if isinstance(document, str) else document
    return _Parser(kind).policy(data)


def _fail(message: str) -> NoReturn:
    raise MalformedPolicyDocument(message)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _load(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey as dup:
        _fail(
            f"Syntax errors in policy. The element {dup.args[0]!r} appears twice in one "
            "object; keep only one (use a list to give several values)."
        )
    except json.JSONDecodeError as error:
        _fail(
            f"Syntax errors in policy. {error.msg} at line {error.lineno} column "
            f"{error.colno}. The policy must be a JSON object such as "
            '{"Version": "2012-10-17", "Statement": [...]}.'
        )
    except ValueError as error:
        _fail(f"Syntax errors in policy. {error}.")


class _Parser:
    """Validates one document for one policy kind; ``where`` names the statement."""

    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self.variables = False
        self.iam = kind != "resource"  # IAM's own documents: alphanumeric Sids

    def policy(self, data: Any) -> Policy:
        if not isinstance(data, Mapping):
            _fail(
                "Syntax errors in policy. The policy must be a JSON object with Version "
                f"and Statement; got {type(data).__name__}."
            )
        for name in data:
            if name not in _TOP_ELEMENTS:
                _fail(
                    f"Syntax errors in policy. Unknown element {name!r} at the top level; "
                    f"a policy has only {', '.join(_TOP_ELEMENTS)} (names are case-sensitive)."
                )
        version = data.get("Version")
        if version is not None and version not in VERSIONS:
            _fail(
                f"Syntax errors in policy. Version {version!r} is not a policy language "
                'version; use "2012-10-17" (or the legacy "2008-10-17").'
            )
        self.variables = version == VARIABLES_VERSION
        policy_id = data.get("Id")
        if policy_id is not None and not isinstance(policy_id, str):
            _fail(f"Syntax errors in policy. Id must be a string; got {policy_id!r}.")
        if "Statement" not in data:
            _fail('Syntax errors in policy. The policy has no Statement; add "Statement": [...].')
        raw = data["Statement"]
        items = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(items, list):
            _fail(
                "Syntax errors in policy. Statement must be an object or a list of objects; "
                f"got {type(raw).__name__}."
            )
        statements = tuple(self.statement(i, item) for i, item in enumerate(items))
        sids = [s.sid for s in statements if s.sid]
        duplicated = sorted({sid for sid in sids if sids.count(sid) > 1})
        if duplicated:
            _fail(
                "Statement IDs (SID) in a single policy must be unique. Repeated: "
                f"{', '.join(duplicated)}; rename or merge those statements."
            )
        return Policy(self.kind, version, policy_id, statements)

    def statement(self, index: int, raw: Any) -> Statement:
        where = f"Statement {index}"
        if not isinstance(raw, Mapping):
            _fail(f"Syntax errors in policy. {where} must be an object; got {raw!r}.")
        sid = raw.get("Sid")
        if sid is not None:
            if not isinstance(sid, str):
                _fail(f"Syntax errors in policy. Sid of {where} must be a string; got {sid!r}.")
            if self.iam and not _SID.fullmatch(sid):
                _fail(
                    f"Statement IDs (SID) must be alpha-numeric. Got {sid!r} in {where}; "
                    "check that it satisfies the regular expression [0-9A-Za-z]*."
                )
            where = f"Statement {index} (Sid {sid!r})"
        for name in raw:
            if name not in _ELEMENTS:
                _fail(
                    f"Syntax errors in policy. Unknown element {name!r} in {where}; a "
                    f"statement has only {', '.join(_ELEMENTS)} (names are case-sensitive)."
                )
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            _fail(
                f'Syntax errors in policy. Effect must be "Allow" or "Deny" in {where}; '
                f"got {effect!r}."
            )
        actions, not_action = self.actions(raw, where)
        resources, not_resource = self.resources(raw, where)
        principal, not_principal = self.principal(raw, where)
        conditions = self.conditions(raw.get("Condition"), where)
        templates = tuple(self.resource_template(r) for r in resources)
        return Statement(
            index=index,
            sid=sid,
            effect=effect,
            actions=actions,
            not_action=not_action,
            resources=resources,
            not_resource=not_resource,
            principal=principal,
            not_principal=not_principal,
            conditions=conditions,
            _actions=action_matcher(actions),
            _resources=templates,
            _static_resources=match_set([t.tokens for t in templates], "arn")
            if templates
            else ANYTHING,
        )

    # ---- Action / NotAction --------------------------------------------------------
    def actions(self, raw: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], bool]:
        name = self.exactly_one(raw, "Action", "NotAction", where)
        if name is None:
            _fail(
                f"Policy statement must contain actions. {where} has neither Action nor "
                'NotAction; add for example "Action": "s3:GetObject".'
            )
        values = self.strings(raw[name], name, where)
        for action in values:
            if action != "*" and not _ACTION.fullmatch(action):
                _fail(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, "
                    f"etc. Got {action!r} in {name} of {where}; write service:Operation, "
                    'for example "sagemaker:CreateTrainingJob" or "s3:Get*".'
                )
        if self.kind == "trust" and (
            name == "NotAction" or any(not a.lower().startswith("sts:") for a in values)
        ):
            _fail(
                "AssumeRole policy may only specify STS AssumeRole actions. Got "
                f'{name} {list(values)} in {where}; use for example "Action": '
                '"sts:AssumeRole".'
            )
        return values, name == "NotAction"

    # ---- Resource / NotResource ----------------------------------------------------
    def resources(self, raw: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], bool]:
        name = self.exactly_one(raw, "Resource", "NotResource", where)
        if self.kind == "trust":
            if name is not None:
                _fail(
                    f"Has prohibited field {name}. A trust policy applies to its role; "
                    f"remove {name} from {where}."
                )
            return (), False
        if name is None:
            _fail(
                f"Policy statement must contain resources. {where} has neither Resource "
                'nor NotResource; add for example "Resource": "arn:aws:s3:::bucket/*" '
                'or "Resource": "*".'
            )
        values = self.strings(raw[name], name, where)
        for resource in values:
            if resource != "*" and not _is_arn_pattern(resource):
                _fail(
                    f'Resource {resource} must be in ARN format or "*". Found in {name} of '
                    f"{where}; write arn:partition:service:region:account:resource, for "
                    'example "arn:aws:s3:::my-bucket/*".'
                )
        return values, name == "NotResource"

    def resource_template(self, resource: str) -> Template:
        if resource == "*":
            return Template.build(tokenize("*", wildcards=True, variables=False), glob_matcher)
        # Variables are substituted only in the resource part, after the fifth colon.
        head, _, tail = _split_resource(resource)
        tokens: tuple[Token, ...] = tokenize(head, wildcards=True, variables=False)
        try:
            tail_tokens = tokenize(tail, wildcards=True, variables=self.variables)
        except PatternError as error:
            _fail(f"Syntax errors in policy. {error}")
        if tokens and tail_tokens and isinstance(tokens[-1], str):
            if isinstance(tail_tokens[0], str):
                tokens = (*tokens[:-1], tokens[-1] + tail_tokens[0], *tail_tokens[1:])
            else:
                tokens = tokens + tail_tokens
        else:
            tokens = tokens + tail_tokens
        return Template.build(tokens, arn_matcher)

    # ---- Principal / NotPrincipal --------------------------------------------------
    def principal(self, raw: Mapping[str, Any], where: str) -> tuple[Principals | None, bool]:
        name = self.exactly_one(raw, "Principal", "NotPrincipal", where)
        if self.kind in ("identity", "boundary"):
            if name is not None:
                _fail(
                    "Policy document should not specify a principal. An identity-based "
                    f"policy applies to whoever it is attached to; remove {name} from {where}."
                )
            return None, False
        if name is None:
            _fail(
                f"Missing required field Principal in {where}. A {self.kind} policy must say "
                'who it applies to, for example "Principal": {"AWS": '
                '"arn:aws:iam::123456789012:user/alice"} or {"Service": '
                '"sagemaker.amazonaws.com"}.'
            )
        return self.principals(raw[name], name, where), name == "NotPrincipal"

    def principals(self, value: Any, name: str, where: str) -> Principals:
        if value == "*":
            return Principals(everyone=True)
        if not isinstance(value, Mapping) or not value:
            _invalid_principal(value, where)
        everyone = False
        found: dict[str, set[str]] = {"AWS": set(), "Service": set(), "Federated": set()}
        for kind, raw in value.items():
            if kind == "CanonicalUser":
                _fail(
                    f"Invalid principal in policy: {{{kind!r}: {raw!r}}} in {where}. sagebox "
                    "has no canonical user ids; name the account or IAM principal by ARN."
                )
            if kind not in found:
                _invalid_principal({kind: raw}, where)
            for item in self.strings(raw, f"{name}.{kind}", where):
                if kind == "AWS" and item == "*":
                    everyone = True
                    continue
                normalized = _principal_value(kind, item)
                if normalized is None:
                    _invalid_principal({kind: item}, where)
                found[kind].add(normalized)
        return Principals(
            everyone,
            frozenset(found["AWS"]),
            frozenset(found["Service"]),
            frozenset(found["Federated"]),
        )

    # ---- Condition -----------------------------------------------------------------
    def conditions(self, raw: Any, where: str) -> tuple[Condition, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            _fail(
                f"Syntax errors in policy. Condition of {where} must be an object of "
                f'operator -> {{key: value}}; got {raw!r}. Example: {{"StringEquals": '
                '{"aws:username": "alice"}}.'
            )
        out: list[Condition] = []
        seen_ops: set[str] = set()
        for operator, body in raw.items():
            resolved = resolve_operator(operator)
            if resolved is None:
                _fail(
                    f"Syntax errors in policy. Invalid condition operator {operator!r} in "
                    f"{where}; it is not an IAM operator (StringEquals, StringLike, "
                    "NumericLessThan, DateGreaterThan, Bool, IpAddress, ArnLike, Null ..., "
                    "optionally with IfExists or a ForAnyValue:/ForAllValues: prefix; Null "
                    "takes neither)."
                )
            op, set_op, if_exists, canonical = resolved
            if canonical.lower() in seen_ops:
                _fail(
                    f"Syntax errors in policy. Condition operator {canonical} appears twice "
                    f"in {where}; merge its keys into one object."
                )
            seen_ops.add(canonical.lower())
            if not isinstance(body, Mapping) or not body:
                _fail(
                    f"Syntax errors in policy. {canonical} in {where} must map condition keys "
                    f'to values, for example {{"aws:SourceIp": "203.0.113.0/24"}}; got {body!r}.'
                )
            seen_keys: set[str] = set()
            for key, values in body.items():
                self.condition_key(key, canonical, where, seen_keys)
                scalars = self.condition_values(values, key, canonical, where)
                try:
                    out.append(
                        build_condition(
                            op, set_op, if_exists, canonical, key, scalars, self.variables
                        )
                    )
                except (ConditionValueError, PatternError) as error:
                    _fail(f"Syntax errors in policy. {canonical} {key} in {where}: {error}")
        return tuple(out)

    def condition_key(self, key: Any, operator: str, where: str, seen: set[str]) -> None:
        if not isinstance(key, str) or ":" not in key or key.startswith(":"):
            _fail(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. "
                f"Got condition key {key!r} under {operator} in {where}; write for example "
                '"aws:SourceIp" or "s3:prefix".'
            )
        if key.lower() in seen:
            _fail(
                f"Syntax errors in policy. Condition key {key!r} appears twice under "
                f"{operator} in {where} (key names are case-insensitive); merge the values."
            )
        seen.add(key.lower())

    def condition_values(
        self, values: Any, key: str, operator: str, where: str
    ) -> tuple[PolicyScalar, ...]:
        items = list(values) if isinstance(values, (list, tuple)) else [values]
        if not items or not all(_is_scalar(v) for v in items):
            _fail(
                f"Syntax errors in policy. The value of {key} under {operator} in {where} "
                "must be a string, number or boolean, or a non-empty list of them; "
                f"got {values!r}."
            )
        return tuple(items)

    # ---- helpers ---------------------------------------------------------------------
    def exactly_one(self, raw: Mapping[str, Any], a: str, b: str, where: str) -> str | None:
        if a in raw and b in raw:
            _fail(
                f"Syntax errors in policy. {where} has both {a} and {b}; a statement takes "
                "exactly one of them."
            )
        return a if a in raw else b if b in raw else None

    def strings(self, value: Any, name: str, where: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if (
            not isinstance(items, (list, tuple))
            or not items
            or not all(isinstance(v, str) and v for v in items)
        ):
            _fail(
                f"Syntax errors in policy. {name} in {where} must be a non-empty string or a "
                f"non-empty list of non-empty strings; got {value!r}."
            )
        return tuple(items)


def _invalid_principal(value: Any, where: str) -> NoReturn:
    _fail(
        f"Invalid principal in policy: {json.dumps(value, default=str)} in {where}. Use "
        '"*", {"AWS": account id or a user, role or assumed-role ARN}, {"Service": '
        '"<service>.amazonaws.com"} or {"Federated": provider}; wildcards cannot match part '
        "of a principal."
    )


def _principal_value(kind: str, item: str) -> str | None:
    """The stored form of one principal (account ids become root ARNs), or None."""
    if _wild(item) or item.strip() != item:
        return None
    if kind == "AWS":
        if _ACCOUNT.fullmatch(item):
            return account_root(item)
        return item if _AWS_PRINCIPAL.fullmatch(item) else None
    if kind == "Service":
        return item if _SERVICE.fullmatch(item) else None
    return item


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float)) and not (
        isinstance(value, float) and value != value
    )


def _split_resource(arn: str) -> tuple[str, str, str]:
    """``(first five segments with their colons, "", resource part)``."""
    parts = arn.split(":", 5)
    return ":".join(parts[:5]) + ":", "", parts[5]


def _is_arn_pattern(text: str) -> bool:
    parts = text.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and bool(parts[1])
        and bool(parts[2])
        and bool(parts[5])
    )


def validate_policy_kind(policy: Policy, allowed: Sequence[PolicyKind], slot: str) -> None:
    """Guard for :class:`PolicySet`: a policy parsed for one use cannot fill another."""
    if policy.kind not in allowed:
        raise ValueError(
            f"a {policy.kind} policy cannot go in PolicySet.{slot}; parse it with "
            f"kind={allowed[0]!r}"
        )
