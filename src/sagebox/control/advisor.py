"""The least-privilege advisor: an identity policy granting what a principal really used.

``suggest_policy`` reads audit events and keeps the requests that the principal (for a
role: any of its sessions) made and was allowed. Actions are grouped one statement per
service, with the resources they touched; actions used on no particular resource
(``*``: ``List...`` operations) get a statement of their own, so that one ``List`` call
does not widen every other action of the service to every resource. S3 object keys are
generalised folder by folder: more than ``max_keys_per_prefix`` entries directly in one
folder become ``arn:aws:s3:::bucket/folder/*``. The document is validated by the policy
engine before it is returned.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sagebox.control.audit import AuditEvent
from sagebox.errors import ValidationError

DEFAULT_MAX_KEYS_PER_PREFIX = 3
"""Keys listed exactly per S3 folder; one more and the folder becomes ``folder/*``."""

_VERSION = "2012-10-17"
# In a 2012-10-17 policy these are wildcards or variables; ${*} ${?} ${$} are literal.
_ESCAPES = {"*": "${*}", "?": "${?}", "$": "${$}"}


def principal_matcher(target: str) -> Callable[[str], bool]:
    """Whether an audit event's principal is ``target``.

    A role ARN (``arn:aws:iam::ACCT:role/[path/]NAME``) also names every session of the
    role (``arn:aws:sts::ACCT:assumed-role/NAME/*``); users and roles are matched by
    account and name, so an ARN with or without the entity's path both work. A target
    with ``*`` or ``?`` is a wildcard pattern; anything else must match exactly.
    """
    if "*" in target or "?" in target:
        from sagebox.iam.matching import wildcard_match

        return lambda principal: wildcard_match(target, principal)
    identity = _identity(target)
    if identity is None or identity[1] not in ("user", "role"):
        return target.__eq__
    account, kind, name = identity

    def matches(principal: str) -> bool:
        other = _identity(principal)
        if other is None or other[0] != account:
            return False
        if kind == "role" and other[1] == "assumed-role":
            return other[2].split("/", 1)[0] == name
        return other[1] == kind and other[2] == name

    return matches


def _identity(arn: str) -> tuple[str, str, str] | None:
    """``(account, kind, name)`` of an IAM user/role or STS session ARN; else None.

    The name of a user or role is its last path segment; a session's is ``ROLE/SESSION``.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    service, account, resource = parts[2], parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if service == "iam" and kind in ("user", "role") and rest:
        return account, kind, rest.rsplit("/", 1)[-1]
    if service == "sts" and kind == "assumed-role" and "/" in rest:
        return account, kind, rest
    return None


def suggest_policy(
    events: Iterable[AuditEvent],
    principal: str,
    *,
    since: datetime | None = None,
    max_keys_per_prefix: int = DEFAULT_MAX_KEYS_PER_PREFIX,
) -> dict[str, Any]:
    """An identity policy allowing exactly what ``principal`` did and was allowed to do.

    ``principal`` is an ARN as :func:`principal_matcher` reads it; ``since`` drops older
    events. Raises :class:`ValidationError` when nothing was allowed, since an empty
    policy is no advice.
    """
    if max_keys_per_prefix < 1:
        raise ValidationError(
            f"max_keys_per_prefix must be at least 1; got {max_keys_per_prefix}. It is how "
            "many keys of one S3 folder are listed before the folder becomes folder/*."
        )
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    matches = principal_matcher(principal)
    # service -> lower-cased action -> (action as logged, resources)
    used: dict[str, dict[str, tuple[str, set[str]]]] = defaultdict(dict)
    for event in events:
        if event.decision != "allowed" or not matches(event.principal):
            continue
        if since is not None and datetime.fromisoformat(event.eventTime) < since:
            continue
        # A non-ARN resource comes from a request that failed validation after it was
        # authorized: it acted on nothing, and no policy could name it.
        if event.resource != "*" and not _is_arn(event.resource):
            continue
        service = event.action.partition(":")[0].lower()
        entry = used[service].setdefault(event.action.lower(), (event.action, set()))
        entry[1].add(event.resource)
    statements: list[dict[str, Any]] = []
    for service in sorted(used):
        statements += _service_statements(service, used[service].values(), max_keys_per_prefix)
    if not statements:
        window = f" since {since.isoformat(timespec='seconds')}" if since else ""
        raise ValidationError(
            f"The audit log holds no allowed request by {principal}{window}, so there is "
            "nothing to suggest. Check the principal's name, widen the time window, or run "
            "the workload first."
        )
    document: dict[str, Any] = {"Version": _VERSION, "Statement": statements}
    from sagebox.iam import parse_policy

    parse_policy(document, "identity")
    return document


def _service_statements(
    service: str, actions: Iterable[tuple[str, set[str]]], max_keys: int
) -> list[dict[str, Any]]:
    """The scoped statement of one service, and its statement for ``*`` actions."""
    scoped: dict[str, set[str]] = {}
    anywhere: list[str] = []
    for action, resources in actions:
        if "*" in resources:
            anywhere.append(action)
        else:
            scoped[action] = resources
    title = "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", service))
    statements = []
    if scoped:
        touched = set().union(*scoped.values())
        statements.append(
            {
                "Sid": f"{title}Actions",
                "Effect": "Allow",
                "Action": sorted(scoped, key=str.lower),
                "Resource": generalise_resources(touched, max_keys),
            }
        )
    if anywhere:
        statements.append(
            {
                "Sid": f"{title}ActionsOnAnyResource",
                "Effect": "Allow",
                "Action": sorted(anywhere, key=str.lower),
                "Resource": ["*"],
            }
        )
    return statements


def generalise_resources(resources: Iterable[str], max_keys: int) -> list[str]:
    """Resource patterns covering ``resources``, sorted; S3 keys generalised by folder.

    A folder whose direct entries (keys, and subfolders already generalised) number more
    than ``max_keys`` becomes ``folder/*``; the bucket's top level is a folder too. Other
    ARNs are kept exactly, with wildcard characters escaped so they stay literal; ``*``
    stays ``*``.
    """
    exact: set[str] = set()
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)  # (head, bucket) -> keys
    for arn in resources:
        if arn == "*":
            exact.add(arn)
            continue
        head, tail = _split(arn)
        if head.split(":")[2:3] == ["s3"] and "/" in tail:
            bucket, _, key = tail.partition("/")
            keys[(head, bucket)].add(key)
        else:
            exact.add(head + _escape(tail))
    for (head, bucket), bucket_keys in keys.items():
        exact.update(_generalise_bucket(f"{head}{bucket}/", bucket_keys, max_keys))
    return sorted(exact)


def _generalise_bucket(prefix: str, keys: set[str], max_keys: int) -> list[str]:
    entries: dict[str, int] = defaultdict(int)  # folder ("" = top level) -> direct entries
    for key in keys:
        folder = key.rpartition("/")[0]
        entries[folder] += 1
        while folder:  # make every ancestor known, so generalisation can climb
            folder = folder.rpartition("/")[0]
            entries.setdefault(folder, 0)
    collapsed: set[str] = set()
    for folder in sorted(entries, key=_depth, reverse=True):  # deepest first
        if entries[folder] > max_keys:
            collapsed.add(folder)
            if folder:
                entries[folder.rpartition("/")[0]] += 1

    def covered(path: str) -> bool:  # inside a generalised folder above it
        while path:
            path = path.rpartition("/")[0]
            if path in collapsed:
                return True
        return False

    patterns = [
        f"{prefix}{_escape(folder)}/*" if folder else f"{prefix}*"
        for folder in collapsed
        if not covered(folder)
    ]
    return patterns + [f"{prefix}{_escape(key)}" for key in keys if not covered(key)]


def _depth(folder: str) -> int:
    return folder.count("/") + 1 if folder else 0


def _is_arn(text: str) -> bool:
    parts = text.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and all((parts[1], parts[2], parts[5]))


def _split(arn: str) -> tuple[str, str]:
    """``(first five segments with their colons, resource part)`` of an ARN."""
    parts = arn.split(":", 5)
    return ":".join(parts[:5]) + ":", parts[5]


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)
