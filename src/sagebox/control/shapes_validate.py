"""Request validation against botocore's service models, the way AWS reports it.

Every shape of a model compiles once (in :mod:`sagebox.control.shapes_model`) into
a :class:`Spec`, a small, cached node with the shape's constraints and a check
function; the checks are defined here. So validating a request is one walk over
the request, not over the model. Violations are collected, then
raised together as one :class:`ShapeValidationError` whose message follows
AWS's format::

    2 validation errors detected: Value 'my_job' at 'processingJobName' failed
    to satisfy constraint: Member must satisfy regular expression pattern:
    [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; Value null at 'roleArn' failed to satisfy
    constraint: Member must not be null

Member paths are AWS's: lowerCamel names joined by dots, list elements as
``<list>.<1-based index>.member``, map entries by their key.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sagebox.control.shapes_model import (
    CHECKS,
    MapKey,
    Path,
    Segment,
    Spec,
    _Err,
    input_spec,
)
from sagebox.errors import ValidationError

__all__ = [
    "ShapeValidationError",
    "Violation",
    "aws_path",
    "field_path",
    "render",
    "to_datetime",
    "validate_input",
]

# --------------------------------------------------------------------------- violations


class Violation(NamedTuple):
    """One violated constraint: AWS path, value received, constraint, and helpers."""

    path: str  # AWS's: processingInputs.1.member.s3Input.s3Uri
    value: Any
    constraint: str
    field: str  # the request's own spelling: ProcessingInputs[0].S3Input.S3Uri
    message: str  # the violation as it appears in the error message
    hint: str | None = None


class ShapeValidationError(ValidationError):
    """A request broke its model's constraints; ``violations`` lists every one."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        count = len(self.violations)
        plural = "s" if count != 1 else ""
        self.aws_message = f"{count} validation error{plural} detected: " + "; ".join(
            v.message for v in self.violations
        )
        hints = dict.fromkeys(f"Hint for '{v.path}': {v.hint}" for v in self.violations if v.hint)
        super().__init__("\n".join([self.aws_message, *hints]))


def _segments(path: Path) -> list[Segment]:
    out: list[Segment] = []
    while path is not None:
        path, segment = path
        out.append(segment)
    out.reverse()
    return out


def aws_path(path: Path) -> str:
    """``processingInputs.1.member.s3Input``: AWS's spelling of a member path."""
    parts = []
    for s in _segments(path):
        if isinstance(s, MapKey):
            parts.append(s.key)
        elif isinstance(s, int):
            parts.append(f"{s + 1}.member")
        else:
            parts.append(s[:1].lower() + s[1:])
    return ".".join(parts)


def field_path(path: Path) -> str:
    """``ProcessingInputs[0].S3Input``: the member path as the request spells it."""
    out = ""
    for s in _segments(path):
        if isinstance(s, MapKey):
            out += f"[{s.key!r}]"
        elif isinstance(s, int):
            out += f"[{s}]"
        else:
            out += f".{s}" if out else s
    return out


