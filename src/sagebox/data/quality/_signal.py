"""How well each feature alone predicts the target: the leakage detector's statistic.

A feature's score is the better of two views:

- its raw values as a score (binary: ROC AUC, folded so 0.1 counts as 0.9; numeric
  target: squared Pearson correlation), which catches monotone copies of the target;
- out-of-fold target encoding of its categories (numbers cut into 20 quantile bins, missing
  as its own category), scored by AUC (one-vs-rest for several classes) or R2, which
  catches any category-to-label mapping.

Out-of-fold encoding is what keeps an identifier column from looking perfectly
predictive: an identifier's categories are never seen in the other folds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

FOLDS = 5
BINS = 20


def single_feature_scores(
    sample: pd.DataFrame, target: str, problem_type: str, seed: int = 0
) -> dict[str, float]:
    """Each feature's single-feature AUC (classification) or R2 (regression) vs ``target``."""
    labels = sample[target]
    frame = sample[labels.notna()]
    if len(frame) < 2 * FOLDS:
        return {}
    classification = problem_type == "classification"
    if classification:
        classes, y = np.unique(frame[target].astype(str).to_numpy(), return_inverse=True)
        if len(classes) < 2:
            return {}
        onehot = np.eye(len(classes))[y]
    else:
        y = frame[target].to_numpy(dtype=np.float64)
        if np.nanstd(y) == 0:
            return {}
        onehot = y[:, None]
    folds = np.random.default_rng(seed).permutation(len(frame)) % FOLDS
    scores: dict[str, float] = {}
    for name in frame.columns:
        if name == target:
            continue
        numbers = _numbers(frame[name])
        candidates = [_encoded_score(_categories(frame[name], numbers), onehot, y, folds)]
        if numbers is not None:
            candidates.append(_raw_score(numbers, y, len(onehot[0]), classification))
        valid = [c for c in candidates if c is not None and np.isfinite(c)]
        if valid:
            scores[name] = float(max(valid))
    return scores


def _numbers(values: pd.Series) -> np.ndarray | None:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = values.astype("int64").to_numpy(dtype=np.float64)
        numbers[values.isna().to_numpy()] = np.nan
        return numbers
    return None


def _categories(values: pd.Series, numbers: np.ndarray | None) -> np.ndarray:
    """Category codes from 0, missing values included as one more code."""
    import pandas as pd

    if numbers is not None and len(np.unique(numbers[np.isfinite(numbers)])) > BINS:
        binned = pd.qcut(numbers, BINS, labels=False, duplicates="drop")
        codes = np.where(np.isnan(binned), -1, binned).astype(np.int64)
    else:
        codes, _ = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes + 1


def _encoded_score(
    codes: np.ndarray, onehot: np.ndarray, y: np.ndarray, folds: np.ndarray
) -> float | None:
    size = int(codes.max()) + 1
    encoded = np.empty_like(onehot, dtype=np.float64)
    for fold in range(FOLDS):
        train, test = folds != fold, folds == fold
        counts = np.bincount(codes[train], minlength=size).astype(np.float64)
        prior = onehot[train].mean(axis=0)
        for j in range(onehot.shape[1]):
            sums = np.bincount(codes[train], weights=onehot[train, j], minlength=size)
            means = np.where(counts > 0, sums / np.maximum(counts, 1), prior[j])
            encoded[test, j] = means[codes[test]]
    return _score(encoded, onehot, y)


def _raw_score(
    numbers: np.ndarray, y: np.ndarray, width: int, classification: bool
) -> float | None:
    finite = np.isfinite(numbers)
    if finite.sum() < 2 * FOLDS or np.std(numbers[finite]) == 0:
        return None
    if not classification:
        r = np.corrcoef(numbers[finite], y[finite])[0, 1]
        return float(r * r)
    if width != 2 or len(np.unique(y[finite])) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(y[finite], numbers[finite]))
    return max(auc, 1 - auc)


def _score(encoded: np.ndarray, onehot: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import r2_score, roc_auc_score

    if onehot.shape[1] == 1:
        return float(r2_score(y, encoded[:, 0]))
    if onehot.shape[1] == 2:
        return float(roc_auc_score(y, encoded[:, 1]))
    present = onehot.sum(axis=0) > 0
    probabilities = encoded[:, present]
    probabilities = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    return float(roc_auc_score(y, probabilities, multi_class="ovr"))
