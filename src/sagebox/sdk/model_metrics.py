"""``ModelMetrics`` and ``MetricsSource``, as ``sagemaker.model_metrics``: reports a
registered model carries (for sagebox, the evaluation report a training job wrote)."""

from __future__ import annotations

from typing import Any

__all__ = ["MetricsSource", "ModelMetrics"]


class MetricsSource:
    def __init__(self, content_type: str, s3_uri: str, content_digest: str | None = None) -> None:
        self.content_type = content_type
        self.s3_uri = s3_uri
        self.content_digest = content_digest

    def _to_request_dict(self) -> dict[str, Any]:
        source = {"ContentType": self.content_type, "S3Uri": self.s3_uri}
        if self.content_digest:
            source["ContentDigest"] = self.content_digest
        return source


class ModelMetrics:
    """Model quality statistics and constraints, data quality, bias and explainability."""

    def __init__(
        self,
        model_statistics: MetricsSource | None = None,
        model_constraints: MetricsSource | None = None,
        model_data_statistics: MetricsSource | None = None,
        model_data_constraints: MetricsSource | None = None,
        bias: MetricsSource | None = None,
        explainability: MetricsSource | None = None,
    ) -> None:
        self.model_statistics = model_statistics
        self.model_constraints = model_constraints
        self.model_data_statistics = model_data_statistics
        self.model_data_constraints = model_data_constraints
        self.bias = bias
        self.explainability = explainability

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {}

        def put(section: str, member: str, source: MetricsSource | None) -> None:
            if source is not None:
                request.setdefault(section, {})[member] = source._to_request_dict()

        put("ModelQuality", "Statistics", self.model_statistics)
        put("ModelQuality", "Constraints", self.model_constraints)
        put("ModelDataQuality", "Statistics", self.model_data_statistics)
        put("ModelDataQuality", "Constraints", self.model_data_constraints)
        put("Bias", "Report", self.bias)
        put("Explainability", "Report", self.explainability)
        return request
