"""Training in the SageMaker Python SDK's shape: ``Estimator`` and ``TrainingInput``.

```python
from sagebox import image_uris
from sagebox.sdk.estimator import Estimator, TrainingInput

xgb = Estimator(image_uris.retrieve("xgboost", session.region_name, "1.7-1"), role,
                instance_count=1, instance_type="ml.m5.xlarge", output_path="s3://b/models",
                hyperparameters={"objective": "binary:logistic", "num_round": 100},
                sagemaker_session=session)
xgb.fit({"train": TrainingInput("s3://b/train/", content_type="text/csv"),
         "validation": "s3://b/validation/"})
xgb.model_data   # s3://b/models/<job>/output/model.tar.gz
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sagebox.sdk.names import name_from_base
from sagebox.session import Session

if TYPE_CHECKING:
    from sagebox.sdk.model import Model, ModelPackage
    from sagebox.sdk.predictor import Predictor
    from sagebox.sdk.transformer import Transformer


class ShuffleConfig:
    """Pipe mode: shuffle the order of a channel's S3 objects each epoch, from ``seed``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed


class TrainingInput:
    """A channel: an S3 prefix (or manifest) with its content type and distribution."""

    def __init__(
        self,
        s3_data: str,
        distribution: str = "FullyReplicated",
        content_type: str | None = None,
        s3_data_type: str = "S3Prefix",
        input_mode: str | None = None,
        compression: str | None = None,
        shuffle_config: ShuffleConfig | None = None,
    ) -> None:
        self.s3_data = s3_data
        self.distribution = distribution
        self.content_type = content_type
        self.s3_data_type = s3_data_type
        self.input_mode = input_mode
        self.compression = compression
        self.shuffle_config = shuffle_config

    def channel(self, name: str) -> dict[str, Any]:
        config: dict[str, Any] = {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": self.s3_data_type,
                    "S3Uri": self.s3_data,
                    "S3DataDistributionType": self.distribution,
                }
            },
        }
        if self.content_type:
            config["ContentType"] = self.content_type
        if self.input_mode:
            config["InputMode"] = self.input_mode
        if self.compression:
            config["CompressionType"] = self.compression
        if self.shuffle_config is not None:
            config["ShuffleConfig"] = {"Seed": self.shuffle_config.seed}
        return config


class TrainingFailedError(Exception):
    """Raised by ``fit(wait=True)`` when the job ends Failed, as the SageMaker SDK does."""

    def __init__(self, description: Mapping[str, Any]) -> None:
        self.description = description
        super().__init__(
            f"Error for Training job {description['TrainingJobName']}: "
            f"{description['TrainingJobStatus']}. Reason: "
            f"{description.get('FailureReason', 'no reason recorded')}"
        )


