"""Wildcard, ARN and principal matching, and policy-variable substitution.

Patterns are parsed once into tokens (literal text, ``*``, ``?``, ``${variable}``) and
compiled once into a matcher; a pattern with variables is rendered per request and its
matcher is fetched from a cache, so no regular expression is compiled per evaluation.
Every character other than ``*`` and ``?`` is literal: a ``.`` is a dot, never "any".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeAlias

ContextScalar: TypeAlias = str | bool | int | float | Decimal | datetime | bytes
ContextValue: TypeAlias = ContextScalar | Sequence[ContextScalar]
"""A request-context value: one value, or a list for multivalued keys."""

STAR = 0
"""Token for ``*``: any run of characters (within one ARN segment in ARN mode)."""
QMARK = 1
"""Token for ``?``: exactly one character (within one ARN segment in ARN mode)."""


@dataclass(frozen=True, slots=True)
class Var:
    """A policy variable ``${key}`` or ``${key, 'default'}``; ``key`` is lower-cased."""

    key: str
    default: str | None
    text: str


Token: TypeAlias = str | int | Var
Rendered: TypeAlias = tuple[str | int, ...]
Matcher: TypeAlias = Callable[[str], bool]
Mode: TypeAlias = Literal["glob", "arn"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}  # ${*} ${?} ${$}: the literal character


class PatternError(ValueError):
    """A pattern that cannot be parsed (the policy parser turns it into a policy error)."""


def tokenize(text: str, *, wildcards: bool, variables: bool) -> tuple[Token, ...]:
    """Split ``text`` into tokens.

    ``wildcards``: ``*``/``?`` are wildcards (else literal). ``variables``: ``${...}`` is
    a policy variable (only in ``2012-10-17`` policies; else literal text).
    """
    tokens: list[Token] = []

    def literal(chunk: str) -> None:
        if not chunk:
            return
        if tokens and isinstance(tokens[-1], str):
            tokens[-1] += chunk
        else:
            tokens.append(chunk)

    def plain(chunk: str) -> None:
        if not wildcards:
            literal(chunk)
            return
        start = 0
        for i, char in enumerate(chunk):
            if char in "*?":
                literal(chunk[start:i])
                tokens.append(STAR if char == "*" else QMARK)
                start = i + 1
        literal(chunk[start:])

    if not variables:
        plain(text)
        return tuple(tokens)
    position = 0
    for found in _VARIABLE.finditer(text):
        plain(text[position : found.start()])
        position = found.end()
        inner = found.group(1)
        if inner in _SPECIAL:
            literal(_SPECIAL[inner])
            continue
        tokens.append(_parse_variable(inner, found.group(0)))
    plain(text[position:])
    return tuple(tokens)


def _parse_variable(inner: str, text: str) -> Var:
    key, comma, default = inner.partition(",")
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise PatternError(
            f"Invalid policy variable {text!r}: write ${{key}} or ${{key, 'default'}}, "
            "for example ${aws:username}."
        )
    if not comma:
        return Var(key.lower(), None, text)
    default = default.strip()
    if len(default) < 2 or default[0] != "'" or default[-1] != "'":
        raise PatternError(
            f"Invalid default value in policy variable {text!r}: put the default in single "
            "quotes after a comma, for example ${aws:PrincipalTag/team, 'shared'}."
        )
    return Var(key.lower(), default[1:-1], text)


def has_variables(tokens: Sequence[Token]) -> bool:
    return any(isinstance(t, Var) for t in tokens)


def has_wildcards(tokens: Sequence[Token]) -> bool:
    return any(isinstance(t, int) for t in tokens)


class Resolver:
    """Looks up policy variables in one request's (lower-cased) context keys.

    ``missing`` records that a variable had no value and no default, so the caller can
    treat the statement as AWS does ("might cause the entire statement to be invalid").
    """

    __slots__ = ("_keys", "missing")

    def __init__(self, keys: Mapping[str, ContextValue]) -> None:
        self._keys = keys
        self.missing = False

    def lookup(self, key: str) -> str | None:
        value = self._keys.get(key)
        if value is None or isinstance(value, bytes):
            return None
        if isinstance(value, (list, tuple)):
            return None  # a multivalued key cannot be used as a variable
        return scalar_text(value)  # type: ignore[arg-type]

    def render(self, tokens: Sequence[Token]) -> Rendered | None:
        """Substitute variables; their values are literal text, never wildcards."""
        out: list[str | int] = []
        for token in tokens:
            if isinstance(token, Var):
                value = self.lookup(token.key)
                if value is None:
                    value = token.default
                if value is None:
                    self.missing = True
                    return None
                token = value
            if isinstance(token, str) and out and isinstance(out[-1], str):
                out[-1] = out[-1] + token
            elif token != "":
                out.append(token)
        return tuple(out)


def scalar_text(value: ContextScalar) -> str:
    """The string form of a context value, as string operators and variables see it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@lru_cache(maxsize=16384)
