"""SageMaker's k-NN hyperparameters and metric definitions, declared as data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.algorithms.hyperparameters import Param, choice, integer, validate
from sagebox.errors import ValidationError

TITLE = "k-NN"
PQ_M = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)

HYPERPARAMETERS: dict[str, Param] = {
    "feature_dim": integer(1, required=True),
    "k": integer(1, required=True),
    "predictor_type": choice("classifier", "regressor", required=True),
    "sample_size": integer(1, required=True),
    "dimension_reduction_type": choice("sign", "fjlt"),
    "dimension_reduction_target": integer(1),
    "index_type": choice("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ", default="faiss.Flat"),
    "index_metric": choice("L2", "INNER_PRODUCT", "COSINE", default="L2"),
    "faiss_index_ivf_nlists": integer(1, words=("auto",), default="auto"),
    "faiss_index_pq_m": integer(1),
    "mini_batch_size": integer(1, default=5000),
}

_NUMBER = r"(\S+)"

# SageMaker's k-NN scores its ``test`` channel once, after the index is built:
#   #quality_metric: host=algo-1, test accuracy <score>=0.93
# sagebox scores a ``validation`` channel the same way, under its own name.
METRIC_DEFINITIONS: list[dict[str, str]] = [
    definition
    for channel in ("test", "validation")
    for definition in (
        {
            "Name": f"{channel}:accuracy",
            "Regex": rf"#quality_metric: host=\S+, {channel} accuracy <score>={_NUMBER}",
        },
        {
            "Name": f"{channel}:mse",
            "Regex": rf"#quality_metric: host=\S+, {channel} mse <loss>={_NUMBER}",
        },
    )
]


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Typed values with defaults; cross-field rules checked; raise ValidationError."""
    values = validate(TITLE, HYPERPARAMETERS, hp)
    reduction = values.get("dimension_reduction_type")
    target = values.get("dimension_reduction_target")
    if reduction is None:
        return _index_checks(values)
    if target is None:
        raise ValidationError(
            "The 'dimension_reduction_target' hyperparameter of k-NN is required when "
            f"dimension_reduction_type is set (got {reduction!r}): set it to an int between 0 "
            f"and feature_dim ({values['feature_dim']}), exclusive."
        )
    if not 0 < target < values["feature_dim"]:
        raise ValidationError(
            f"The 'dimension_reduction_target' parameter of k-NN must be an int between 0 and "
            f"feature_dim ({values['feature_dim']}), exclusive. Got {target} instead."
        )
    return _index_checks(values)


def _index_checks(values: dict[str, Any]) -> dict[str, Any]:
    if values["index_type"] == "faiss.IVFPQ" and values["index_metric"] != "L2":
        raise ValidationError(
            f"index_type faiss.IVFPQ does not support index_metric {values['index_metric']!r}: "
            f"use index_metric=L2, or index_type faiss.Flat or faiss.IVFFlat."
        )
    pq_m = values.get("faiss_index_pq_m")
    if pq_m is not None and pq_m not in PQ_M:
        raise ValidationError(
            f"The 'faiss_index_pq_m' parameter of k-NN must be one of "
            f"{', '.join(map(str, PQ_M))}. Got {pq_m} instead."
        )
    return values
