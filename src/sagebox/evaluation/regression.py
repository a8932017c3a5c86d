"""Regressors (how much will be lost? what income?): errors, R2 and the residuals."""

from __future__ import annotations

from typing import Any

import numpy as np

from sagebox.errors import ValidationError
from sagebox.evaluation._inputs import FloatArray
from sagebox.evaluation.result import Evaluation, number

SAMPLE_POINTS = 1000  # (actual, predicted) pairs kept for the report's scatter plots
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def evaluate_regression(labels: FloatArray, predictions: FloatArray) -> Evaluation:
    """Mean squared/absolute errors, R2, explained variance and MAPE over non-zero labels."""
    from sklearn.metrics import (
        explained_variance_score,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        median_absolute_error,
        r2_score,
    )

    if predictions.ndim != 1:
        raise ValidationError(
            f"A regression problem takes 1-d predictions (one number per row); got shape "
            f"{predictions.shape}. Use problem='multiclass' for class probabilities."
        )
    notes: list[str] = []
    mse = float(mean_squared_error(labels, predictions))
    metrics: dict[str, float | None] = {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(mean_absolute_error(labels, predictions)),
        "median_absolute_error": float(median_absolute_error(labels, predictions)),
        "r2": None,
        "explained_variance": None,
        "mape": None,
    }
    if len(labels) < 2 or np.all(labels == labels[0]):
        notes.append(
            "The labels are constant (or there is one row), so R2 and explained variance, "
            "which compare errors to the labels' variance, are undefined (null)."
        )
    else:
        metrics["r2"] = number(r2_score(labels, predictions))
        metrics["explained_variance"] = number(explained_variance_score(labels, predictions))
    nonzero = labels != 0
    zeros = int((~nonzero).sum())
    if nonzero.any():
        metrics["mape"] = number(
            mean_absolute_percentage_error(labels[nonzero], predictions[nonzero])
        )
    if zeros:
        notes.append(
            f"MAPE divides by the label, so it skips the {zeros} row(s) whose label is 0"
            + ("; with no other rows it is null." if not nonzero.any() else ".")
        )
    residuals = predictions - labels
    details = {
        "residuals": _summary(residuals),
        "labels": _summary(labels),
        "mape_rows": int(nonzero.sum()),
        "sample": _sample(labels, predictions),
    }
    return Evaluation("regression", len(labels), metrics, details, tuple(notes))


def _summary(values: FloatArray) -> dict[str, Any]:
    quantiles = zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "quantiles": {f"p{round(q * 100):02d}": float(v) for q, v in quantiles},
    }


def _sample(labels: FloatArray, predictions: FloatArray) -> dict[str, Any]:
    """Evenly spaced rows (deterministic), so the report's plots need no other data."""
    rows = np.unique(np.round(np.linspace(0, len(labels) - 1, SAMPLE_POINTS)).astype(np.int64))
    return {"actual": labels[rows], "predicted": predictions[rows]}
