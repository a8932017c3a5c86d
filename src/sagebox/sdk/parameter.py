"""Hyperparameter ranges in the SageMaker Python SDK's shape (``sagemaker.parameter``).

``as_tuning_range(name)`` gives the API's ``ParameterRanges`` entry; ``as_json_range``
the one framework estimators send, whose values are JSON-encoded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class _Range:
    """A hyperparameter range: ``as_tuning_range`` gives the API's shape."""

    _kind = ""

    def __init__(
        self,
        min_value: float | int | str,
        max_value: float | int | str,
        scaling_type: str = "Auto",
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {
            "Name": name,
            "MinValue": str(self.min_value),
            "MaxValue": str(self.max_value),
            "ScalingType": self.scaling_type,
        }

    def as_json_range(self, name: str) -> dict[str, Any]:
        return self.as_tuning_range(name)


class ContinuousParameter(_Range):
    """A continuous range, ``ContinuousParameter(0.01, 0.3, scaling_type="Logarithmic")``."""

    _kind = "Continuous"


class IntegerParameter(_Range):
    """An integer range, ``IntegerParameter(2, 10)``."""

    _kind = "Integer"


class CategoricalParameter:
    """A set of values, ``CategoricalParameter(["gbtree", "dart"])``."""

    _kind = "Categorical"

    def __init__(self, values: Sequence[Any] | Any) -> None:
        self.values = (
            [str(v) for v in values] if isinstance(values, list | tuple) else [str(values)]
        )

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": list(self.values)}

    def as_json_range(self, name: str) -> dict[str, Any]:
        """For framework estimators, whose hyperparameters are JSON-encoded: ``'"a"'``."""
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}


ParameterRange = ContinuousParameter | IntegerParameter | CategoricalParameter
