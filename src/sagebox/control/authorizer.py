"""The IAM authorizer: AWS's policy evaluation over the home's principals and policies.

For each request it gathers the policies that apply — a user's inline and attached
policies and those of its groups, a role session's role policies and session policies,
the permissions boundary, and the resource-based policy of the target (a role's trust
policy for ``sts:AssumeRole``, a bucket policy for S3) — asks the policy engine, writes
the decision to the audit log, and raises ``AccessDenied`` in AWS's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sagebox.control.audit import AuditEvent, AuditLog
from sagebox.control.authorize import Principal
from sagebox.errors import AccessDenied, ResourceNotFound
from sagebox.home import Home

if TYPE_CHECKING:
    from sagebox.iam import Decision, NamedPolicy, Policy, PolicySet
    from sagebox.iam.evaluation import PrincipalType

BUCKET_POLICY_KIND = "bucket-policy"
GENERATION_KIND = "iam-generation"
CACHE_SIZE = 1024


def policy_generation(home: Home) -> int:
    """A counter that every change to IAM principals or policies increases."""
    try:
        return int(home.metadata.get(GENERATION_KIND, "policies").document["n"])
    except ResourceNotFound:
        return 0


def bump_policy_generation(home: Home) -> None:
    from sagebox.errors import ResourceInUse
    from sagebox.store.metadata import Change

    def bump(record: Any) -> Change:
        return Change(None, {"n": int(record.document["n"]) + 1})

    try:
        home.metadata.update(GENERATION_KIND, "policies", bump)
    except ResourceNotFound:
        try:
            home.metadata.create(
                GENERATION_KIND, "policies", "sagebox:iam-generation", None, {"n": 1}
            )
        except ResourceInUse:
            home.metadata.update(GENERATION_KIND, "policies", bump)


@lru_cache(maxsize=4096)
def _parsed(document: str, kind: str) -> Policy:
    from sagebox.iam import parse_policy

    return parse_policy(document, kind)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PrincipalPolicies:
    """What applies to a principal whatever it asks: its policies and its tags."""

    identity: tuple[NamedPolicy, ...]
    boundary: NamedPolicy | None
    session: tuple[NamedPolicy, ...]
    tags: Mapping[str, str]


class PolicyAuthorizer:
    """Decides every request by IAM policy; the root principal is allowed unless denied."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.audit = AuditLog(home.logs_path / "audit")
        self._cache: dict[Any, PrincipalPolicies] = {}

    # ---- policy gathering -----------------------------------------------------------
    def _named(self, policy_id: str, document: str, kind: str = "identity") -> NamedPolicy:
        from sagebox.iam import NamedPolicy

        return NamedPolicy(policy_id, _parsed(document, kind))

    def _managed(self, arns: list[str]) -> list[NamedPolicy]:
        from sagebox.control.iam_policies import POLICY_KIND, policy_document

        named = []
        for arn in arns:
            try:
                record = self.home.metadata.get(POLICY_KIND, arn.rsplit("/", 1)[-1])
            except ResourceNotFound:
                continue
            named.append(self._named(arn, policy_document(record)))
        return named

    def _entity_policies(self, kind: str, name: str) -> tuple[list[NamedPolicy], dict[str, Any]]:
        try:
            doc = dict(self.home.metadata.get(kind, name).document)
        except ResourceNotFound:
            return [], {}
        noun = kind.removeprefix("iam-")
        inline = [
            self._named(f"inline:{noun}/{name}/{policy}", text)
            for policy, text in doc.get("_InlinePolicies", {}).items()
        ]
        return inline + self._managed(list(doc.get("_AttachedPolicies", []))), doc

    def _boundary(self, doc: Mapping[str, Any]) -> NamedPolicy | None:
        arn = doc.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        if not arn:
            return None
        managed = self._managed([arn])
        if managed:
            return managed[0]
        from sagebox.iam import NamedPolicy, parse_policy

        # A boundary whose policy was deleted allows nothing.
        empty = '{"Version":"2012-10-17","Statement":[]}'
        return NamedPolicy(arn, parse_policy(empty, "boundary"))

    def entity_policies(self, noun: str, name: str) -> tuple[list[NamedPolicy], NamedPolicy | None]:
        """The identity policies and permissions boundary of one IAM ``user``, ``group`` or
        ``role`` (``noun``); a user's include its groups'. An unknown entity has none."""
        identity, doc = self._entity_policies(f"iam-{noun}", name)
        if noun == "user":
            for group in doc.get("_Groups", []):
                identity += self._entity_policies("iam-group", group)[0]
        return identity, self._boundary(doc)

    def policy_set(
        self,
        principal: Principal,
        action: str,
        resource: str,
        session: Mapping[str, Any] | None = None,
    ) -> PolicySet:

        return self._assemble(self._principal_policies(principal, session), action, resource)

    def _assemble(self, applying: PrincipalPolicies, action: str, resource: str) -> PolicySet:
        from sagebox.iam import PolicySet

        return PolicySet(
            identity=applying.identity,
            resource=tuple(self._resource_policies(action, resource)),
            boundary=applying.boundary,
            session=applying.session,
        )

    def _principal_policies(
        self, principal: Principal, session: Mapping[str, Any] | None
    ) -> PrincipalPolicies:
        """A principal's identity, boundary and session policies and tags, cached per IAM
        generation.

        Gathering reads one record per policy; the cache makes a decision cost one read
        (the generation) however many policies apply. Every IAM write bumps the
        generation, in this process or another, so a cached set is never stale.
        """
        arn = principal.arn
        session_key = (
            (session.get("SessionPolicy"), tuple(session.get("PolicyArns", [])))
            if session
            else None
        )
        key = (arn, policy_generation(self.home), session_key)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        identity: list[NamedPolicy] = []
        boundary = None
        sessions: list[NamedPolicy] = []
        entity: tuple[str, str] | None = None
        if ":user/" in arn:
            entity = ("iam-user", arn.rsplit("/", 1)[-1])
            identity, boundary = self.entity_policies("user", entity[1])
        elif ":assumed-role/" in arn:
            role = arn.rsplit(":", 1)[-1].split("/")[1]
            entity = ("iam-role", role)
            identity, boundary = self.entity_policies("role", role)
            if session:
                if session.get("SessionPolicy"):
                    sessions.append(self._named(f"session:{arn}", session["SessionPolicy"]))
                sessions += self._managed(list(session.get("PolicyArns", [])))
        tags: dict[str, str] = {}
        if entity is not None:
            try:
                doc = self.home.metadata.get(*entity).document
                tags = {t["Key"]: t.get("Value", "") for t in doc.get("Tags", [])}
            except ResourceNotFound:
                pass
        result = PrincipalPolicies(tuple(identity), boundary, tuple(sessions), tags)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _resource_policies(self, action: str, resource: str) -> list[NamedPolicy]:
        if action.lower() == "sts:assumerole" and ":role/" in resource:
            try:
                role = self.home.metadata.get("iam-role", resource.rsplit("/", 1)[-1])
            except ResourceNotFound:
                return []
            return [
                self._named(f"trust:{resource}", role.document["AssumeRolePolicyDocument"], "trust")
            ]
        if resource.startswith("arn:aws:s3:::"):
            bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            try:
                record = self.home.metadata.get(BUCKET_POLICY_KIND, bucket)
            except ResourceNotFound:
                return []
            return [self._named(f"bucket-policy:{bucket}", record.document["Policy"], "resource")]
        return []

    # ---- deciding ---------------------------------------------------------------------
    def decide(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> Decision:
        from sagebox.iam import RequestContext, evaluate

        session = context.get("sagebox:session")
        applying = self._principal_policies(principal, session)
        policies = self._assemble(applying, action, resource)
        keys = {k: v for k, v in context.items() if not k.startswith("sagebox:")}
        for tag, value in applying.tags.items():
            keys.setdefault(f"aws:PrincipalTag/{tag}", value)
        if resource.startswith("arn:aws:sagemaker:"):
            for tag, value in self._resource_tags(resource).items():
                keys.setdefault(f"aws:ResourceTag/{tag}", value)
        keys.setdefault("aws:CurrentTime", datetime.now(UTC))
        keys.setdefault("aws:PrincipalArn", principal.arn)
        keys.setdefault("aws:PrincipalAccount", principal.account_id)
        if ":user/" in principal.arn:
            keys.setdefault("aws:username", principal.arn.rsplit("/", 1)[-1])
        request = RequestContext(
            principal_arn=principal.arn,
            principal_account=principal.account_id,
            principal_type=_principal_type(principal),
            action=action,
            resource=resource,
            context=keys,
            role_arn=(session or {}).get("RoleArn"),
        )
        return evaluate(request, policies)

    def _resource_tags(self, arn: str) -> dict[str, str]:
        try:
            return self.home.metadata.get_tags(arn)
        except ResourceNotFound:  # a resource not created yet has no tags
            return {}

    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        decision = self.decide(principal, action, resource, context)
        deciding = decision.matched[0] if decision.matched else None
        statement = (
            None
            if deciding is None
            else {
                "policy": deciding.policy_id,
                "index": deciding.statement_index,
                "sid": deciding.sid,
            }
        )
        self.audit.write(
            AuditEvent(
                eventTime=datetime.now(UTC).isoformat(),
                principal=principal.arn,
                action=action,
                resource=resource,
                sourceIp=context.get("aws:SourceIp"),
                decision=decision.decision,
                statement=statement,
                requestId=str(context.get("sagebox:request_id", "")),
            )
        )
        if decision.decision == "allowed":
            return statement
        why = (
            "with an explicit deny in " + _where(deciding.policy_id)
            if decision.decision == "explicitDeny" and deciding is not None
            else f"because no identity-based policy allows the {action} action"
        )
        raise AccessDenied(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} {why}"
        )


def _principal_type(principal: Principal) -> PrincipalType:
    if principal.is_root:
        return "root"
    if ":assumed-role/" in principal.arn:
        return "role-session"
    if ":user/" in principal.arn:
        return "user"
    return "service"


def _where(policy_id: str) -> str:
    if policy_id.startswith("bucket-policy:") or policy_id.startswith("trust:"):
        return "a resource-based policy"
    if policy_id.startswith("session:"):
        return "a session policy"
    return "an identity-based policy"
