"""Framework estimators (script mode) in the SageMaker Python SDK's shape.

```python
from sagebox.sdk.sklearn import SKLearn

sk = SKLearn(entry_point="train.py", source_dir="src", framework_version="1.2-1",
             role=role, instance_type="ml.m5.large", hyperparameters={"n-estimators": 50},
             sagemaker_session=session)
sk.fit({"train": "s3://bucket/train/"})
sk.model_data   # s3://<output>/<job>/output/model.tar.gz
```

``fit`` packs ``sourcedir.tar.gz`` (the whole ``source_dir``, or only the entry point when
there is none, plus ``dependencies``), uploads it to
``<code_location or s3://<output bucket>>/<job name>/source/sourcedir.tar.gz`` and sets the
``sagemaker_*`` hyperparameters, every hyperparameter JSON-encoded, as the SageMaker SDK
does; the job runs the script as the training toolkit would (docs/script-mode.md).
"""

from __future__ import annotations

import json
import logging
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from sagebox.errors import ValidationError
from sagebox.runtime.images import retrieve
from sagebox.sdk.estimator import Estimator, TrainingInput
from sagebox.session import Session
from sagebox.store.objects import parse_s3_uri

__all__ = ["Framework", "TrainingInput", "pack_source"]

_SKIPPED = ("__pycache__", ".git", ".ipynb_checkpoints")


