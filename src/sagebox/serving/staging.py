"""Staging a model for an endpoint's workers: its data, its code, its environment.

The endpoint's host stages each variant's model once per deployment, reading S3 as the
model's execution role (as SageMaker does when it downloads model data): the
model.tar.gz extracted (or an uncompressed prefix copied) into ``<folder>/model``, and a
``SAGEMAKER_SUBMIT_DIRECTORY`` in S3 (the SageMaker SDK's ``sourcedir.tar.gz``) into
``model/code``. The environment the workers get points there, so the handlers find the
user's ``inference.py`` in a plain folder whatever the model's environment said.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath

from sagebox.errors import SageboxError
from sagebox.home import Home
from sagebox.serving.deployment import ModelSpec
from sagebox.store.objects import ObjectStore, parse_s3_uri

__all__ = ["StagingError", "stage_model"]

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
CONTAINER_MODEL_DIR = "/opt/ml/model"
# The object store as an execution role sees it (every read authorized and audited).
ROLE_OBJECTS = "sagebox.control.job_access:RoleObjectStore"


class StagingError(Exception):
    """The model's data could not be staged; the message is fit for a ``FailureReason``."""


def objects_for(home: Home, role_arn: str | None) -> ObjectStore:
    """The object store as ``role_arn``'s SageMaker session; the home's without a role
    (CreateModel then checked that the caller could read the data)."""
    if not role_arn:
        return home.objects
    from sagebox.runtime.reporting import load_factory

    role_name = role_arn.rsplit("/", 1)[-1]
    session = f"arn:aws:sts::{home.account_id}:assumed-role/{role_name}/SageMaker"
    store: ObjectStore = load_factory(ROLE_OBJECTS)(home, session, role_arn)
    return store


def stage_model(home: Home, model: ModelSpec, target: Path) -> dict[str, str]:
    """Stage ``model`` into ``target`` (created); the environment its workers get."""
    store = objects_for(home, model.role_arn)
    target.mkdir(parents=True, exist_ok=True)
    if model.model_data:
        _stage(store, model.model_data, model.compressed, target, "model data")
    environment = dict(model.environment)
    submit = environment.get(SUBMIT_DIRECTORY, "")
    if submit.startswith("s3://"):
        code = target / "code"
        _stage(store, submit, not submit.endswith("/"), code, "source directory")
        environment[SUBMIT_DIRECTORY] = str(code)
    elif submit.startswith("file://"):
        environment[SUBMIT_DIRECTORY] = submit.removeprefix("file://")
    elif submit == CONTAINER_MODEL_DIR or submit.startswith(CONTAINER_MODEL_DIR + "/"):
        # The SageMaker SDK repacks the code into model.tar.gz's code/ and points here.
        relative = PurePosixPath(submit).relative_to(CONTAINER_MODEL_DIR)
        environment[SUBMIT_DIRECTORY] = str(target / relative)
    return environment


def _stage(store: ObjectStore, uri: str, is_archive: bool, target: Path, what: str) -> None:
    parsed = parse_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if is_archive:
            _extract(store, parsed.bucket, parsed.key, target, uri, what)
            return
        found = False
        for info in store.iter_objects(parsed.bucket, parsed.key):
            relative = info.key[len(parsed.key) :].lstrip("/")
            parts = PurePosixPath(relative).parts
            if not relative or relative.endswith("/"):
                continue
            if any(p in ("..", ".") for p in parts):
                raise StagingError(
                    f"Could not stage {what} from {uri}: the key {info.key!r} has a '.' or "
                    "'..' path segment. Rename the object."
                )
            store.download_file(parsed.bucket, info.key, target / relative)
            found = True
        if not found:
            raise StagingError(f"Could not stage {what}: no objects under {uri}.")
    except SageboxError as exc:
        raise StagingError(f"Could not download {what} from {uri}: {exc.message}") from None


def _extract(store: ObjectStore, bucket: str, key: str, target: Path, uri: str, what: str) -> None:
    from sagebox import archives

    def refused(member: str, problem: str) -> Exception:
        return StagingError(
            f"Refusing {what} {uri}: member {member!r} {problem}. Pack plain files only "
            "(tar -czf model.tar.gz -C model .)."
        )

    def unreadable(reason: str) -> Exception:
        return StagingError(f"The {what} {uri} is not a readable tar.gz: {reason}.")

    with tempfile.TemporaryDirectory(prefix="sagebox-stage-", dir=target.parent) as scratch:
        archive = Path(scratch) / "data.tar.gz"
        store.download_file(bucket, key, archive)
        archives.safe_extract(archive, target, refused, unreadable)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
