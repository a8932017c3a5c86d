"""``Model`` and ``ModelPackage``, as ``sagemaker.model``: deploy, batch-transform, register.

```python
from sagebox.sdk.model import Model
from sagebox.sdk.serverless import ServerlessInferenceConfig

model = Model(image_uri, model_data="s3://b/job/output/model.tar.gz", role=role)
predictor = model.deploy(serverless_inference_config=ServerlessInferenceConfig(
    memory_size_in_mb=4096, max_concurrency=20, provisioned_concurrency=5))
model.transformer(instance_count=1, instance_type="ml.m5.xlarge",
                  output_path="s3://b/scores/").transform("s3://b/test/", content_type="text/csv",
                                                          split_type="Line")
```
A model with an ``entry_point`` (an ``inference.py`` with ``model_fn`` / ``input_fn`` /
``predict_fn`` / ``output_fn``) ships it as ``SAGEMAKER_SUBMIT_DIRECTORY`` and
``SAGEMAKER_PROGRAM``, as the SageMaker SDK does; its functions override the image's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.sdk.names import name_from_base
from sagebox.sdk.predictor import Predictor
from sagebox.session import Session

if TYPE_CHECKING:
    from sagebox.sdk.model_metrics import ModelMetrics
    from sagebox.sdk.model_monitor import DataCaptureConfig
    from sagebox.sdk.serverless import ServerlessInferenceConfig
    from sagebox.sdk.transformer import Transformer

__all__ = ["Model", "ModelPackage", "name_from_base", "wait_for_endpoint"]


class EndpointFailedError(Exception):
    """Raised by ``deploy(wait=True)`` when the endpoint ends Failed."""


def wait_for_endpoint(session: Session, name: str, poll: float = 0.2) -> dict[str, Any]:
    """Poll until the endpoint is InService; raise if it failed."""
    while True:
        description: dict[str, Any] = session.sagemaker_client.describe_endpoint(EndpointName=name)
        status = description["EndpointStatus"]
        if status == "InService":
            return description
        if status == "Failed":
            raise EndpointFailedError(
                f"Endpoint {name} failed: {description.get('FailureReason', 'no reason recorded')}"
            )
        time.sleep(poll)


class Model:
    """A model: an inference image, model data and an execution role."""

    def __init__(
        self,
        image_uri: str,
        model_data: str | None = None,
        role: str | None = None,
        predictor_cls: type[Predictor] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        sagemaker_session: Session | None = None,
        enable_network_isolation: bool = False,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: Sequence[str] | None = None,
        code_location: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.image_uri = image_uri
        self.model_data = model_data
        self.role = role
        self.predictor_cls = predictor_cls or Predictor
        self.env = dict(env or {})
        self.name = name
        self.sagemaker_session = sagemaker_session or Session()
        self.enable_network_isolation = enable_network_isolation
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = list(dependencies or [])
        self.code_location = code_location
        self.endpoint_name: str | None = None
        self._created = False

    # ---- the SageMaker model ------------------------------------------------------------
    def _base_name(self) -> str:
        return self.image_uri.rsplit("/", 1)[-1].split(":", 1)[0].replace(".", "-")

    def _stage_code(self) -> dict[str, str]:
        """Upload the inference code; the environment that names it."""
        if self.entry_point is None:
            return {}
        if self.source_dir and self.source_dir.startswith("s3://"):
            return {
                "SAGEMAKER_PROGRAM": self.entry_point,
                "SAGEMAKER_SUBMIT_DIRECTORY": self.source_dir,
            }
        from sagebox.sdk.framework import pack_source

        session = self.sagemaker_session
        bucket = session.default_bucket()
        prefix = f"{self.name}/source"
        if self.code_location:
            from sagebox.store.objects import parse_s3_uri

            where = parse_s3_uri(self.code_location)
            bucket, prefix = where.bucket, f"{where.key.strip('/')}/{self.name}/source".lstrip("/")
        with tempfile.TemporaryDirectory(prefix="sagebox-source-") as scratch:
            archive = Path(scratch) / "sourcedir.tar.gz"
            program = pack_source(self.entry_point, self.source_dir, self.dependencies, archive)
            uri = session.upload_data(archive, bucket=bucket, key_prefix=prefix)
        return {"SAGEMAKER_PROGRAM": program, "SAGEMAKER_SUBMIT_DIRECTORY": uri}

    def _container(self) -> dict[str, Any]:
        container: dict[str, Any] = {"Image": self.image_uri}
        if self.model_data:
            container["ModelDataUrl"] = self.model_data
        environment = {**self.env, **self._stage_code()}
        if environment:
            container["Environment"] = environment
        return container

    def create(self, instance_type: str | None = None) -> str:
        """CreateModel (once); returns the model's name."""
        if self._created and self.name:
            return self.name
        if self.role is None:
            raise ValueError("Model needs role= (an execution role ARN) to be created.")
        self.name = self.name or name_from_base(self._base_name())
        request: dict[str, Any] = {
            "ModelName": self.name,
            "PrimaryContainer": self._container(),
            "ExecutionRoleArn": self.role,
        }
        if self.enable_network_isolation:
            request["EnableNetworkIsolation"] = True
        self.sagemaker_session.sagemaker_client.create_model(**request)
        self._created = True
        return self.name

    def delete_model(self) -> None:
        if self.name is None:
            raise ValueError("The model was not created yet; nothing to delete.")
        self.sagemaker_session.sagemaker_client.delete_model(ModelName=self.name)
        self._created = False

    # ---- hosting ------------------------------------------------------------------------
    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        tags: list[dict[str, str]] | None = None,
        wait: bool = True,
        data_capture_config: DataCaptureConfig | None = None,
        serverless_inference_config: ServerlessInferenceConfig | None = None,
        variant_name: str = "AllTraffic",
        **kwargs: Any,
    ) -> Predictor:
        """Create the model, an endpoint config with one variant, and the endpoint."""
        if serverless_inference_config is None and (
            initial_instance_count is None or instance_type is None
        ):
            raise ValueError(
                "deploy needs initial_instance_count and instance_type for a real-time "
                "endpoint, or serverless_inference_config for a serverless one."
            )
        model_name = self.create(instance_type)
        self.endpoint_name = endpoint_name or name_from_base(self._base_name())
        variant: dict[str, Any] = {"VariantName": variant_name, "ModelName": model_name}
        if serverless_inference_config is not None:
            variant["ServerlessConfig"] = serverless_inference_config._to_request_dict()
        else:
            variant.update(
                InstanceType=instance_type,
                InitialInstanceCount=initial_instance_count,
                InitialVariantWeight=1.0,
            )
        config: dict[str, Any] = {
            "EndpointConfigName": self.endpoint_name,
            "ProductionVariants": [variant],
        }
        if data_capture_config is not None:
            if data_capture_config.sagemaker_session is None:
                data_capture_config.sagemaker_session = self.sagemaker_session
            config["DataCaptureConfig"] = data_capture_config._to_request_dict()
        if tags:
            config["Tags"] = tags
        control = self.sagemaker_session.sagemaker_client
        control.create_endpoint_config(**config)
        endpoint: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "EndpointConfigName": self.endpoint_name,
        }
        if tags:
            endpoint["Tags"] = tags
        control.create_endpoint(**endpoint)
        if wait:
            wait_for_endpoint(self.sagemaker_session, self.endpoint_name)
        return self.predictor_cls(
            self.endpoint_name,
            sagemaker_session=self.sagemaker_session,
            serializer=serializer,
            deserializer=deserializer,
        )

    def transformer(
        self,
        instance_count: int,
        instance_type: str,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        env: Mapping[str, str] | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> Transformer:
        """A ``Transformer`` for batch transform jobs with this model (created first)."""
        from sagebox.sdk.transformer import Transformer

        return Transformer(
            self.create(instance_type),
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            output_kms_key=output_kms_key,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            env=env,
            tags=tags,
            sagemaker_session=self.sagemaker_session,
        )

    # ---- the registry -------------------------------------------------------------------
    def register(
        self,
        content_types: Sequence[str] = ("text/csv",),
        response_types: Sequence[str] = ("text/csv",),
        inference_instances: Sequence[str] | None = None,
        transform_instances: Sequence[str] | None = None,
        model_package_name: str | None = None,
        model_package_group_name: str | None = None,
        model_metrics: ModelMetrics | None = None,
        approval_status: str | None = None,
        description: str | None = None,
        customer_metadata_properties: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> ModelPackage:
        """CreateModelPackage: a new version in ``model_package_group_name`` (or an
        unversioned package named ``model_package_name``)."""
        if (model_package_group_name is None) == (model_package_name is None):
            raise ValueError(
                "register needs exactly one of model_package_group_name (a versioned "
                "package) and model_package_name (an unversioned one)."
            )
        container = self._container()
        specification: dict[str, Any] = {
            "Containers": [container],
            "SupportedContentTypes": list(content_types),
            "SupportedResponseMIMETypes": list(response_types),
        }
        if inference_instances:
            specification["SupportedRealtimeInferenceInstanceTypes"] = list(inference_instances)
        if transform_instances:
            specification["SupportedTransformInstanceTypes"] = list(transform_instances)
        request: dict[str, Any] = {"InferenceSpecification": specification}
        if model_package_group_name is not None:
            request["ModelPackageGroupName"] = model_package_group_name
            request["ModelApprovalStatus"] = approval_status or "PendingManualApproval"
        else:
            request["ModelPackageName"] = model_package_name
        if model_metrics is not None:
            request["ModelMetrics"] = model_metrics._to_request_dict()
        if description:
            request["ModelPackageDescription"] = description
        if customer_metadata_properties:
            request["CustomerMetadataProperties"] = dict(customer_metadata_properties)
        control = self.sagemaker_session.sagemaker_client
        arn = str(control.create_model_package(**request)["ModelPackageArn"])
        return ModelPackage(self.role, arn, sagemaker_session=self.sagemaker_session, env=self.env)


class ModelPackage(Model):
    """A model from the registry: deployed by its package ARN (``ModelPackageName``)."""

    def __init__(
        self,
        role: str | None,
        model_package_arn: str,
        sagemaker_session: Session | None = None,
        predictor_cls: type[Predictor] | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            "",
            role=role,
            predictor_cls=predictor_cls,
            env=env,
            sagemaker_session=sagemaker_session,
            **kwargs,
        )
        self.model_package_arn = model_package_arn

    def _base_name(self) -> str:
        resource = self.model_package_arn.split(":model-package/", 1)[-1]
        return resource.split("/", 1)[0]

    def _container(self) -> dict[str, Any]:
        container: dict[str, Any] = {"ModelPackageName": self.model_package_arn}
        if self.env:
            container["Environment"] = dict(self.env)
        return container

    def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = self.sagemaker_session.sagemaker_client.describe_model_package(
            ModelPackageName=self.model_package_arn
        )
        return result

    def update_approval_status(self, approval_status: str, approval_description: str = "") -> None:
        request: dict[str, Any] = {
            "ModelPackageArn": self.model_package_arn,
            "ModelApprovalStatus": approval_status,
        }
        if approval_description:
            request["ApprovalDescription"] = approval_description
        self.sagemaker_session.sagemaker_client.update_model_package(**request)
