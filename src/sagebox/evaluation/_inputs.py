"""Turning what the caller passed into checked numpy arrays, and inferring the problem."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sagebox.errors import ValidationError
from sagebox.evaluation.result import PROBLEMS

FloatArray = npt.NDArray[np.float64]


def as_array(value: Any, name: str) -> FloatArray:
    """``value`` (list, numpy array, pandas Series/DataFrame) as a float array of 1 or 2 dims."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must hold numbers; could not read them as numbers ({exc}). "
            "Encode labels as 0/1 (binary) or 0..k-1 (multiclass) before evaluating."
        ) from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim not in (1, 2):
        raise ValidationError(
            f"{name} must be 1-d (one value per row) or 2-d (one column per class); "
            f"got an array of shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValidationError(f"{name} is empty; pass at least one row to evaluate.")
    return array


def check_inputs(labels: Any, scores: Any) -> tuple[FloatArray, FloatArray]:
    """Labels as a 1-d array and scores as a 1-d or 2-d one, the same length, no NaN."""
    y = as_array(labels, "labels")
    s = as_array(scores, "scores")
    if y.ndim != 1:
        raise ValidationError(
            f"labels must be 1-d (one true label per row); got shape {y.shape}. "
            "For multiclass pass class indices 0..k-1, not one-hot columns."
        )
    if len(y) != len(s):
        raise ValidationError(
            f"labels has {len(y)} value(s) but scores has {len(s)}; "
            "pass exactly one score (or row of class probabilities) per label."
        )
    for name, array in (("labels", y), ("scores", s)):
        bad = ~np.isfinite(array)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(len(array), -1).any(axis=1))
            kind = "NaN" if np.isnan(array).any() else "infinite"
            raise ValidationError(
                f"{name} holds {len(rows)} row(s) with {kind} values (first at row "
                f"{int(rows[0])}). Drop those rows or fix what produced them; every row "
                "must have a finite label and score."
            )
    return y, s


def infer_problem(labels: FloatArray, scores: FloatArray) -> str:
    """binary: 0/1 labels and 1-d scores in [0, 1]; multiclass: 2-d scores; else regression."""
    if scores.ndim == 2:
        return "multiclass"
    in_unit = bool(scores.min() >= 0.0 and scores.max() <= 1.0)
    if np.isin(labels, (0.0, 1.0)).all() and in_unit:
        return "binary"
    return "regression"


def check_problem(problem: str | None) -> str | None:
    if problem is not None and problem not in PROBLEMS:
        raise ValidationError(
            f"problem must be one of {', '.join(PROBLEMS)} (or None to infer it); got {problem!r}."
        )
    return problem


def check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise ValidationError(f"threshold must be a number in [0, 1]; got {threshold!r}.")
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise ValidationError(
            f"threshold must be in [0, 1] (scores at or above it are predicted 1); got {value!r}."
        )
    return value


def binary_inputs(labels: FloatArray, scores: FloatArray) -> tuple[FloatArray, FloatArray]:
    """0/1 labels and the probability of class 1 in [0, 1]; an (n, 2) score uses column 1."""
    if scores.ndim == 2:
        if scores.shape[1] != 2:
            raise ValidationError(
                f"A binary problem takes 1-d scores (the probability of class 1), or 2 "
                f"columns of class probabilities; got {scores.shape[1]} columns. Use "
                "problem='multiclass' for more classes."
            )
        scores = scores[:, 1]
    unexpected = np.setdiff1d(np.unique(labels), (0.0, 1.0))
    if unexpected.size:
        raise ValidationError(
            f"A binary problem needs labels 0 and 1; got {_show(unexpected)}. "
            "Map the event to predict (e.g. default) to 1 and the rest to 0."
        )
    outside = np.flatnonzero((scores < 0.0) | (scores > 1.0))
    if outside.size:
        row = int(outside[0])
        raise ValidationError(
            f"A binary problem needs scores that are probabilities of class 1 in [0, 1]; "
            f"{outside.size} row(s) are outside, e.g. {scores[row]:g} at row {row}. Pass "
            "predict_proba(...)[:, 1], or apply the sigmoid to raw margins."
        )
    return labels, scores


def class_indices(values: FloatArray, name: str) -> npt.NDArray[np.int64]:
    """Whole numbers >= 0 as class indices; anything else is refused naming the value."""
    bad = values[(values != np.round(values)) | (values < 0)]
    if bad.size:
        raise ValidationError(
            f"{name} must be class indices 0..k-1 for a multiclass problem; got "
            f"{_show(np.unique(bad))}. Encode classes as 0, 1, 2, ... first."
        )
    return values.astype(np.int64)


def _show(values: FloatArray, limit: int = 5) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return shown + (f" ... ({len(values)} distinct)" if len(values) > limit else "")
