"""Processing in the SageMaker Python SDK's shape: a SageMaker example runs with its
import lines changed (``from sagebox.sdk.processing import SKLearnProcessor, ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagebox.errors import ValidationError
from sagebox.runtime.images import retrieve
from sagebox.sdk.names import name_from_base
from sagebox.session import Session

CODE_DESTINATION = "/opt/ml/processing/input/code"


class ProcessingInput:
    """An input: an S3 URI (or a local path, uploaded for you) staged at ``destination``."""

    def __init__(
        self,
        source: str | None = None,
        destination: str | None = None,
        input_name: str | None = None,
        s3_data_type: str = "S3Prefix",
        s3_input_mode: str = "File",
        s3_data_distribution_type: str = "FullyReplicated",
        s3_compression_type: str = "None",
        app_managed: bool = False,
    ) -> None:
        self.source = source
        self.destination = destination
        self.input_name = input_name
        self.s3_data_type = s3_data_type
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self.s3_compression_type = s3_compression_type
        self.app_managed = app_managed

    def to_request(self) -> dict[str, Any]:
        return {
            "InputName": self.input_name,
            "AppManaged": self.app_managed,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": self.s3_data_type,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                "S3CompressionType": self.s3_compression_type,
            },
        }


class ProcessingOutput:
    """An output folder ``source`` uploaded to ``destination`` (an S3 URI)."""

    def __init__(
        self,
        source: str | None = None,
        destination: str | None = None,
        output_name: str | None = None,
        s3_upload_mode: str = "EndOfJob",
        app_managed: bool = False,
    ) -> None:
        self.source = source
        self.destination = destination
        self.output_name = output_name
        self.s3_upload_mode = s3_upload_mode
        self.app_managed = app_managed

    def to_request(self) -> dict[str, Any]:
        return {
            "OutputName": self.output_name,
            "AppManaged": self.app_managed,
            "S3Output": {
                "S3Uri": self.destination,
                "LocalPath": self.source,
                "S3UploadMode": self.s3_upload_mode,
            },
        }


class ProcessingJob:
    """A started processing job: ``describe()``, ``wait()``, ``stop()``."""

    def __init__(
        self,
        session: Session,
        job_name: str,
        inputs: Sequence[ProcessingInput],
        outputs: Sequence[ProcessingOutput],
        instance_count: int = 1,
    ) -> None:
        self.sagebox_session = session
        self.job_name = job_name
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.instance_count = instance_count

    def describe(self) -> dict[str, Any]:
        return self.sagebox_session.control.describe_processing_job(ProcessingJobName=self.job_name)

    def stop(self) -> None:
        self.sagebox_session.control.stop_processing_job(ProcessingJobName=self.job_name)

    def wait(self, logs: bool = True) -> dict[str, Any]:
        """Block until the job ends, printing its log lines when ``logs``; raise if it failed."""
        description = self.sagebox_session.follow_job(
            "processing-job",
            self.job_name,
            self.describe,
            "ProcessingJobStatus",
            logs=logs,
            host_prefix=self.instance_count > 1,
        )
        if description["ProcessingJobStatus"] == "Failed":
            raise UnexpectedStatusError(description)
        return description


class UnexpectedStatusError(Exception):
    """Raised by ``wait()`` when a job ends Failed, as the SageMaker SDK does."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description
        reason = description.get("FailureReason", "no reason recorded")
        super().__init__(
            f"Error for Processing job {description['ProcessingJobName']}: Failed. Reason: {reason}"
        )


