"""The authorization hook called before every operation.

``authorize(principal, action, resource, context)`` raises :class:`AccessDenied` or
returns. This first version lets the home's root do everything and denies every other
principal; the IAM policy engine replaces it with AWS's evaluation logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sagebox.errors import AccessDenied


@dataclass(frozen=True)
class Principal:
    arn: str
    account_id: str

    @property
    def is_root(self) -> bool:
        return self.arn == f"arn:aws:iam::{self.account_id}:root"


class Authorizer(Protocol):
    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Raise ``AccessDenied`` unless allowed; the allowing statement for the audit
        (``{"policy", "index", "sid"}``), or None where no statement decided."""
        ...


class RootOnlyAuthorizer:
    """Allows the account's root principal; denies everyone else."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if principal.account_id == self.account_id and principal.is_root:
            return None
        raise AccessDenied(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )
