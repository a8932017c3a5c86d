"""botocore's service models, loaded once, and their shapes compiled into specs.

    service_model / operation_model     botocore's models, loaded on first use
    shape_spec / input_spec / ...       each shape compiled once into a cached :class:`Spec`
    fullmatcher                         a model's Java regex as a Python whole-value matcher

A :class:`Spec` carries the check function of its shape type; those live in
:mod:`sagebox.control.shapes_validate`, which registers them in :data:`CHECKS`
when it is imported. botocore itself is imported on first use.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from sagebox.errors import InternalError, UnknownOperation

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "CHECKS",
    "Check",
    "MapKey",
    "Path",
    "Segment",
    "Spec",
    "fullmatcher",
    "input_spec",
    "operation_model",
    "output_spec",
    "service_id",
    "service_model",
    "shape_spec",
]


# --------------------------------------------------------------------------- models


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of ``service`` ("sagemaker", "glue", ...), loaded once."""
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    try:
        description = create_loader().load_service_model(service, "service-2")
    except DataNotFoundError:
        raise UnknownOperation(
            f"sagebox knows no AWS service {service!r}. Use the botocore service name, "
            "e.g. 'sagemaker', 'sagemaker-runtime', 'glue', 'iam', 'sts' or 's3'."
        ) from None
    return ServiceModel(description, service_name=service)


@functools.cache
def _operation_names(service: str) -> frozenset[str]:
    return frozenset(service_model(service).operation_names)


def service_id(service: str) -> str:
    """The service's display name from its model ("SageMaker", "Glue")."""
    return str(service_model(service).metadata.get("serviceId", service))