class Processor:
    """Runs a processing container (``image_uri`` with ``entrypoint``) on S3 data."""

    def __init__(
        self,
        role: str,
        image_uri: str,
        instance_count: int,
        instance_type: str,
        entrypoint: Sequence[str] | None = None,
        volume_size_in_gb: int = 30,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: Sequence[dict[str, str]] | None = None,
        network_isolation: bool = False,
    ) -> None:
        self.role = role
        self.image_uri = image_uri
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.entrypoint = list(entrypoint or [])
        self.volume_size_in_gb = volume_size_in_gb
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.env = env or {}
        self.tags = list(tags or [])
        self.network_isolation = network_isolation
        self.jobs: list[ProcessingJob] = []
        self.latest_job: ProcessingJob | None = None

    def _base_name(self) -> str:
        if self.base_job_name:
            return self.base_job_name
        repo = self.image_uri.rsplit("/", 1)[-1].split(":", 1)[0]
        return repo or "processing"

    def _normalize(
        self,
        job_name: str,
        inputs: Sequence[ProcessingInput] | None,
        outputs: Sequence[ProcessingOutput] | None,
    ) -> tuple[list[ProcessingInput], list[ProcessingOutput]]:
        session = self.sagemaker_session
        normalized_inputs = []
        for index, item in enumerate(inputs or []):
            name = item.input_name or f"input-{index + 1}"
            source = item.source
            if source is None:
                raise ValidationError(f"ProcessingInput '{name}' has no source.")
            if not source.startswith("s3://"):
                source = session.upload_data(source, key_prefix=f"{job_name}/input/{name}")
                if Path(item.source or "").is_dir():
                    source = source.rstrip("/") + "/"
            normalized_inputs.append(
                ProcessingInput(
                    source,
                    item.destination,
                    name,
                    item.s3_data_type,
                    item.s3_input_mode,
                    item.s3_data_distribution_type,
                    item.s3_compression_type,
                    item.app_managed,
                )
            )
        normalized_outputs = []
        for index, out in enumerate(outputs or []):
            name = out.output_name or f"output-{index + 1}"
            destination = out.destination or (
                f"s3://{session.default_bucket()}/{job_name}/output/{name}"
            )
            normalized_outputs.append(
                ProcessingOutput(out.source, destination, name, out.s3_upload_mode, out.app_managed)
            )
        return normalized_inputs, normalized_outputs

    def _start(
        self,
        job_name: str,
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
        entrypoint: list[str],
        arguments: Sequence[str] | None,
        experiment_config: dict[str, str] | None,
    ) -> ProcessingJob:
        app: dict[str, Any] = {"ImageUri": self.image_uri}
        if entrypoint:
            app["ContainerEntrypoint"] = entrypoint
        if arguments:
            app["ContainerArguments"] = [str(a) for a in arguments]
        request: dict[str, Any] = {
            "ProcessingJobName": job_name,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_in_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.role,
        }
        if inputs:
            request["ProcessingInputs"] = [i.to_request() for i in inputs]
        if outputs:
            request["ProcessingOutputConfig"] = {"Outputs": [o.to_request() for o in outputs]}
        if self.max_runtime_in_seconds:
            request["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        if self.env:
            request["Environment"] = self.env
        if self.tags:
            request["Tags"] = self.tags
        if self.network_isolation:
            request["NetworkConfig"] = {"EnableNetworkIsolation": True}
        if experiment_config:
            request["ExperimentConfig"] = experiment_config
        self.sagemaker_session.control.create_processing_job(**request)
        job = ProcessingJob(self.sagemaker_session, job_name, inputs, outputs, self.instance_count)
        self.jobs.append(job)
        self.latest_job = job
        return job

    def run(
        self,
        inputs: Sequence[ProcessingInput] | None = None,
        outputs: Sequence[ProcessingOutput] | None = None,
        arguments: Sequence[str] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
    ) -> ProcessingJob:
        name = job_name or name_from_base(self._base_name())
        ins, outs = self._normalize(name, inputs, outputs)
        job = self._start(name, ins, outs, self.entrypoint, arguments, experiment_config)
        if wait:
            job.wait(logs=logs)
        return job


class ScriptProcessor(Processor):
    """Runs a script (``code``) with ``command`` (e.g. ``["python3"]``) in an image."""

    def __init__(
        self,
        role: str,
        image_uri: str,
        command: Sequence[str],
        instance_count: int,
        instance_type: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, image_uri, instance_count, instance_type, **kwargs)
        self.command = list(command)

    def run(  # type: ignore[override]
        self,
        code: str,
        inputs: Sequence[ProcessingInput] | None = None,
        outputs: Sequence[ProcessingOutput] | None = None,
        arguments: Sequence[str] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
    ) -> ProcessingJob:
        name = job_name or name_from_base(self._base_name())
        session = self.sagemaker_session
        if code.startswith("s3://"):
            code_uri = code
        else:
            script = Path(code)
            if not script.is_file():
                raise ValidationError(f"The code {code!r} is not a file. Pass a script path.")
            code_uri = session.upload_data(script, key_prefix=f"{name}/input/code")
        code_input = ProcessingInput(code_uri, CODE_DESTINATION, "code")
        ins, outs = self._normalize(name, list(inputs or []), outputs)
        ins.append(code_input)
        script_name = code_uri.rsplit("/", 1)[-1]
        entrypoint = [*self.command, f"{CODE_DESTINATION}/{script_name}"]
        job = self._start(name, ins, outs, entrypoint, arguments, experiment_config)
        if wait:
            job.wait(logs=logs)
        return job


class SKLearnProcessor(ScriptProcessor):
    """Runs a script in the SageMaker scikit-learn image (here: the platform's Python)."""

    def __init__(
        self,
        framework_version: str,
        role: str,
        instance_type: str,
        instance_count: int,
        command: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        session: Session = kwargs.get("sagemaker_session") or Session()
        kwargs["sagemaker_session"] = session
        image_uri = retrieve("sklearn", session.region_name, framework_version)
        super().__init__(
            role, image_uri, list(command or ["python3"]), instance_count, instance_type, **kwargs
        )
