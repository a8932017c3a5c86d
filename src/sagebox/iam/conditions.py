"""Condition operators: one declarative registry, and the evaluation of a Condition block.

Rules (AWS, "IAM JSON policy elements: Condition operators" and "Creating a condition
with multiple keys or values"):

* several values for one key are ORed; several keys in one operator, and several
  operators, are ANDed; a negated operator (``StringNotEquals``, ``NotIpAddress``,
  ``ArnNotLike`` ...) is the negation of its positive form, so its values act as AND
  ("the value is none of these");
* condition key names are case-insensitive; values are case-sensitive unless the
  operator says otherwise (``...IgnoreCase``);
* a key missing from the request: positive operators are false, negated operators are
  TRUE (AWS documents that a negated condition with a missing key matches), ``...IfExists``
  is true, ``ForAllValues:`` is true (also for an empty set), ``ForAnyValue:`` is false;
* ``Null``: ``"true"`` holds when the key is absent (or empty), ``"false"`` when present;
* policy variables are substituted only in string and ARN operators.

An unknown operator is rejected when the policy is parsed, never skipped.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeAlias

from sagebox.iam.matching import (
    ContextScalar,
    ContextValue,
    Resolver,
    Template,
    arn_matcher,
    glob_matcher,
    scalar_text,
    tokenize,
)

PolicyScalar: TypeAlias = str | int | float | bool
SetOperator: TypeAlias = Literal["ForAnyValue", "ForAllValues"] | None
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConditionValueError(ValueError):
    """A condition value that does not fit its operator (reported as a policy error)."""


# ---- converting policy values (once, at parse time) -----------------------------------
def _policy_text(value: PolicyScalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string(value: PolicyScalar, variables: bool) -> Template:
    tokens = tokenize(_policy_text(value), wildcards=False, variables=variables)
    return Template.build(tokens, _joined)


def _string_ci(value: PolicyScalar, variables: bool) -> Template:
    tokens = tokenize(_policy_text(value), wildcards=False, variables=variables)
    return Template.build(tokens, lambda rendered: _joined(rendered).lower())


def _like(value: PolicyScalar, variables: bool) -> Template:
    tokens = tokenize(_policy_text(value), wildcards=True, variables=variables)
    return Template.build(tokens, glob_matcher)


def _arn(value: PolicyScalar, variables: bool) -> Template:
    text = _policy_text(value)
    tokens = tokenize(text, wildcards=True, variables=variables)
    if text.count(":") < 5 and "${" not in text:
        raise ConditionValueError(
            f"{text!r} is not an ARN: ARN operators compare arn:partition:service:region:"
            "account:resource values; use a String operator for other text."
        )
    return Template.build(tokens, arn_matcher)


def _joined(rendered: tuple[str | int, ...]) -> str:
    return "".join(str(t) for t in rendered)


def _numeric(value: PolicyScalar, variables: bool) -> Decimal:
    number = to_number(value)
    if number is None:
        raise ConditionValueError(
            f"{value!r} is not a number: Numeric operators take integers or decimals, "
            'for example "10" or 2.5.'
        )
    return number


def _date(value: PolicyScalar, variables: bool) -> datetime:
    moment = to_datetime(value)
    if moment is None:
        raise ConditionValueError(
            f"{value!r} is not a date: Date operators take W3C ISO 8601 dates "
            '(for example "2024-01-31T12:00:00Z") or epoch seconds (for example 1706702400).'
        )
    return moment


def _boolean(value: PolicyScalar, variables: bool) -> bool:
    flag = to_bool(value)
    if flag is None:
        raise ConditionValueError(f'{value!r} is not a boolean: write "true" or "false".')
    return flag


def _binary(value: PolicyScalar, variables: bool) -> bytes:
    data = to_bytes(value) if isinstance(value, str) else None
    if data is None:
        raise ConditionValueError(
            f"{value!r} is not base64: BinaryEquals compares against the base64 encoding "
            'of the bytes, for example "QmluYXJ5VmFsdWU=".'
        )
    return data


def _network(value: PolicyScalar, variables: bool) -> IPNetwork:
    try:
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ConditionValueError(
            f"{value!r} is not an IP address or CIDR range: write for example "
            '"203.0.113.0/24" or "2001:db8::/32" (a bare address means /32 or /128).'
        ) from None


# ---- converting request values (per evaluation) ---------------------------------------
def to_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_ISO = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?)?)?)?"
)


def to_datetime(value: Any) -> datetime | None:
    """W3C ISO 8601 (YYYY ... YYYY-MM-DDThh:mm:ss.sTZD; no zone means UTC) or epoch
    seconds. A 4-digit string is a year (a W3C format), other digit strings are epoch."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return _epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit() and len(text) != 4:
        return _epoch(int(text))
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_zone(zone),
        )
    except ValueError:
        return None
    return moment


