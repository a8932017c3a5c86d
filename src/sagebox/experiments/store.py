"""Where a home's MLflow tracking store is, and a client on it.

By default the store is the home's own: runs in ``sqlite:///<home>/mlflow/mlflow.db``
(MLflow's recommended local backend) and artifacts under ``<home>/mlflow/artifacts``.
``mlflow_tracking_uri`` in the home's ``config.json`` points elsewhere: an MLflow server
(``http(s)://...``, which then owns the artifacts) or a database URL.

sagebox never changes the process-wide MLflow state (``mlflow.set_tracking_uri`` and
the like): everything goes through an explicit :class:`mlflow.MlflowClient`, so a user's
own MLflow setup in the same Python process is left as it is.
"""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sagebox.errors import ValidationError
from sagebox.home import Home

if TYPE_CHECKING:
    from mlflow import MlflowClient

STORE_DIR = "mlflow"
DEFAULT_EXPERIMENT_ID = "0"  # MLflow's "Default" experiment
_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def store_path(home: Home) -> Path:
    """The home's MLflow folder (database, artifacts, lock)."""
    return home.path / STORE_DIR


def tracking_uri(home: Home) -> str:
    """The home's tracking URI: its configured ``mlflow_tracking_uri`` or its SQLite store."""
    return home.config.mlflow_tracking_uri or f"sqlite:///{store_path(home) / 'mlflow.db'}"


def artifact_root(home: Home) -> Path:
    """Where artifacts of experiments that sagebox creates in a database store go."""
    return store_path(home) / "artifacts"


def is_database(uri: str) -> bool:
    """True for a SQLAlchemy database URL (``sqlite:///``, ``postgresql+psycopg://`` ...)."""
    scheme = uri.partition(":")[0].partition("+")[0].lower()
    return scheme in _DATABASE_SCHEMES


def uses_home_store(home: Home) -> bool:
    return home.config.mlflow_tracking_uri is None


def home_store_exists(home: Home) -> bool:
    """False for a home whose own store was never written (nothing logged yet)."""
    return not uses_home_store(home) or (store_path(home) / "mlflow.db").exists()


def quiet_environment() -> None:
    """MLflow sends usage telemetry unless told not to; sagebox never does."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


@contextmanager
def store_lock(home: Home) -> Iterator[None]:
    """Serialise writers in one home: two supervisors that finish at once would otherwise
    race to create the SQLite schema, the same experiment or the same trial's parent run."""
    folder = store_path(home)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_client(home: Home) -> MlflowClient:
    """An MLflow client on the home's tracking store, created on first use.

    Do not call it while holding :func:`store_lock` (the lock is not re-entrant).

    Creating a database store here (rather than letting the client do it) gives its
    "Default" experiment an artifact location in the home instead of ``./mlruns`` under
    whatever folder the process happens to run in.
    """
    quiet_environment()
    from mlflow import MlflowClient

    uri = tracking_uri(home)
    if is_database(uri):
        # Under the lock: MLflow's schema migrations are not safe to run twice at once.
        with store_lock(home):
            _database_store(uri, str(artifact_root(home)))
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@functools.cache
def _database_store(uri: str, root: str) -> object:
    """One SqlAlchemyStore per (database, artifact root) per process; it creates the
    schema and the Default experiment the first time, and checks the schema's version."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    Path(root).mkdir(parents=True, exist_ok=True)
    return SqlAlchemyStore(uri, root)


def experiment_id(home: Home, client: MlflowClient, name: str | None) -> str:
    """The id of the experiment called ``name`` (made if missing); "Default" for None."""
    if name is None:
        return DEFAULT_EXPERIMENT_ID
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage != "active":
            raise ValidationError(
                f"The MLflow experiment {name!r} is deleted, so the run cannot be logged in "
                "it. Restore it in the MLflow UI (or client.restore_experiment("
                f"{found.experiment_id!r})), or use another ExperimentName."
            )
        return str(found.experiment_id)
    uri = tracking_uri(home)
    if is_database(uri):
        # Through the store: its artifact root puts the experiment's artifacts at
        # <home>/mlflow/artifacts/<experiment id>, the layout of `mlflow server`.
        store = _database_store(uri, str(artifact_root(home)))
        return str(store.create_experiment(name))  # type: ignore[attr-defined]
    return str(client.create_experiment(name))
