"""``Predictor``, as ``sagemaker.predictor.Predictor``: calls a deployed endpoint.

```python
from sagebox.sdk.predictor import Predictor
from sagebox.sdk.serializers import CSVSerializer
from sagebox.sdk.deserializers import JSONDeserializer

predictor = Predictor("loan-default", serializer=CSVSerializer(),
                      deserializer=JSONDeserializer())
predictor.predict([[0.1, 3, 24, ...]])    # {"predictions": [{"score": 0.13}]}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.sdk.deserializers import BytesDeserializer
from sagebox.sdk.serializers import IdentitySerializer
from sagebox.session import Session

__all__ = ["Predictor"]


class Predictor:
    """Serializes data, invokes the endpoint (InvokeEndpoint), deserializes the answer."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        **kwargs: Any,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.sagemaker_session = sagemaker_session or Session()
        self.serializer = serializer or IdentitySerializer()
        self.deserializer = deserializer or BytesDeserializer()
        self._model_names: list[str] | None = None

    @property
    def content_type(self) -> str:
        return str(self.serializer.CONTENT_TYPE)

    @property
    def accept(self) -> tuple[str, ...]:
        return tuple(self.deserializer.ACCEPT)

    def predict(
        self,
        data: Any,
        initial_args: Mapping[str, Any] | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> Any:
        """The endpoint's answer to ``data``, deserialized."""
        if target_model is not None:
            raise ValueError(
                "target_model is for multi-model endpoints, which sagebox does not serve; "
                f"got {target_model!r}. Leave it unset."
            )
        request: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Body": self.serializer.serialize(data),
            "ContentType": self.content_type,
            "Accept": ", ".join(self.accept),
        }
        if target_variant:
            request["TargetVariant"] = target_variant
        if inference_id:
            request["InferenceId"] = inference_id
        if custom_attributes:
            request["CustomAttributes"] = custom_attributes
        request.update(initial_args or {})
        response = self.sagemaker_session.sagemaker_runtime_client.invoke_endpoint(**request)
        return self.deserializer.deserialize(response["Body"], response.get("ContentType"))

    # ---- the endpoint's life ------------------------------------------------------------
    def _describe(self) -> dict[str, Any]:
        control = self.sagemaker_session.sagemaker_client
        result: dict[str, Any] = control.describe_endpoint(EndpointName=self.endpoint_name)
        return result

    def _config_name(self) -> str:
        return str(self._describe()["EndpointConfigName"])

    def update_endpoint(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        model_name: str | None = None,
        variant_name: str | None = None,
        wait: bool = True,
    ) -> None:
        """A new endpoint config from the current one with the given changes, then
        UpdateEndpoint: the new config takes over without a dropped request."""
        from sagebox.sdk.model import wait_for_endpoint
        from sagebox.sdk.names import name_from_base

        control = self.sagemaker_session.sagemaker_client
        current = control.describe_endpoint_config(EndpointConfigName=self._config_name())
        variants = [dict(v) for v in current["ProductionVariants"]]
        chosen = [v for v in variants if variant_name in (None, v["VariantName"])]
        if not chosen:
            names = [v["VariantName"] for v in variants]
            raise ValueError(f"No variant {variant_name!r} in the endpoint; it has {names}.")
        for variant in chosen[:1]:
            if initial_instance_count is not None:
                variant["InitialInstanceCount"] = initial_instance_count
            if instance_type is not None:
                variant["InstanceType"] = instance_type
            if model_name is not None:
                variant["ModelName"] = model_name
        request: dict[str, Any] = {
            "EndpointConfigName": name_from_base(self.endpoint_name),
            "ProductionVariants": variants,
        }
        if "DataCaptureConfig" in current:
            request["DataCaptureConfig"] = current["DataCaptureConfig"]
        control.create_endpoint_config(**request)
        control.update_endpoint(
            EndpointName=self.endpoint_name, EndpointConfigName=request["EndpointConfigName"]
        )
        if wait:
            wait_for_endpoint(self.sagemaker_session, self.endpoint_name)

    def _models(self, config_name: str) -> list[str]:
        if self._model_names is None:
            control = self.sagemaker_session.sagemaker_client
            config = control.describe_endpoint_config(EndpointConfigName=config_name)
            self._model_names = [v["ModelName"] for v in config["ProductionVariants"]]
        return self._model_names

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        control = self.sagemaker_session.sagemaker_client
        config_name = self._config_name()
        self._models(config_name)  # remembered: delete_model may follow
        config = config_name if delete_endpoint_config else None
        control.delete_endpoint(EndpointName=self.endpoint_name)
        if config is not None:
            control.delete_endpoint_config(EndpointConfigName=config)

    def delete_model(self) -> None:
        """Delete the endpoint's models (also after ``delete_endpoint``, as the SDK allows)."""
        names = self._model_names if self._model_names is not None else None
        if names is None:
            names = self._models(self._config_name())
        control = self.sagemaker_session.sagemaker_client
        for name in names:
            control.delete_model(ModelName=name)