def render(value: Any, limit: int = 256) -> str:
    """A value as AWS (Java) prints it: [a, b], {k=v}, true, null."""
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (datetime, date)):
        text = value.isoformat()
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{render(k)}={render(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(render(v) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _violation(err: _Err) -> Violation:
    path = aws_path(err.path) or "input"
    where = field_path(err.at if err.at is not None else err.path)
    if err.kind == "unknown":
        parent = aws_path(err.path[0] if err.path else None) or "input"
        message = f'Unknown parameter in {parent}: "{err.path[1] if err.path else ""}", '
        message += err.constraint
    else:
        if err.kind == "null":
            shown = "Value null"
        elif err.sensitive:
            shown = "Value"  # AWS never echoes a sensitive value
        else:
            shown = f"Value '{render(err.value)}'"
        message = f"{shown} at '{path}' failed to satisfy constraint: {err.constraint}"
    return Violation(path, err.value, err.constraint, where, message, err.hint)


# --------------------------------------------------------------------------- hints

_NAME_PATTERN = re.compile(r"\[a-zA-Z0-9\]\(-\*\[a-zA-Z0-9\]\)(?:\{0,(\d+)\}|\*)")


def _pattern_hint(spec: Spec, value: str) -> str | None:
    pattern = spec.pattern or ""
    name = _NAME_PATTERN.fullmatch(pattern)
    if name:
        limit = int(name[1]) + 1 if name[1] else spec.max
        text = "Names may contain only letters, digits and hyphens, start and end with a "
        text += "letter or digit" + (f", and be at most {limit} characters." if limit else ".")
        fixed = re.sub(r"[^a-zA-Z0-9]+", "-", value).strip("-")[: int(limit or 63)].strip("-")
        return text + (f" For example '{fixed}'." if fixed and fixed != value else "")
    if ":iam::" in pattern and ":role" in pattern:
        return "Use an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerExecution."
    if pattern.startswith("(https|s3)://"):
        return "Use an S3 URI such as s3://my-bucket/prefix/."
    if pattern == "[a-zA-Z_][a-zA-Z0-9_]*":
        return (
            "Environment variable names may contain only letters, digits and underscores, "
            "and must not start with a digit."
        )
    if pattern.startswith("([\\p{L}\\p{Z}\\p{N}_.:"):
        return "Tags may contain letters, digits, spaces and the characters _ . : / = + - @."
    return None


def _enum_hint(spec: Spec, value: str) -> str | None:
    for choice in spec.enum:
        if choice.lower() == value.lower():
            return f"Enum values are case-sensitive: use '{choice}'."
    close = difflib.get_close_matches(value, spec.enum, n=1)
    return f"Did you mean '{close[0]}'?" if close else None


def _type_err(spec: Spec, value: Any, path: Path) -> _Err:
    got = _JSON_TYPES.get(type(value))
    if got is None:
        got = "structure" if isinstance(value, Mapping) else type(value).__name__
    hint = None
    if isinstance(value, str) and spec.type in ("integer", "long", "float", "double"):
        hint = "Pass the number itself, not a string (e.g. 1, not '1')."
    constraint = f"Member must be of type {spec.type}; got {got}"
    return _Err(path, value, constraint, "type", hint, spec.sensitive)


_JSON_TYPES: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "float",
    list: "list",
    tuple: "list",
    dict: "structure",
    bytes: "blob",
    datetime: "timestamp",
}


# --------------------------------------------------------------------------- checks

_SCALARS = frozenset(
    {"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"}
)


def _length(spec: Spec, value: Any, size: int, path: Path, errs: list[_Err]) -> None:
    if spec.max is not None and size > spec.max:
        constraint = f"Member must have length less than or equal to {spec.max}"
        errs.append(_Err(path, value, constraint, "constraint", None, spec.sensitive))
    if spec.min is not None and size < spec.min:
        constraint = f"Member must have length greater than or equal to {spec.min}"
        errs.append(_Err(path, value, constraint, "constraint", None, spec.sensitive))


def _range(spec: Spec, value: float, path: Path, errs: list[_Err]) -> None:
    if spec.max is not None and value > spec.max:
        constraint = f"Member must have value less than or equal to {spec.bound(spec.max)}"
        errs.append(_Err(path, value, constraint, "constraint", None, spec.sensitive))
    if spec.min is not None and value < spec.min:
        constraint = f"Member must have value greater than or equal to {spec.bound(spec.min)}"
        errs.append(_Err(path, value, constraint, "constraint", None, spec.sensitive))


def _check_string(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if type(value) is not str and not isinstance(value, str):
        errs.append(_type_err(spec, value, path))
        return value
    if spec.min is not None or spec.max is not None:
        _length(spec, value, len(value), path, errs)
    if spec.pattern is not None and not spec.match(value):
        constraint = f"Member must satisfy regular expression pattern: {spec.pattern}"
        hint = _pattern_hint(spec, value)
        errs.append(_Err(path, value, constraint, "constraint", hint, spec.sensitive))
    if spec.enum_set and value not in spec.enum_set:
        constraint = f"Member must satisfy enum value set: [{', '.join(spec.enum)}]"
        hint = _enum_hint(spec, value)
        errs.append(_Err(path, value, constraint, "constraint", hint, spec.sensitive))
    return value


def _check_integer(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if type(value) is not int:
        # numbers.Integral lets numpy integers through; bool is an int to Python only.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            errs.append(_type_err(spec, value, path))
            return value
        value = int(value)
    if spec.min is not None or spec.max is not None:
        _range(spec, value, path, errs)
    return value


def _check_float(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        errs.append(_type_err(spec, value, path))
        return value
    value = float(value)
    if not math.isfinite(value):
        errs.append(_Err(path, value, "Member must be a finite number", "type", None))
    elif spec.min is not None or spec.max is not None:
        _range(spec, value, path, errs)
    return value


def _check_boolean(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if type(value) is not bool:
        errs.append(_type_err(spec, value, path))
    return value


def to_datetime(value: Any) -> datetime | None:
    """A timezone-aware datetime from a datetime, epoch seconds or ISO 8601; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return to_datetime(datetime.fromisoformat(value.strip()))
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _check_timestamp(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    parsed = to_datetime(value)
    if parsed is None:
        hint = "Use a datetime, epoch seconds, or ISO 8601 such as 2024-05-01T12:00:00Z."
        constraint = "Member must be a timestamp"
        errs.append(_Err(path, value, constraint, "type", hint, spec.sensitive))
        return value
    return parsed


def _check_blob(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if isinstance(value, str):
        value = value.encode()  # as botocore does for a str given as a blob
    elif isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    elif not isinstance(value, bytes):
        errs.append(_type_err(spec, value, path))
        return value
    if spec.min is not None or spec.max is not None:
        _length(spec, value, len(value), path, errs)
    return value


def _check_structure(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if not isinstance(value, Mapping):
        errs.append(_type_err(spec, value, path))
        return value
    members = spec.members
    if not value.keys() <= members.keys():
        names = ", ".join(members)
        for key in value:
            if key not in members:
                close = difflib.get_close_matches(str(key), members, n=1)
                hint = f"Did you mean '{close[0]}'?" if close else None
                errs.append(
                    _Err((path, key), value[key], f"must be one of: {names}", "unknown", hint)
                )
    out = {}
    required = spec.required
    for name, member in members.items():
        item = value.get(name)
        if item is None:
            if name in required:
                errs.append(_Err((path, name), None, "Member must not be null", "null"))
            continue
        out[name] = member.check(member, item, (path, name), errs)
    if spec.union and len(out) != 1:
        constraint = f"Member must have exactly one of its members set: [{', '.join(members)}]"
        errs.append(_Err(path, value, constraint, "constraint"))
    return out


def _check_list(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if not isinstance(value, (list, tuple)):
        errs.append(_type_err(spec, value, path))
        return value
    if spec.min is not None or spec.max is not None:
        _length(spec, value, len(value), path, errs)
    element = spec.member
    assert element is not None
    check = element.check
    if element.type not in _SCALARS:
        out = []
        for i, item in enumerate(value):
            if item is None:
                errs.append(_Err((path, i), None, "Member must not be null", "null"))
            else:
                out.append(check(element, item, (path, i), errs))
        return out
    found: list[_Err] = []
    out = []
    for i, item in enumerate(value):
        if item is None:
            found.append(_Err((path, i), None, "", "null"))
        else:
            out.append(check(element, item, (path, i), found))
    if found:
        _group(element, value, path, found, "Member must satisfy constraint", errs)
    return out


def _check_map(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    if not isinstance(value, Mapping):
        errs.append(_type_err(spec, value, path))
        return value
    if spec.min is not None or spec.max is not None:
        _length(spec, value, len(value), path, errs)
    key_spec, value_spec = spec.key, spec.value
    assert key_spec is not None and value_spec is not None
    scalar = value_spec.type in _SCALARS
    bad_keys: list[_Err] = []
    bad_values: list[_Err] = []
    out = {}
    for key, item in value.items():
        where = (path, MapKey(str(key)))
        key = key_spec.check(key_spec, key, where, bad_keys)
        if item is None:
            if scalar:
                bad_values.append(_Err(where, None, "", "null"))
            else:
                errs.append(_Err(where, None, "Member must not be null", "null"))
            continue
        out[key] = value_spec.check(value_spec, item, where, bad_values if scalar else errs)
    if bad_keys:
        _group(key_spec, value, path, bad_keys, "Map keys must satisfy constraint", errs)
    if bad_values:
        _group(value_spec, value, path, bad_values, "Map value must satisfy constraint", errs)
    return out


def _group(
    element: Spec, value: Any, path: Path, found: list[_Err], label: str, errs: list[_Err]
) -> None:
    """Report scalar elements as AWS does: once, at the collection, with all constraints."""
    errs.extend(e for e in found if e.kind == "type")  # each at its own element
    broken = [e for e in found if e.kind != "type"]
    if not broken:
        return
    constraints = element.constraints()
    if any(e.kind == "null" for e in broken):
        constraints.append("Member must not be null")
    hint = next((e.hint for e in broken if e.hint), None)
    constraint = f"{label}: [{', '.join(constraints)}]"
    at = broken[0].path
    errs.append(_Err(path, value, constraint, "constraint", hint, element.sensitive, at))


CHECKS.update(
    {
        "string": _check_string,
        "integer": _check_integer,
        "long": _check_integer,
        "float": _check_float,
        "double": _check_float,
        "boolean": _check_boolean,
        "timestamp": _check_timestamp,
        "blob": _check_blob,
        "structure": _check_structure,
        "list": _check_list,
        "map": _check_map,
    }
)


def validate_input(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the operation's input shape and return a normalised copy.

    Raises :class:`ShapeValidationError` listing every violation; the copy has
    timestamps as timezone-aware datetimes, blobs as bytes and None members dropped.
    """
    spec = input_spec(service, operation)
    errs: list[_Err] = []
    out: dict[str, Any] = spec.check(spec, params, None, errs)
    if errs:
        raise ShapeValidationError([_violation(e) for e in errs])
    return out