def _add_tree(tar: tarfile.TarFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in _SKIPPED for part in relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_file():
            name = PurePosixPath(prefix, relative.as_posix()).as_posix()
            tar.add(path, arcname=name)  # links are followed: the archive holds files


def pack_source(
    entry_point: str,
    source_dir: str | Path | None,
    dependencies: Sequence[str | Path],
    target: Path,
) -> str:
    """Write ``target`` (sourcedir.tar.gz) as the SageMaker SDK packs it; returns the
    entry point's path inside the archive (``sagemaker_program``)."""
    if source_dir is not None:
        folder = Path(source_dir)
        if not folder.is_dir():
            raise ValidationError(
                f"source_dir {str(source_dir)!r} is not a folder. Pass the folder that holds "
                "the entry point, or leave it out to upload the entry point alone."
            )
        if not (folder / entry_point).is_file():
            raise ValidationError(
                f"entry_point {entry_point!r} is not a file in source_dir {str(folder)!r}. "
                "Give its path relative to source_dir."
            )
        program = PurePosixPath(Path(entry_point).as_posix()).as_posix()
    else:
        script = Path(entry_point)
        if not script.is_file():
            raise ValidationError(
                f"entry_point {entry_point!r} is not a file. Pass the training script's path "
                "(or its name inside source_dir)."
            )
        program = script.name
    with tarfile.open(target, "w:gz", dereference=True) as tar:
        if source_dir is not None:
            _add_tree(tar, Path(source_dir), "")
        else:
            tar.add(Path(entry_point), arcname=program)
        for dependency in dependencies:
            path = Path(dependency)
            if path.is_dir():
                _add_tree(tar, path, path.resolve().name)
            elif path.is_file():
                tar.add(path, arcname=path.name)
            else:
                raise ValidationError(
                    f"The dependency {str(dependency)!r} is neither a file nor a folder. "
                    "Pass paths of local folders (libraries) or files to ship with the code."
                )
    return program


class Framework(Estimator):
    """Runs the user's ``entry_point`` in a framework image (script mode).

    Subclasses name the image (``_framework``) and its defaults; the constructor only
    stores its parameters, as in the SageMaker SDK (the image URI is resolved in ``fit``).
    """

    _framework: ClassVar[str] = ""
    _default_py_version: ClassVar[str | None] = None

    def __init__(
        self,
        entry_point: str,
        source_dir: str | Path | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        container_log_level: int = logging.INFO,
        code_location: str | None = None,
        image_uri: str | None = None,
        dependencies: Sequence[str | Path] | None = None,
        enable_network_isolation: bool = False,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        *,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.xlarge",
        framework_version: str | None = None,
        py_version: str | None = None,
        sagemaker_session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_uri or "",
            role,
            instance_count,
            instance_type,
            sagemaker_session=sagemaker_session,
            enable_network_isolation=enable_network_isolation,
            checkpoint_s3_uri=checkpoint_s3_uri,
            **kwargs,
        )
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.container_log_level = container_log_level
        self.code_location = code_location
        self.dependencies = list(dependencies or [])
        self.checkpoint_local_path = checkpoint_local_path
        self.framework_version = framework_version
        self.py_version = py_version or self._default_py_version
        self._user_hyperparameters: dict[str, Any] = dict(hyperparameters or {})
        self._sagemaker_hyperparameters: dict[str, Any] = {}
        self.uploaded_code: str | None = None

    # ---- hyperparameters, JSON-encoded as the SageMaker SDK sends them ------------------
    def set_hyperparameters(self, **values: Any) -> None:
        self._user_hyperparameters.update(values)

    def hyperparameters(self) -> dict[str, str]:
        values = {
            **self._user_hyperparameters,
            **self._distribution_hyperparameters(),
            **self._sagemaker_hyperparameters,
        }
        return {name: json.dumps(value) for name, value in values.items()}

    def _distribution_hyperparameters(self) -> dict[str, Any]:
        """The ``sagemaker_*`` switches of ``distribution`` (PyTorch overrides it)."""
        return {}

    # ---- the image and the code ----------------------------------------------------------
    def training_image_uri(self) -> str:
        """The image the job runs: ``image_uri``, else the framework's for this region."""
        if self.image_uri:
            return self.image_uri
        if self.framework_version is None:
            raise ValidationError(
                f"{type(self).__name__} needs framework_version (e.g. "
                f"{self._example_version()!r}) or image_uri; got neither."
            )
        return retrieve(
            self._framework,
            self.sagemaker_session.region_name,
            self.framework_version,
            py_version=self.py_version,
            instance_type=self.instance_type,
        )

    def _example_version(self) -> str:
        from sagebox.runtime.images import REGISTRY

        versions = [e.versions[-1] for e in REGISTRY if e.name == self._framework]
        return versions[0] if versions else "latest"

    def _code_prefix(self) -> tuple[str, str]:
        """Bucket and key prefix under which ``<job>/source/sourcedir.tar.gz`` goes."""
        if self.code_location:
            uri = parse_s3_uri(self.code_location)
            return uri.bucket, uri.key.strip("/")
        if self.output_path and self.output_path.startswith("s3://"):
            return parse_s3_uri(self.output_path).bucket, ""
        return self.sagemaker_session.default_bucket(), ""

    def _stage_code(self, job_name: str) -> tuple[str, str]:
        """Upload the code (unless ``source_dir`` is already an S3 archive); returns the
        submit directory's S3 URI and the program's name in it."""
        if isinstance(self.source_dir, str) and self.source_dir.startswith("s3://"):
            parse_s3_uri(self.source_dir)
            return self.source_dir, self.entry_point
        bucket, prefix = self._code_prefix()
        key_prefix = "/".join(p for p in (prefix, job_name, "source") if p)
        with tempfile.TemporaryDirectory(prefix="sagebox-source-") as scratch:
            archive = Path(scratch) / "sourcedir.tar.gz"
            program = pack_source(self.entry_point, self.source_dir, self.dependencies, archive)
            uri = self.sagemaker_session.upload_data(archive, bucket=bucket, key_prefix=key_prefix)
        return uri, program

    # ---- the job ---------------------------------------------------------------------------
    def fit(
        self,
        inputs: Mapping[str, str | TrainingInput] | str | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: Mapping[str, str] | None = None,
    ) -> None:
        self.image_uri = self.training_image_uri()  # the default job name is the image's
        name = job_name or self._job_name()
        self._prepare_for_training(name)
        super().fit(
            inputs, wait=wait, logs=logs, job_name=name, experiment_config=experiment_config
        )

    def _prepare_for_training(self, job_name: str) -> None:
        """Resolve the image and stage the code (also for a tuner's training job definition)."""
        self.image_uri = self.training_image_uri()
        self.uploaded_code, program = self._stage_code(job_name)
        self._sagemaker_hyperparameters = {
            "sagemaker_program": program,
            "sagemaker_submit_directory": self.uploaded_code,
            "sagemaker_container_log_level": self.container_log_level,
            "sagemaker_job_name": job_name,
            "sagemaker_region": self.sagemaker_session.region_name,
        }

    def _request_fields(self) -> dict[str, Any]:
        if self.checkpoint_s3_uri and self.checkpoint_local_path:
            return {
                "CheckpointConfig": {
                    "S3Uri": self.checkpoint_s3_uri,
                    "LocalPath": self.checkpoint_local_path,
                }
            }
        return {}

    def _model_code(self) -> dict[str, Any]:
        """The training script serves too (its ``model_fn`` etc.), as in SageMaker."""
        if self.uploaded_code is None:
            return {}
        program = self._sagemaker_hyperparameters.get("sagemaker_program", self.entry_point)
        return {"entry_point": str(program), "source_dir": self.uploaded_code}