def compile_tokens(tokens: Rendered, mode: Mode) -> Matcher:
    """A matcher for rendered tokens (cached: each distinct pattern compiles once).

    ``glob``: ``*`` spans anything. ``arn``: the first five colons split the ARN into
    partition, service, region, account and resource segments; a wildcard before the
    fifth colon stays within its segment, one in the resource part spans anything
    (the resource part may itself contain colons).
    """
    if mode == "arn" and sum(t.count(":") for t in tokens if isinstance(t, str)) < 5:
        return _never  # not arn:partition:service:region:account:resource - matches no ARN
    if not has_wildcards(tokens):
        return "".join(str(t) for t in tokens).__eq__
    if mode == "glob" and tokens == (STAR,):
        return _always
    if len(tokens) == 2 and tokens[1] == STAR and isinstance(tokens[0], str):
        prefix = tokens[0]
        if mode == "glob" or prefix.count(":") >= 5:
            return lambda value: value.startswith(prefix)
    parts: list[str] = []
    colons = 0
    for token in tokens:
        if isinstance(token, str):
            parts.append(re.escape(token))
            colons += token.count(":")
        elif token == STAR:
            parts.append(".*" if mode == "glob" or colons >= 5 else "[^:]*")
        else:
            parts.append("." if mode == "glob" or colons >= 5 else "[^:]")
    fullmatch = re.compile("".join(parts), re.DOTALL).fullmatch
    return lambda value: fullmatch(value) is not None  # a bool, never a Match or None


def _always(value: str) -> bool:
    return True


def _never(value: str) -> bool:
    return False


ANYTHING: Matcher = _always
"""The matcher of ``*``; also what a statement without Resource (a trust policy's) uses."""


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string, parsed once; ``resolve`` gives its comparable form for a request.

    ``finish`` turns rendered tokens into the comparable form (a string, or a matcher);
    when the string holds no variables that form is computed once, at parse time.
    """

    tokens: tuple[Token, ...]
    finish: Callable[[Rendered], Any]
    static: Any

    @classmethod
    def build(cls, tokens: tuple[Token, ...], finish: Callable[[Rendered], Any]) -> Template:
        if has_variables(tokens):
            return cls(tokens, finish, None)
        return cls(tokens, finish, finish(tokens))  # type: ignore[arg-type]

    def resolve(self, resolver: Resolver) -> Any:
        """The comparable form, or None when a variable has no value (matches nothing)."""
        if self.static is not None:
            return self.static
        rendered = resolver.render(self.tokens)
        return None if rendered is None else self.finish(rendered)


def match_set(patterns: Sequence[tuple[Token, ...]], mode: Mode) -> Matcher | None:
    """One matcher for several patterns without variables (None if any has a variable):
    exact strings by set membership, trailing-``*`` patterns by one
    ``str.startswith(tuple)``, the rest by their compiled matchers. A lone ``*`` matches
    everything (Resource ``"*"``, Action ``"*"``)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    others: list[Matcher] = []
    for tokens in patterns:
        if has_variables(tokens):
            return None
        if not has_wildcards(tokens):
            exact.add("".join(str(t) for t in tokens))
        elif tuple(tokens) == (STAR,):
            return _always
        elif (
            len(tokens) == 2
            and tokens[1] == STAR
            and isinstance(tokens[0], str)
            and (mode == "glob" or tokens[0].count(":") >= 5)
        ):
            prefixes.append(tokens[0])
        else:
            others.append(compile_tokens(tokens, mode))
    return _combine(frozenset(exact), tuple(prefixes), tuple(others))


