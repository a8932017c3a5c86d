"""What an endpoint serves, as typed values: the seam between the control plane and its host.

CreateEndpoint and UpdateEndpoint resolve the endpoint config and its models into a
:class:`Deployment` at call time and store it with the endpoint, so the endpoint's host
process never reads a config or a model again: both may be deleted while the endpoint
serves (AWS allows it), and a host restarted later serves exactly what was deployed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["Deployment", "ModelSpec", "ServerlessSpec", "VariantSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A model's one container, resolved (a model package's container included)."""

    name: str
    arn: str
    image: str
    # s3:// URI of a model.tar.gz (compressed) or of a prefix of files (uncompressed)
    model_data: str | None = None
    compressed: bool = True
    environment: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None  # the model data is read as this role; None: as the caller
    network_isolation: bool = False


@dataclass(frozen=True)
class ServerlessSpec:
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int = 0

    def to_api(self) -> dict[str, int]:
        """The ``ProductionVariantServerlessConfig`` shape."""
        shaped = {"MemorySizeInMB": self.memory_mb, "MaxConcurrency": self.max_concurrency}
        if self.provisioned_concurrency:
            shaped["ProvisionedConcurrency"] = self.provisioned_concurrency
        return shaped


@dataclass(frozen=True)
class VariantSpec:
    name: str
    model: ModelSpec
    weight: float = 1.0
    instance_type: str | None = None  # None for a serverless variant
    instance_count: int = 0
    serverless: ServerlessSpec | None = None
    # ContainerStartupHealthCheckTimeoutInSeconds: how long a worker may take to answer /ping
    startup_timeout: int = 600


@dataclass(frozen=True)
class Deployment:
    config_name: str
    variants: tuple[VariantSpec, ...]
    capture: dict[str, Any] | None = None  # the config's DataCaptureConfig, as given

    def variant(self, name: str) -> VariantSpec | None:
        return next((v for v in self.variants if v.name == name), None)

    def with_variant(self, spec: VariantSpec) -> Deployment:
        """This deployment with the variant of the same name replaced by ``spec``."""
        return replace(
            self, variants=tuple(spec if v.name == spec.name else v for v in self.variants)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        variants = []
        for item in data["variants"]:
            serverless = item.get("serverless")
            variants.append(
                VariantSpec(
                    **{
                        **item,
                        "model": ModelSpec(**item["model"]),
                        "serverless": ServerlessSpec(**serverless) if serverless else None,
                    }
                )
            )
        return cls(data["config_name"], tuple(variants), data.get("capture"))
