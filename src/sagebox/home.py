"""The home: one folder that holds a sagebox installation's state.

``SAGEBOX_HOME`` (default ``~/.sagebox``) holds ``config.json`` (account id, region,
capacity, store URLs), the metadata database, ``s3/`` (the default object store),
``jobs/`` (job directories while jobs run), ``logs/`` and ``credentials`` (mode 0600,
AWS credentials-file format) with the root access key.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.errors import ValidationError
from sagebox.files import write_text

if TYPE_CHECKING:
    from sagebox.store.metadata import MetadataStore
    from sagebox.store.objects import ObjectStore

DEFAULT_REGION = "us-east-1"
CONFIG_FILE = "config.json"
GLOBAL_SERVICES = frozenset({"iam", "sts"})


def default_home_path() -> Path:
    """``$SAGEBOX_HOME`` if set, else ``~/.sagebox``."""
    env = os.environ.get("SAGEBOX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".sagebox"


def _default_capacity() -> dict[str, int]:
    # Job instances that may run at once. Instance types describe what a job asks for;
    # the machine decides how many run together, and the rest wait in the queue.
    return {"max_instances": max(4, os.cpu_count() or 1)}


@dataclass(frozen=True)
class Config:
    account_id: str
    region: str
    capacity: dict[str, int] = field(default_factory=_default_capacity)
    metadata_url: str | None = None
    objects_url: str | None = None
    stop_grace_seconds: float = 30.0
    # None: MLflow's store is the home's SQLite database (see sagebox.experiments.store)
    mlflow_tracking_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "capacity": self.capacity,
            "metadata_url": self.metadata_url,
            "objects_url": self.objects_url,
            "stop_grace_seconds": self.stop_grace_seconds,
            "mlflow_tracking_uri": self.mlflow_tracking_uri,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> Config:
        try:
            account = str(data["account_id"])
            region = str(data["region"])
        except KeyError as missing:
            raise ValidationError(
                f"The home configuration {path} has no {missing} entry. "
                "Add it, or move the file away and run 'sagebox init' to make a new one."
            ) from None
        if len(account) != 12 or not account.isdigit():
            raise ValidationError(
                f"The account_id in {path} must be 12 digits; got {account!r}. Fix the file."
            )
        capacity = {**_default_capacity(), **data.get("capacity", {})}
        return cls(
            account_id=account,
            region=region,
            capacity=capacity,
            metadata_url=data.get("metadata_url"),
            objects_url=data.get("objects_url"),
            stop_grace_seconds=float(data.get("stop_grace_seconds", 30.0)),
            mlflow_tracking_uri=data.get("mlflow_tracking_uri"),
        )


def _new_access_key() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_alphabet = string.ascii_letters + string.digits + "+/"
    secret = "".join(secrets.choice(secret_alphabet) for _ in range(40))
    return key_id, secret


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


class Home:
    """A sagebox home folder; stores are opened lazily on first use."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.config = config

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Home:
        """Open the home at ``path`` (default :func:`default_home_path`), creating it if new."""
        root = Path(path).expanduser().resolve() if path else default_home_path().resolve()
        config_path = root / CONFIG_FILE
        if not config_path.exists():
            if not create:
                raise ValidationError(
                    f"No sagebox home at {root}. Run 'sagebox init --home {root}' first."
                )
            cls._create(root)
        try:
            data = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"The home configuration {config_path} is not valid JSON ({exc}). Fix the file."
            ) from None
        return cls(root, Config.from_json(data, config_path))

    @staticmethod
    def _create(root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("s3", "jobs", "logs"):
            (root / sub).mkdir(exist_ok=True)
        account = str(secrets.randbelow(9 * 10**11) + 10**11)
        region = os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)
        config = Config(account_id=account, region=region)
        key_id, secret = _new_access_key()
        credentials = root / "credentials"
        if not credentials.exists():
            _write_private(
                credentials,
                f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
            )
        # Written last and atomically: a home exists once its config does.
        write_text(root / CONFIG_FILE, json.dumps(config.to_json(), indent=2) + "\n")

    # Paths
    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def credentials_path(self) -> Path:
        return self.path / "credentials"

    @property
    def jobs_path(self) -> Path:
        return self.path / "jobs"

    @property
    def logs_path(self) -> Path:
        return self.path / "logs"

    @property
    def metadata_url(self) -> str:
        return self.config.metadata_url or f"sqlite:///{self.path / 'metadata.db'}"

    @property
    def objects_url(self) -> str:
        return self.config.objects_url or (self.path / "s3").as_uri()

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"

    # Stores
    @cached_property
    def metadata(self) -> MetadataStore:
        from sagebox.store.metadata import open_metadata_store

        return open_metadata_store(self.metadata_url)

    @cached_property
    def objects(self) -> ObjectStore:
        from sagebox.store.objects import open_object_store

        return open_object_store(self.objects_url)

    def arn(self, service: str, resource: str) -> str:
        """The ARN of ``resource`` (e.g. ``processing-job/name``) in this home's account.

        IAM and STS are global services: their ARNs have no region.
        """
        region = "" if service in GLOBAL_SERVICES else self.region
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"

    def __repr__(self) -> str:
        return f"Home({str(self.path)!r}, account={self.account_id}, region={self.region})"