def operation_model(service: str, operation: str) -> OperationModel:
    """botocore's model of one operation; :class:`UnknownOperation` if there is none."""
    names = _operation_names(service)
    if operation not in names:
        example = "CreateProcessingJob" if service == "sagemaker" else min(names)
        message = (
            f"{service_id(service)} has no operation {operation!r}. Check the spelling; "
            "operation names are PascalCase as in the AWS API reference "
            f"(e.g. {example})."
        )
        close = difflib.get_close_matches(operation, names, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        raise UnknownOperation(message)
    return service_model(service).operation_model(operation)


# --------------------------------------------------------------------------- specs


class _Unset:
    """Marks a lazily compiled pattern that has not been compiled yet."""


_UNSET = _Unset()

Check: TypeAlias = "Callable[[Spec, Any, Path, list[_Err]], Any]"
Segment: TypeAlias = "str | int | MapKey"
Path: TypeAlias = "tuple[Path, Segment] | None"


class MapKey(NamedTuple):
    """A path segment naming one entry of a map."""

    key: str


class _Err(NamedTuple):
    """A violation as found during the walk; paths are rendered only if it is raised."""

    path: Path
    value: Any
    constraint: str
    kind: str  # "constraint", "null", "type" or "unknown"
    hint: str | None = None
    sensitive: bool = False
    at: Path = None  # the element to point the field path at, for grouped violations


@dataclass(eq=False, slots=True)
class Spec:
    """One model shape, compiled: its constraints and the function that checks them."""

    name: str
    type: str
    check: Check
    sensitive: bool = False
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    enum_set: frozenset[str] = frozenset()
    members: dict[str, Spec] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    union: bool = False
    member: Spec | None = None
    key: Spec | None = None
    value: Spec | None = None
    timestamp_format: str | None = None
    opaque: bool = False  # documents and event streams: passed through unchecked
    matcher: Callable[[str], object] | _Unset | None = _UNSET

    def match(self, value: str) -> bool:
        """Whether ``value`` matches the whole pattern (True when it cannot be checked)."""
        matcher = self.matcher
        if isinstance(matcher, _Unset):
            matcher = self.matcher = fullmatcher(self.pattern) if self.pattern else None
        return matcher is None or matcher(value) is not None

    def constraints(self) -> list[str]:
        """This shape's constraints as AWS lists them inside ``[...]``."""
        unit = "length" if self.type in ("string", "blob", "list", "map") else "value"
        out = []
        if self.max is not None:
            out.append(f"Member must have {unit} less than or equal to {self.bound(self.max)}")
        if self.min is not None:
            out.append(f"Member must have {unit} greater than or equal to {self.bound(self.min)}")
        if self.pattern is not None:
            out.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        if self.enum:
            out.append(f"Member must satisfy enum value set: [{', '.join(self.enum)}]")
        return out

    def bound(self, value: float) -> str:
        return repr(float(value)) if self.type in ("float", "double") else str(value)


# The check function of each shape type ("string", "structure", ...). They live in
# shapes_validate, which fills this in when imported; shapes and shapes_output
# import it, so every public way to a spec goes through it first.
CHECKS: dict[str, Check] = {}


def _check_opaque(spec: Spec, value: Any, path: Path, errs: list[_Err]) -> Any:
    return copy.deepcopy(value)


def _check_for(kind: str) -> Check:
    if not CHECKS:
        raise InternalError(
            "sagebox bug: no shape checks are registered; "
            "import sagebox.control.shapes_validate before compiling shapes."
        )
    return CHECKS.get(kind, _check_opaque)


_SPECS: dict[tuple[str, str], Spec] = {}
_ROOTS: dict[tuple[str, str, str], Spec] = {}
_LOCK = threading.Lock()


def shape_spec(service: str, shape_name: str) -> Spec:
    """The compiled spec of a named shape (and, through it, every shape it reaches)."""
    spec = _SPECS.get((service, shape_name))
    if spec is not None:
        return spec
    from botocore.model import NoShapeFoundError

    model = service_model(service)
    with _LOCK:
        local: dict[str, Spec] = {}
        try:
            spec = _build(service, model.shape_for(shape_name), local)
        except NoShapeFoundError:
            raise InternalError(f"The {service} model has no shape {shape_name!r}.") from None
        # Publish only complete graphs: a reader never sees a half-built spec.
        for name, built in local.items():
            _SPECS.setdefault((service, name), built)
    return spec


def _build(service: str, shape: Shape, local: dict[str, Spec]) -> Spec:
    name = shape.name
    spec = _SPECS.get((service, name)) or local.get(name)
    if spec is not None:
        return spec
    md = shape.metadata
    kind = shape.type_name
    enum = tuple(md.get("enum", ()))
    spec = local[name] = Spec(
        name=name,
        type=kind,
        check=_check_for(kind),
        sensitive=bool(md.get("sensitive")),
        min=md.get("min"),
        max=md.get("max"),
        pattern=md.get("pattern"),
        enum=enum,
        enum_set=frozenset(enum),
        timestamp_format=shape.serialization.get("timestampFormat"),
        opaque=bool(md.get("document") or shape.serialization.get("eventstream")),
    )
    if spec.opaque:
        spec.check = _check_opaque
    elif kind == "structure":
        spec.required = frozenset(md.get("required", ()))
        spec.union = bool(md.get("union"))
        spec.members = {m: _build(service, s, local) for m, s in shape.members.items()}
    elif kind == "list":
        spec.member = _build(service, shape.member, local)
    elif kind == "map":
        spec.key = _build(service, shape.key, local)
        spec.value = _build(service, shape.value, local)
    return spec


def _root(service: str, operation: str, direction: str) -> Spec:
    cached = _ROOTS.get((service, operation, direction))
    if cached is not None:
        return cached
    op = operation_model(service, operation)
    shape = op.input_shape if direction == "input" else op.output_shape
    spec = shape_spec(service, shape.name) if shape is not None else _empty_structure()
    _ROOTS[(service, operation, direction)] = spec
    return spec


def input_spec(service: str, operation: str) -> Spec:
    """The compiled input shape of an operation."""
    return _root(service, operation, "input")


def output_spec(service: str, operation: str) -> Spec:
    """The compiled output shape of an operation."""
    return _root(service, operation, "output")


@functools.cache
def _empty_structure() -> Spec:
    return Spec(name="Empty", type="structure", check=_check_for("structure"))


# --------------------------------------------------------------------------- patterns
# Model patterns are Java regexes, matched by AWS against the whole value. Python's
# re lacks \p{..} classes and reads \uD800\uDC00 as two lone surrogates, so they are
# rewritten; re.ASCII gives \d \s \w Java's (ASCII) meaning. A pattern that still
# cannot be expressed (nested or intersected classes, \P{..} inside a class) is not
# checked rather than failing every request: none occurs in the sagemaker, glue,
# iam or sts models today.

_POSIX = {
    "Alnum": "a-zA-Z0-9",
    "Alpha": "a-zA-Z",
    "ASCII": "\\x00-\\x7f",
    "Digit": "0-9",
    "Graph": "\\x21-\\x7e",
    "Lower": "a-z",
    "Print": "\\x20-\\x7e",
    "Punct": "!-/:-@\\[-`{-~",
    "Space": " \\t\\n\\x0b\\f\\r",
    "Upper": "A-Z",
}


@functools.cache
def _categories() -> dict[str, str]:
    """Unicode general categories ("L", "Lu", ...) as character-class bodies."""
    import unicodedata

    spans: dict[str, list[tuple[int, int]]] = {}

    def add(category: str, lo: int, hi: int) -> None:
        for key in (category, category[0]):
            spans.setdefault(key, []).append((lo, hi))

    # Planes 4-13 are unassigned and 15-16 private use: skip them for speed.
    for lo, hi in ((0, 0x3FFFF), (0xE0000, 0xE0FFF)):
        start, current = lo, unicodedata.category(chr(lo))
        for cp in range(lo + 1, hi + 1):
            category = unicodedata.category(chr(cp))
            if category != current:
                add(current, start, cp - 1)
                start, current = cp, category
        add(current, start, hi)
    add("Cn", 0x40000, 0xDFFFF)
    add("Cn", 0xE1000, 0xEFFFF)
    add("Co", 0xF0000, 0x10FFFF)
    return {
        key: "".join(f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in ranges)
        for key, ranges in spans.items()
    }


def _class_body(name: str) -> str | None:
    if name in _POSIX:
        return _POSIX[name]
    name = name.removeprefix("Is")
    return _categories().get(name)


def _translate(pattern: str) -> str | None:
    """The Python spelling of a Java pattern, or None if it has no faithful one."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            d = pattern[i + 1]
            if d in "pP":
                if pattern.startswith("{", i + 2):
                    end = pattern.find("}", i + 2)
                    name, i = pattern[i + 3 : end], end + 1
                else:
                    name, i = pattern[i + 2 : i + 3], i + 3
                body = _class_body(name)
                if body is None or (d == "P" and in_class):
                    return None
                out.append(body if in_class else f"[{'^' if d == 'P' else ''}{body}]")
            elif d == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", pattern[i + 2 : i + 6]):
                cp, i = int(pattern[i + 2 : i + 6], 16), i + 6
                low = pattern[i + 2 : i + 6] if pattern.startswith("\\u", i) else ""
                if 0xD800 <= cp < 0xDC00 and re.fullmatch(r"[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    cp, i = 0x10000 + ((cp - 0xD800) << 10) + int(low, 16) - 0xDC00, i + 6
                out.append(f"\\U{cp:08x}")
            elif d == "z":
                out.append("\\Z")
                i += 2
            else:
                out.append(pattern[i : i + 2])
                i += 2
        elif in_class:
            if c == "[" or pattern.startswith("&&", i):
                return None  # Java's class union / intersection
            in_class = c != "]"
            out.append(c)
            i += 1
        elif c == "[":
            in_class = True
            close = 2 if pattern.startswith("[^", i) else 1
            out.append(pattern[i : i + close])
            i += close
            if pattern.startswith("]", i):  # a leading ] is a literal in Java
                out.append("\\]")
                i += 1
        elif c == "$":
            # Java allows a quantified anchor (`...)${1,128}`); it matches as a plain $.
            quantifier = re.match(r"\{\d+(?:,\d*)?\}|[*+?]", pattern[i + 1 :])
            out.append("$")
            i += 1 + (quantifier.end() if quantifier else 0)
        else:
            out.append(c)
            i += 1
    return "".join(out)


@functools.cache
def fullmatcher(pattern: str) -> Callable[[str], object] | None:
    """A whole-value matcher for a model pattern, or None if Python cannot express it."""
    translated = _translate(pattern)
    if translated is None:
        return None
    try:
        return re.compile(translated, re.ASCII).fullmatch
    except re.error:
        return None
