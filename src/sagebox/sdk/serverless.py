"""``ServerlessInferenceConfig``, as ``sagemaker.serverless``: deploy to a serverless variant."""

from __future__ import annotations

from typing import Any

__all__ = ["ServerlessInferenceConfig"]


class ServerlessInferenceConfig:
    """Memory per worker (1024 to 6144 MB in steps of 1024), the most concurrent
    invocations, and the workers kept warm (``provisioned_concurrency``)."""

    def __init__(
        self,
        memory_size_in_mb: int = 2048,
        max_concurrency: int = 5,
        provisioned_concurrency: int | None = None,
    ) -> None:
        self.memory_size_in_mb = memory_size_in_mb
        self.max_concurrency = max_concurrency
        self.provisioned_concurrency = provisioned_concurrency

    def _to_request_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "MemorySizeInMB": self.memory_size_in_mb,
            "MaxConcurrency": self.max_concurrency,
        }
        if self.provisioned_concurrency is not None:
            config["ProvisionedConcurrency"] = self.provisioned_concurrency
        return config