class Estimator:
    """Runs a training job for a built-in algorithm image."""

    def __init__(
        self,
        image_uri: str,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.xlarge",
        *,
        output_path: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        max_run: int = 24 * 60 * 60,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        environment: Mapping[str, str] | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        tags: list[dict[str, str]] | None = None,
        volume_size: int = 30,
        input_mode: str = "File",
        checkpoint_s3_uri: str | None = None,
        max_retry_attempts: int | None = None,
        enable_network_isolation: bool = False,
        model_uri: str | None = None,
        model_channel_name: str = "model",
    ) -> None:
        self.image_uri = image_uri
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.sagemaker_session = sagemaker_session or Session()
        self.output_path = output_path
        self._hyperparameters = {k: str(v) for k, v in (hyperparameters or {}).items()}
        self.max_run = max_run
        self.base_job_name = base_job_name
        self.environment = dict(environment or {})
        self.metric_definitions = list(metric_definitions or [])
        self.tags = list(tags or [])
        self.volume_size = volume_size
        self.input_mode = input_mode
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.max_retry_attempts = max_retry_attempts
        self.enable_network_isolation = enable_network_isolation
        self.model_uri = model_uri  # incremental training: an earlier job's model.tar.gz
        self.model_channel_name = model_channel_name
        self.latest_training_job: str | None = None

    def set_hyperparameters(self, **values: Any) -> None:
        self._hyperparameters.update({k: str(v) for k, v in values.items()})

    def hyperparameters(self) -> dict[str, str]:
        return dict(self._hyperparameters)

    def _job_name(self) -> str:
        return name_from_base(
            self.base_job_name or self.image_uri.rsplit("/", 1)[-1].split(":", 1)[0]
        )

    def fit(
        self,
        inputs: Mapping[str, str | TrainingInput] | str | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: Mapping[str, str] | None = None,
    ) -> None:
        name = job_name or self._job_name()
        request = self.training_request(inputs, name, experiment_config)
        self.sagemaker_session.control.create_training_job(**request)
        self.latest_training_job = name
        if wait:
            self.wait(logs=logs)

    def training_request(
        self,
        inputs: Mapping[str, str | TrainingInput] | str | None,
        name: str,
        experiment_config: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The CreateTrainingJob request ``fit`` sends (a tuner builds its training job
        definition from it)."""
        session = self.sagemaker_session
        channels: dict[str, str | TrainingInput] = (
            {"training": inputs} if isinstance(inputs, str) else dict(inputs or {})
        )
        if self.model_uri and self.model_channel_name not in channels:
            channels[self.model_channel_name] = TrainingInput(
                self.model_uri, content_type="application/x-sagemaker-model", input_mode="File"
            )
        output = self.output_path or f"s3://{session.default_bucket()}"
        algorithm: dict[str, Any] = {
            "TrainingImage": self.image_uri,
            "TrainingInputMode": self.input_mode,
        }
        if self.metric_definitions:
            algorithm["MetricDefinitions"] = self.metric_definitions
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": algorithm,
            "RoleArn": self.role,
            "HyperParameters": self.hyperparameters(),
            "InputDataConfig": [
                (value if isinstance(value, TrainingInput) else TrainingInput(value)).channel(key)
                for key, value in channels.items()
            ],
            "OutputDataConfig": {"S3OutputPath": output},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": self.volume_size,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_run},
        }
        if not request["InputDataConfig"]:
            del request["InputDataConfig"]  # fit() without inputs: the API takes no empty list
        if self.environment:
            request["Environment"] = self.environment
        if self.tags:
            request["Tags"] = self.tags
        if self.checkpoint_s3_uri:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3_uri}
        if self.max_retry_attempts:
            request["RetryStrategy"] = {"MaximumRetryAttempts": self.max_retry_attempts}
        if self.enable_network_isolation:
            request["EnableNetworkIsolation"] = True
        if experiment_config:
            request["ExperimentConfig"] = dict(experiment_config)
        request.update(self._request_fields())
        return request

    def _request_fields(self) -> dict[str, Any]:
        """More CreateTrainingJob fields; a hook for subclasses (framework estimators)."""
        return {}

    def _prepare_for_training(self, job_name: str) -> None:
        """What must happen before a request is built (framework estimators stage their
        code); a tuner calls it for its training job definition."""

    def describe(self) -> dict[str, Any]:
        if self.latest_training_job is None:
            raise ValueError("No training job yet: call fit() first.")
        result: dict[str, Any] = self.sagemaker_session.control.describe_training_job(
            TrainingJobName=self.latest_training_job
        )
        return result

    def wait(self, logs: bool = True) -> dict[str, Any]:
        name = self.latest_training_job or ""
        description = self.sagemaker_session.follow_job(
            "training-job",
            name,
            self.describe,
            "TrainingJobStatus",
            logs=logs and bool(name),
            host_prefix=self.instance_count > 1,
        )
        if description["TrainingJobStatus"] == "Failed":
            raise TrainingFailedError(description)
        return description

    @property
    def model_data(self) -> str | None:
        artifacts = self.describe().get("ModelArtifacts")
        return None if artifacts is None else str(artifacts["S3ModelArtifacts"])

    # ---- from training to hosting -------------------------------------------------------
    def create_model(
        self,
        role: str | None = None,
        image_uri: str | None = None,
        predictor_cls: Any = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """A ``Model`` of the last training job's artifacts, served by the same image."""
        from sagebox.sdk.model import Model

        model_data = self.model_data  # one DescribeTrainingJob
        if model_data is None:
            raise ValueError(
                "The estimator has no trained model yet: call fit() and let it complete."
            )
        return Model(
            image_uri or self.image_uri,
            model_data=model_data,
            role=role or self.role,
            predictor_cls=predictor_cls,
            env=env,
            name=name,
            sagemaker_session=self.sagemaker_session,
            enable_network_isolation=self.enable_network_isolation,
            **self._model_code(),
            **kwargs,
        )

    def _model_code(self) -> dict[str, Any]:
        """The inference code a model of this estimator ships (framework estimators)."""
        return {}

    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> Predictor:
        """Deploy the trained model to a real-time or (``serverless_inference_config``)
        serverless endpoint; returns its ``Predictor``."""
        names = {"role": "role", "image_uri": "image_uri", "env": "env", "model_name": "name"}
        model_kwargs: dict[str, Any] = {
            names[key]: kwargs.pop(key) for key in list(names) if key in kwargs
        }
        return self.create_model(**model_kwargs).deploy(
            initial_instance_count,
            instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name,
            **kwargs,
        )

    def transformer(
        self,
        instance_count: int,
        instance_type: str,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        accept: str | None = None,
        env: Mapping[str, str] | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        role: str | None = None,
        model_name: str | None = None,
        **kwargs: Any,
    ) -> Transformer:
        """A ``Transformer`` for batch transform with the trained model."""
        return self.create_model(role=role, name=model_name).transformer(
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            accept=accept,
            env=env,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            **kwargs,
        )

    def register(self, *args: Any, **kwargs: Any) -> ModelPackage:
        """Register the trained model in the model registry (see ``Model.register``)."""
        return self.create_model().register(*args, **kwargs)
