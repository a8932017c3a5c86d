"""Who holds which credentials: the lookup that request authentication relies on.

The home's root key lives in ``<home>/credentials``; IAM users' access keys and STS
session credentials are records of kind ``access-key`` in the metadata store (named by
the access key id, document: secret, principal ARN, status, session token, expiry).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from datetime import datetime

from sagebox.control.authorize import Principal
from sagebox.errors import ResourceNotFound
from sagebox.home import Home

ACCESS_KEY_KIND = "access-key"


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None
    expiration: datetime | None = None
    active: bool = True


class CredentialStore:
    """Finds the credential behind an access key id (root, IAM user, or STS session)."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def root(self) -> Credential:
        parser = configparser.ConfigParser()
        parser.read(self.home.credentials_path)
        section = parser["default"]
        return Credential(
            section["aws_access_key_id"],
            section["aws_secret_access_key"],
            Principal(self.home.root_arn, self.home.account_id),
        )

    def lookup(self, access_key_id: str) -> Credential | None:
        """The credential for ``access_key_id``, or None when no such key exists."""
        root = self.root()
        if access_key_id == root.access_key_id:
            return root
        try:
            record = self.home.metadata.get(ACCESS_KEY_KIND, access_key_id)
        except ResourceNotFound:
            return None
        doc = record.document
        expiration = doc.get("Expiration")
        return Credential(
            access_key_id,
            str(doc["SecretAccessKey"]),
            Principal(str(doc["PrincipalArn"]), self.home.account_id),
            session_token=doc.get("SessionToken"),
            expiration=datetime.fromisoformat(expiration) if expiration else None,
            active=record.status == "Active",
        )