def _zone(zone: str | None) -> timezone:
    if zone is None or zone in "Zz":
        return UTC
    sign = 1 if zone[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))


def _epoch(value: int | float | Decimal) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def to_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def to_address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def to_text(value: Any) -> str | None:
    return None if isinstance(value, bytes) else scalar_text(value)


def to_arn(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---- comparisons (request value first, policy value second) --------------------------
def _eq(request: Any, policy: Any) -> bool:
    return bool(request == policy)


def _eq_ci(request: str, policy: str) -> bool:
    return request.lower() == policy


def _matches(request: str, policy: Callable[[str], bool]) -> bool:
    return policy(request)


def _in_network(request: Any, policy: IPNetwork) -> bool:
    return bool(request.version == policy.version and request in policy)


# ---- the registry ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Operator:
    """One condition operator: how policy values parse, request values convert, and
    the two compare. ``negated`` operators return the negation of the positive test."""

    name: str
    parse: Callable[[PolicyScalar, bool], Any]
    coerce: Callable[[Any], Any]
    compare: Callable[[Any, Any], bool]
    negated: bool = False
    variables: bool = False


def _op(name: str, family: tuple[Any, Any, Any], *, negated: bool = False) -> Operator:
    parse, coerce, compare = family
    variables = parse in (_string, _string_ci, _like, _arn)
    return Operator(name, parse, coerce, compare, negated, variables)


_STRING = (_string, to_text, _eq)
_STRING_CI = (_string_ci, to_text, _eq_ci)
_LIKE = (_like, to_text, _matches)
_NUMBER_EQ = (_numeric, to_number, _eq)
_DATE_EQ = (_date, to_datetime, _eq)
_ARN = (_arn, to_arn, _matches)
_IP = (_network, to_address, _in_network)


OPERATORS: dict[str, Operator] = {
    op.name.lower(): op
    for op in (
        _op("StringEquals", _STRING),
        _op("StringNotEquals", _STRING, negated=True),
        _op("StringEqualsIgnoreCase", _STRING_CI),
        _op("StringNotEqualsIgnoreCase", _STRING_CI, negated=True),
        _op("StringLike", _LIKE),
        _op("StringNotLike", _LIKE, negated=True),
        _op("NumericEquals", _NUMBER_EQ),
        _op("NumericNotEquals", _NUMBER_EQ, negated=True),
        _op("NumericLessThan", (_numeric, to_number, lambda r, p: r < p)),
        _op("NumericLessThanEquals", (_numeric, to_number, lambda r, p: r <= p)),
        _op("NumericGreaterThan", (_numeric, to_number, lambda r, p: r > p)),
        _op("NumericGreaterThanEquals", (_numeric, to_number, lambda r, p: r >= p)),
        _op("DateEquals", _DATE_EQ),
        _op("DateNotEquals", _DATE_EQ, negated=True),
        _op("DateLessThan", (_date, to_datetime, lambda r, p: r < p)),
        _op("DateLessThanEquals", (_date, to_datetime, lambda r, p: r <= p)),
        _op("DateGreaterThan", (_date, to_datetime, lambda r, p: r > p)),
        _op("DateGreaterThanEquals", (_date, to_datetime, lambda r, p: r >= p)),
        _op("Bool", (_boolean, to_bool, _eq)),
        _op("BinaryEquals", (_binary, to_bytes, _eq)),
        _op("IpAddress", _IP),
        _op("NotIpAddress", _IP, negated=True),
        _op("ArnEquals", _ARN),
        _op("ArnLike", _ARN),
        _op("ArnNotEquals", _ARN, negated=True),
        _op("ArnNotLike", _ARN, negated=True),
        _op("Null", (_boolean, to_bool, _eq)),
    )
}
"""Every operator, by lower-cased name. ``...IfExists`` and ``ForAnyValue:`` /
``ForAllValues:`` are modifiers of these (``Null`` takes neither)."""
_NULL = OPERATORS["null"]


def resolve_operator(name: str) -> tuple[Operator, SetOperator, bool, str] | None:
    """``(operator, set operator, if-exists, canonical name)``, or None if unknown."""
    rest = name
    set_op: SetOperator = None
    head, colon, tail = name.partition(":")
    if colon:
        if head.lower() == "foranyvalue":
            set_op = "ForAnyValue"
        elif head.lower() == "forallvalues":
            set_op = "ForAllValues"
        else:
            return None
        rest = tail
    op = OPERATORS.get(rest.lower())
    if_exists = False
    if op is None and rest.lower().endswith("ifexists"):
        op = OPERATORS.get(rest.lower()[: -len("ifexists")])
        if_exists = True
    if op is None or (op is _NULL and (if_exists or set_op)):
        return None
    canonical = f"{set_op + ':' if set_op else ''}{op.name}{'IfExists' if if_exists else ''}"
    return op, set_op, if_exists, canonical


# ---- one condition ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key, values) test of a statement's Condition block."""

    operator: str
    key: str
    values: tuple[PolicyScalar, ...]
    op: Operator = field(repr=False, compare=False)
    set_op: SetOperator = field(repr=False, compare=False)
    if_exists: bool = field(repr=False, compare=False)
    compiled: tuple[Any, ...] = field(repr=False, compare=False)
    key_lower: str = field(repr=False, compare=False)
    static: tuple[Any, ...] | None = field(repr=False, compare=False)
    """The comparable policy values when none holds a variable (else resolved per request)."""

    def holds(self, keys: Mapping[str, ContextValue], resolver: Resolver) -> bool:
        """Whether the request satisfies this condition (see the module docstring)."""
        value = keys.get(self.key_lower)
        op = self.op
        if op is _NULL:
            is_null = value is None or value == "" or (_is_list(value) and not value)
            return any(flag == is_null for flag in self.compiled)
        if value is None:
            if self.if_exists or self.set_op == "ForAllValues":
                return True
            return self.set_op is None and op.negated
        policy = self.static
        if policy is None:
            policy = tuple(p for p in (t.resolve(resolver) for t in self.compiled) if p is not None)
        members: tuple[Any, ...] = tuple(value) if _is_list(value) else (value,)  # type: ignore[arg-type]
        if self.set_op is None:
            hit = any(self._positive(v, policy) for v in members)
            return not hit if op.negated else hit
        if members == ("",):
            members = ()  # "a null data set, such as an empty string"
        if not members:
            return self.set_op == "ForAllValues"
        tests = (self._positive(v, policy) != op.negated for v in members)
        return all(tests) if self.set_op == "ForAllValues" else any(tests)

    def _positive(self, request: ContextScalar, policy: tuple[Any, ...]) -> bool:
        converted = self.op.coerce(request)
        if converted is None:
            return False
        compare = self.op.compare
        return any(compare(converted, p) for p in policy)


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def build_condition(
    operator: Operator,
    set_op: SetOperator,
    if_exists: bool,
    canonical: str,
    key: str,
    values: tuple[PolicyScalar, ...],
    variables: bool,
) -> Condition:
    """Compile one condition; raises ConditionValueError for a value the operator
    cannot take (a non-number for Numeric*, a malformed CIDR ...)."""
    compiled = tuple(operator.parse(v, variables and operator.variables) for v in values)
    static: tuple[Any, ...] | None = compiled
    if operator.variables:
        resolved = tuple(t.static for t in compiled)
        static = None if any(v is None for v in resolved) else resolved
    return Condition(
        canonical, key, values, operator, set_op, if_exists, compiled, key.lower(), static
    )