def _combine(
    exact: frozenset[str], prefixes: tuple[str, ...], others: tuple[Matcher, ...]
) -> Matcher:
    # The tightest closure for what is present: this runs for every statement of every
    # request, so an empty check or a generator per call is measurable.
    if not others:
        if not prefixes:
            return exact.__contains__
        if not exact:
            return lambda value: value.startswith(prefixes)
        return lambda value: value in exact or value.startswith(prefixes)
    if len(others) == 1 and not exact and not prefixes:
        return others[0]
    return lambda value: (
        value in exact or value.startswith(prefixes) or any(m(value) for m in others)
    )


def glob_matcher(rendered: Rendered) -> Matcher:
    return compile_tokens(rendered, "glob")


def arn_matcher(rendered: Rendered) -> Matcher:
    return compile_tokens(rendered, "arn")


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """``StringLike`` semantics: ``*`` any run, ``?`` one character, all else literal."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    tokens = tokenize(pattern, wildcards=True, variables=False)
    return compile_tokens(tokens, "glob")(value)


def arn_match(pattern: str, value: str) -> bool:
    """``ArnLike`` semantics: each of the six colon-separated parts matched on its own."""
    tokens = tokenize(pattern, wildcards=True, variables=False)
    return compile_tokens(tokens, "arn")(value)


def action_matcher(patterns: Sequence[str]) -> Matcher:
    """One matcher for a statement's actions. Action names are case-insensitive: the
    patterns are lower-cased here, the action by the caller."""
    tokens = [tokenize(p.lower(), wildcards=True, variables=False) for p in patterns]
    matcher = match_set(tokens, "glob")
    assert matcher is not None  # actions never hold variables
    return matcher


# ---- principals ------------------------------------------------------------------------
NO_MATCH, ACCOUNT, ENTITY, DIRECT = 0, 1, 2, 3
"""How a Principal element names the requester, weakest first.

ACCOUNT: through its account (delegates to the account's IAM policies). ENTITY: through
the role that a session belongs to (limited by boundary and session policies). DIRECT:
the user, the session, the service itself, or everyone (``*``).
"""


@dataclass(frozen=True, slots=True)
class Chain:
    """Who is asking, as Principal elements can name them: (type, identifier) pairs."""

    direct: tuple[str, str]
    entity: tuple[str, str] | None
    account: tuple[str, str] | None

    def members(self) -> tuple[tuple[str, str], ...]:
        return tuple(m for m in (self.direct, self.entity, self.account) if m is not None)


def account_root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


@dataclass(frozen=True, slots=True)
class Principals:
    """A parsed Principal/NotPrincipal element; AWS account ids are stored as root ARNs."""

    everyone: bool
    aws: frozenset[str] = frozenset()
    service: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()

    def names(self, member: tuple[str, str]) -> bool:
        kind, value = member
        if kind == "AWS":
            return value in self.aws
        if kind == "Service":
            return value in self.service
        return value in self.federated

    def strength(self, chain: Chain) -> int:
        """The strongest way this element names the requester (``NO_MATCH`` if not)."""
        if self.everyone or self.names(chain.direct):
            return DIRECT
        if chain.entity is not None and self.names(chain.entity):
            return ENTITY
        if chain.account is not None and self.names(chain.account):
            return ACCOUNT
        return NO_MATCH

    def lists_all(self, chain: Chain) -> bool:
        """Every identity in the requester's chain is listed (account, role, session)."""
        return self.everyone or all(self.names(m) for m in chain.members())

    def lists_any(self, chain: Chain) -> bool:
        return self.everyone or any(self.names(m) for m in chain.members())
