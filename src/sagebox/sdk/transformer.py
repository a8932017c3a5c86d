"""``Transformer``, as ``sagemaker.transformer.Transformer``: batch transform jobs.

```python
from sagebox.sdk.transformer import Transformer

transformer = Transformer("loan-model", instance_count=1, instance_type="ml.m5.xlarge",
                          strategy="MultiRecord", assemble_with="Line",
                          output_path="s3://b/scores/")
transformer.transform("s3://b/portfolio/", content_type="text/csv", split_type="Line")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.session import Session

__all__ = ["TransformFailedError", "Transformer"]


class TransformFailedError(Exception):
    """Raised by ``transform(wait=True)`` when the job ends Failed."""

    def __init__(self, description: Mapping[str, Any]) -> None:
        self.description = description
        super().__init__(
            f"Error for Transform job {description['TransformJobName']}: "
            f"{description['TransformJobStatus']}. Reason: "
            f"{description.get('FailureReason', 'no reason recorded')}"
        )


class Transformer:
    """Runs transform jobs for one model; ``latest_transform_job`` names the last one."""

    def __init__(
        self,
        model_name: str,
        instance_count: int,
        instance_type: str,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        env: Mapping[str, str] | None = None,
        base_transform_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = strategy
        self.assemble_with = assemble_with
        self.output_path = output_path
        self.output_kms_key = output_kms_key
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.tags = list(tags or [])
        self.env = dict(env or {})
        self.base_transform_job_name = base_transform_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.latest_transform_job: str | None = None

    def _output_path(self, job_name: str) -> str:
        if self.output_path:
            return self.output_path
        return f"s3://{self.sagemaker_session.default_bucket()}/{job_name}"

    def transform(
        self,
        data: str,
        data_type: str = "S3Prefix",
        content_type: str | None = None,
        compression_type: str | None = None,
        split_type: str | None = None,
        job_name: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        wait: bool = True,
        logs: bool = True,
        **kwargs: Any,
    ) -> None:
        """CreateTransformJob over ``data`` (an S3 prefix or manifest), then wait."""
        from sagebox.sdk.names import base_of, name_from_base

        name = job_name or name_from_base(self.base_transform_job_name or base_of(self.model_name))
        self.output_path = self._output_path(name)
        transform_input: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": data}}
        }
        if content_type:
            transform_input["ContentType"] = content_type
        if compression_type:
            transform_input["CompressionType"] = compression_type
        if split_type:
            transform_input["SplitType"] = split_type
        output: dict[str, Any] = {"S3OutputPath": self.output_path}
        if self.accept:
            output["Accept"] = self.accept
        if self.assemble_with:
            output["AssembleWith"] = self.assemble_with
        if self.output_kms_key:
            output["KmsKeyId"] = self.output_kms_key
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "TransformInput": transform_input,
            "TransformOutput": output,
            "TransformResources": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
            },
        }
        if self.strategy:
            request["BatchStrategy"] = self.strategy
        if self.max_concurrent_transforms is not None:
            request["MaxConcurrentTransforms"] = self.max_concurrent_transforms
        if self.max_payload is not None:
            request["MaxPayloadInMB"] = self.max_payload
        if self.env:
            request["Environment"] = self.env
        if self.tags:
            request["Tags"] = self.tags
        processing = {
            key: value
            for key, value in (
                ("InputFilter", input_filter),
                ("OutputFilter", output_filter),
                ("JoinSource", join_source),
            )
            if value
        }
        if processing:
            request["DataProcessing"] = processing
        self.sagemaker_session.sagemaker_client.create_transform_job(**request)
        self.latest_transform_job = name
        if wait:
            self.wait(logs=logs)

    def describe(self) -> dict[str, Any]:
        if self.latest_transform_job is None:
            raise ValueError("No transform job yet: call transform() first.")
        result: dict[str, Any] = self.sagemaker_session.sagemaker_client.describe_transform_job(
            TransformJobName=self.latest_transform_job
        )
        return result

    def wait(self, logs: bool = True) -> dict[str, Any]:
        name = self.latest_transform_job or ""
        description = self.sagemaker_session.follow_job(
            "transform-job", name, self.describe, "TransformJobStatus", logs=logs and bool(name)
        )
        if description["TransformJobStatus"] == "Failed":
            raise TransformFailedError(description)
        return description

    def stop_transform_job(self, wait: bool = True) -> None:
        if self.latest_transform_job is None:
            raise ValueError("No transform job to stop.")
        self.sagemaker_session.sagemaker_client.stop_transform_job(
            TransformJobName=self.latest_transform_job
        )
        if wait:
            self.sagemaker_session.wait_for_job(self.describe, "TransformJobStatus")
