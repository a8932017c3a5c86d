"""The IAM authorizer: AWS's policy evaluation over the home's principals and policies.

For each request it gathers the policies that apply — a user's inline and attached
policies and those of its groups, a role session's role policies and session policies,
the permissions boundary, and the resource-based policy of the target (a role's trust
policy for ``sts:AssumeRole``, a bucket policy for S3) — asks the policy engine, writes
the decision to the audit log, and raises ``AccessDenied`` in AWS's words.
"""

from __future__ import annotations

from collections.abc import Mapping
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


@lru_cache(maxsize=4096)
def _parsed(document: str, kind: str) -> Policy:
    from sagebox.iam import parse_policy

    return parse_policy(document, kind)  # type: ignore[arg-type]


class PolicyAuthorizer:
    """Decides every request by IAM policy; the root principal is allowed unless denied."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.audit = AuditLog(home.logs_path / "audit")

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

    def policy_set(
        self,
        principal: Principal,
        action: str,
        resource: str,
        session: Mapping[str, Any] | None = None,
    ) -> PolicySet:
        from sagebox.iam import PolicySet

        identity: list[NamedPolicy] = []
        boundary = None
        sessions: list[NamedPolicy] = []
        arn = principal.arn
        if ":user/" in arn:
            name = arn.rsplit("/", 1)[-1]
            identity, doc = self._entity_policies("iam-user", name)
            for group in doc.get("_Groups", []):
                identity += self._entity_policies("iam-group", group)[0]
            boundary = self._boundary(doc)
        elif ":assumed-role/" in arn:
            role = arn.rsplit(":", 1)[-1].split("/")[1]
            identity, doc = self._entity_policies("iam-role", role)
            boundary = self._boundary(doc)
            if session:
                if session.get("SessionPolicy"):
                    sessions.append(self._named(f"session:{arn}", session["SessionPolicy"]))
                sessions += self._managed(list(session.get("PolicyArns", [])))
        return PolicySet(
            identity=tuple(identity),
            resource=tuple(self._resource_policies(action, resource)),
            boundary=boundary,
            session=tuple(sessions),
        )

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
        policies = self.policy_set(principal, action, resource, session)
        keys = {k: v for k, v in context.items() if not k.startswith("sagebox:")}
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

    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> None:
        decision = self.decide(principal, action, resource, context)
        deciding = decision.matched[0] if decision.matched else None
        self.audit.write(
            AuditEvent(
                eventTime=datetime.now(UTC).isoformat(),
                principal=principal.arn,
                action=action,
                resource=resource,
                sourceIp=context.get("aws:SourceIp"),
                decision=decision.decision,
                statement=None
                if deciding is None
                else {
                    "policy": deciding.policy_id,
                    "index": deciding.statement_index,
                    "sid": deciding.sid,
                },
                requestId=str(context.get("sagebox:request_id", "")),
            )
        )
        if decision.decision == "allowed":
            return
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
