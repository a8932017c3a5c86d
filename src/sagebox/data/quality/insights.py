"""Insights: what in the data will hurt a model, how badly, and how to fix it.

Each :class:`Insight` has a severity (``high`` > ``medium`` > ``low`` > ``info``), the
column(s) concerned, a message with the figures that triggered it, and a fix. Kinds:

============================  ==============================================================
``class_imbalance``           the rarest class of the target is a small share of the rows
``target_missing``            rows without a label
``target_leakage``            a feature that alone predicts the target (AUC or R2 >= 0.99)
``high_correlation``          two numeric features with abs(Pearson) >= 0.95, or two
                              categoricals with Cramer's V >= 0.95
``constant_column``           one value (or none) in the whole column
``near_constant_column``      one value in at least 99% of the rows
``id_like_column``            nearly every value distinct: an identifier (or free text)
``high_cardinality``          a categorical with many categories (one-hot would explode)
``missing_values``            a column with many missing values
``duplicate_rows``            rows that are exact copies of an earlier row
``anomalous_values``          numeric outliers (robust z-score > 5), infinities
``rare_categories``           categories seen in less than 0.5% of the rows
``empty_strings``             empty strings, which are not counted as missing
``type_mismatch``             values that did not match the column's type in other files
``malformed_rows``            rows the reader could not parse (from the read report)
``weak_signal``               the quick model does no better than chance
============================  ==============================================================

Column-level insights read the exact profile; joint ones (leakage, correlation) use the
bounded row sample.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sagebox.data.quality._results import ColumnProfile, DatasetProfile

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low", "info")
ProblemType = Literal["classification", "regression"]

LEAKAGE = 0.99
CORRELATION = 0.95
CRAMERS_V = 0.95
NEAR_CONSTANT = 0.99
ID_LIKE = 0.95
HIGH_CARDINALITY = 50
MISSING = {"high": 0.7, "medium": 0.3, "low": 0.05}
_ID_NAME = re.compile(r"(?i:(^|[_\-. ])(id|uuid|guid|key)$)|[a-z]Id$")
_MAX_PAIR_COLUMNS = 200


@dataclass(frozen=True)
class Insight:
    """One finding about the data."""

    kind: str
    severity: Severity
    columns: list[str]
    message: str
    fix: str
    details: dict[str, Any] = field(default_factory=dict)


def sort_insights(insights: list[Insight]) -> list[Insight]:
    """Most severe first; the order within a severity is stable."""
    return sorted(insights, key=lambda i: SEVERITIES.index(i.severity))


def column_insights(profile: DatasetProfile, target: str | None) -> list[Insight]:
    """Insights about single columns and rows, from the exact profile."""
    found: list[Insight] = []
    for column in profile.columns:
        if column.name == target:
            continue
        found.extend(_shape(column))
        found.extend(_missing(column))
        found.extend(_anomalies(column))
    if profile.duplicate_rows:
        share = profile.duplicate_rows / max(profile.rows, 1)
        bound = "" if profile.duplicates_exact else "at least "
        found.append(
            Insight(
                "duplicate_rows",
                "medium" if share >= 0.05 else "low",
                [],
                f"{bound}{profile.duplicate_rows} rows ({share:.1%}) are exact copies of an "
                "earlier row.",
                "Drop duplicates (a 'Drop duplicates' transform) unless repeats are real "
                "events; duplicates leak between training and test splits.",
                {
                    "count": profile.duplicate_rows,
                    "share": share,
                    "exact": profile.duplicates_exact,
                },
            )
        )
    return found


def _shape(column: ColumnProfile) -> list[Insight]:
    name = column.name
    if column.non_missing == 0:
        return [
            Insight(
                "constant_column",
                "medium",
                [name],
                f"'{name}' has no values at all ({column.rows} rows missing).",
                f"Drop '{name}'.",
            )
        ]
    if column.distinct == 1 and column.missing:
        return []  # one value or missing: a "was it given" flag; the missing insight covers it
    if column.distinct == 1 and column.distinct_exact:
        value = column.top_values[0][0] if column.top_values else None
        return [
            Insight(
                "constant_column",
                "medium",
                [name],
                f"'{name}' holds a single value ({value!r}) in every non-missing row, so it "
                "carries no information.",
                f"Drop '{name}'.",
                {"value": value},
            )
        ]
    if column.top_share >= NEAR_CONSTANT and column.kind != "list":
        value, count = column.top_values[0]
        return [
            Insight(
                "near_constant_column",
                "low",
                [name],
                f"'{name}' is {value!r} in {column.top_share:.2%} of its values ({count} of "
                f"{column.non_missing}).",
                f"Drop '{name}' unless the rare values matter; a model learns little from it.",
                {"value": value, "share": column.top_share},
            )
        ]
    ratio = min(column.distinct / column.non_missing, 1.0)
    if column.kind == "categorical" and column.non_missing >= 20:
        if ratio >= ID_LIKE:
            text = column.string is not None and column.string.mean_length > 30
            what = "free text" if text else "an identifier"
            return [
                Insight(
                    "id_like_column",
                    "medium",
                    [name],
                    f"'{name}' looks like {what}: {ratio:.0%} of its values are distinct "
                    f"({column.distinct} of {column.non_missing}).",
                    f"Exclude '{name}' from the features (keep it as a key), or extract "
                    "features from it first; a model memorises identifiers.",
                    {"distinct": column.distinct, "distinct_share": ratio},
                )
            ]
        if column.distinct > HIGH_CARDINALITY:
            return [
                Insight(
                    "high_cardinality",
                    "low",
                    [name],
                    f"'{name}' has {column.distinct} categories; one-hot encoding would add as "
                    "many columns.",
                    "Use ordinal, target or similarity encoding, or group rare categories "
                    "into 'other'.",
                    {"distinct": column.distinct},
                )
            ]
    if column.kind == "numeric" and column.arrow_type.startswith(("int", "uint")):
        numeric = column.numeric
        sequential = (
            numeric is not None
            and numeric.min is not None
            and numeric.max is not None
            and numeric.max - numeric.min + 1 <= 2 * column.non_missing
        )
        if column.non_missing >= 20 and ratio >= 0.99 and (sequential or _ID_NAME.search(name)):
            return [
                Insight(
                    "id_like_column",
                    "medium",
                    [name],
                    f"'{name}' looks like an identifier: whole numbers, {ratio:.0%} distinct"
                    f"{', nearly consecutive' if sequential else ''}.",
                    f"Exclude '{name}' from the features; a row number predicts nothing new.",
                    {"distinct": column.distinct, "distinct_share": ratio},
                )
            ]
    return []


def _missing(column: ColumnProfile) -> list[Insight]:
    share = column.missing_share
    if column.non_missing == 0:
        return []
    levels: tuple[Severity, ...] = ("high", "medium", "low")
    for severity in levels:
        if share >= MISSING[severity]:
            return [
                Insight(
                    "missing_values",
                    severity,
                    [column.name],
                    f"'{column.name}' is missing in {share:.1%} of the rows ({column.missing} of "
                    f"{column.rows}).",
                    "Drop the column"
                    if share >= MISSING["high"]
                    else "Impute it (median or mode, with a 'was missing' indicator column), "
                    "or drop the column if the missingness is not informative.",
                    {"missing": column.missing, "share": share},
                )
            ]
    return []


def _anomalies(column: ColumnProfile) -> list[Insight]:
    found = []
    name = column.name
    outliers = column.outliers
    if outliers is not None and outliers.count:
        about = "about " if outliers.estimated else ""
        what = "list length" if column.kind == "list" else "value"
        what += "" if outliers.count == 1 else "s"
        rule = "a robust z-score over 5" if outliers.method == "robust_z" else "IQR x 3 fences"
        found.append(
            Insight(
                "anomalous_values",
                "medium" if outliers.share >= 0.05 else "low",
                [name],
                f"'{name}' has {about}{outliers.count} anomalous {what} ({outliers.share:.2%}) "
                f"outside [{outliers.low:.4g}, {outliers.high:.4g}] ({rule}); e.g. "
                f"{', '.join(f'{v:.6g}' for v in outliers.examples[:5]) or 'n/a'}.",
                "Check them for entry errors; clip (winsorise) or log-transform the column, or "
                "use a 'Handle outliers' transform.",
                {
                    "count": outliers.count,
                    "share": outliers.share,
                    "low": outliers.low,
                    "high": outliers.high,
                    "examples": outliers.examples,
                    "estimated": outliers.estimated,
                },
            )
        )
    if column.numeric is not None and column.numeric.infinite:
        found.append(
            Insight(
                "anomalous_values",
                "medium",
                [name],
                f"'{name}' holds {column.numeric.infinite} infinite values.",
                "Replace them (e.g. with missing) before training; most models reject them.",
                {"infinite": column.numeric.infinite},
            )
        )
    if column.rare_categories:
        shown = ", ".join(f"{v!r} ({c})" for v, c in column.rare_categories[:5])
        found.append(
            Insight(
                "rare_categories",
                "info",
                [name],
                f"'{name}' has {len(column.rare_categories)} rare categories: {shown}.",
                "Group rare categories into 'other', or check them for typos.",
                {"categories": [[v, c] for v, c in column.rare_categories]},
            )
        )
    if column.string is not None and column.string.empty:
        found.append(
            Insight(
                "empty_strings",
                "low",
                [name],
                f"'{name}' has {column.string.empty} empty strings, which are not counted as "
                "missing.",
                "Treat them as missing if they mean 'unknown' (cast or replace them).",
                {"empty": column.string.empty},
            )
        )
    if column.type_mismatches:
        found.append(
            Insight(
                "type_mismatch",
                "medium",
                [name],
                f"{column.type_mismatches} values of '{name}' could not be read as "
                f"{column.arrow_type} and were counted as missing.",
                "Make the files agree on the column's type, or cast it in a flow.",
                {"count": column.type_mismatches},
            )
        )
    return found


def read_insights(read: dict[str, Any] | None) -> list[Insight]:
    """Malformed rows the reader skipped or quarantined."""
    if not read or not read.get("bad_rows"):
        return []
    bad, rows = int(read["bad_rows"]), int(read.get("rows") or 0)
    share = bad / max(bad + rows, 1)
    where = f" (quarantined to {read['quarantine']})" if read.get("quarantine") else ""
    return [
        Insight(
            "malformed_rows",
            "high" if share >= 0.01 else "medium",
            [],
            f"{bad} malformed rows ({share:.2%}) could not be parsed and are not in this "
            f"report{where}.",
            "See the examples, fix the export that produced them, or keep them with "
            "on_error='quarantine' for later repair.",
            {"bad_rows": bad, "share": share, "examples": read.get("examples", [])[:5]},
        )
    ]


def target_insights(column: ColumnProfile, problem_type: ProblemType) -> list[Insight]:
    """Missing labels, and class imbalance for a classification target."""
    found = []
    name = column.name
    if column.missing:
        found.append(
            Insight(
                "target_missing",
                "high",
                [name],
                f"The target '{name}' is missing in {column.missing} rows "
                f"({column.missing_share:.1%}).",
                "Drop those rows before training (a 'Handle missing: drop' transform on the "
                "target), or label them.",
                {"missing": column.missing},
            )
        )
    if problem_type != "classification" or len(column.top_values) < 2:
        return found
    total = sum(count for _, count in column.top_values)
    value, count = min(column.top_values, key=lambda item: item[1])
    share = count / total
    classes = len(column.top_values)
    balanced = share * classes  # 1.0 when every class has its fair share
    severity: Severity | None = None
    for level, limit in (("high", 0.2), ("medium", 0.5), ("info", 0.8)):
        if balanced <= limit:
            severity = level  # type: ignore[assignment]
            break
    if severity:
        found.append(
            Insight(
                "class_imbalance",
                severity,
                [name],
                f"The target '{name}' is imbalanced: its rarest class {value!r} is {share:.1%} "
                f"of the rows ({count} of {total}).",
                "Report AUC or F1 rather than accuracy; balance the training data (random "
                "over/under-sampling or SMOTE) or weight the classes; split stratified.",
                {"minority_class": value, "minority_share": share, "classes": classes},
            )
        )
    return found


# -- joint statistics on the row sample ---------------------------------------------------
def leakage_insights(
    sample: pd.DataFrame, target: str, problem_type: ProblemType, seed: int = 0
) -> tuple[list[Insight], dict[str, float]]:
    """Features that alone predict the target; also returns every feature's score."""
    from sagebox.data.quality._signal import single_feature_scores

    scores = single_feature_scores(sample, target, problem_type, seed)
    metric = "AUC" if problem_type == "classification" else "R2"
    found = []
    for name, score in sorted(scores.items(), key=lambda item: -item[1]):
        if score >= LEAKAGE:
            found.append(
                Insight(
                    "target_leakage",
                    "high",
                    [name, target],
                    f"'{name}' alone predicts the target '{target}' with {metric} {score:.3f}: "
                    "it is likely derived from the target or only known after the outcome.",
                    f"Drop '{name}' unless it is truly available when predictions are made.",
                    {"metric": metric.lower(), "score": score},
                )
            )
    return found, scores


def correlation_insights(
    sample: pd.DataFrame, profile: DatasetProfile, target: str | None, skip: set[str]
) -> list[Insight]:
    """Pairs of features that carry the same information."""
    import pandas as pd

    kinds = {c.name: c for c in profile.columns if c.name in sample.columns}
    names = [n for n in kinds if n != target and n not in skip]
    numeric = [n for n in names if kinds[n].kind in ("numeric", "boolean", "list")]
    numeric = [n for n in numeric if kinds[n].distinct > 1][:_MAX_PAIR_COLUMNS]
    found = []
    if len(numeric) > 1:
        frame = pd.DataFrame({n: pd.to_numeric(sample[n], errors="coerce") for n in numeric})
        matrix = frame.astype("float64").corr(min_periods=10).to_numpy()
        rows, cols = np.triu_indices(len(numeric), k=1)
        for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
            value = float(matrix[a, b])
            if math.isfinite(value) and abs(value) >= CORRELATION:
                found.append(_pair("Pearson correlation", numeric[a], numeric[b], value))
    categorical = [
        n
        for n in names
        if kinds[n].kind == "categorical" and 1 < kinds[n].distinct <= HIGH_CARDINALITY
    ][:_MAX_PAIR_COLUMNS]
    codes = {n: _codes(sample[n]) for n in categorical}
    for i, left in enumerate(categorical):
        for right in categorical[i + 1 :]:
            v = cramers_v(*codes[left], *codes[right])
            if v is not None and v >= CRAMERS_V:
                found.append(_pair("Cramer's V", left, right, v))
    return found


def _pair(statistic: str, left: str, right: str, value: float) -> Insight:
    return Insight(
        "high_correlation",
        "medium",
        [left, right],
        f"'{left}' and '{right}' are almost the same information ({statistic} {value:.3f}).",
        f"Keep one of them (drop '{right}' or '{left}'), or combine them; redundant features "
        "blur feature importance and hurt linear models.",
        {"statistic": statistic, "value": value},
    )


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=True)
    return codes, len(uniques)


def cramers_v(left: np.ndarray, left_n: int, right: np.ndarray, right_n: int) -> float | None:
    """Bias-corrected Cramer's V (Bergsma 2013) of two code arrays (-1 = missing)."""
    both = (left >= 0) & (right >= 0)
    n = int(both.sum())
    if n < 10 or left_n < 2 or right_n < 2:
        return None
    table = np.bincount(left[both] * right_n + right[both], minlength=left_n * right_n)
    table = table.reshape(left_n, right_n).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, k = table.shape
    if r < 2 or k < 2:
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corr - 1, r_corr - 1)
    return math.sqrt(phi2 / denominator) if denominator > 0 else None


def model_insights(quick: dict[str, Any] | None) -> list[Insight]:
    """A quick model no better than chance says the features carry little signal."""
    if not quick or quick.get("score") is None:
        return []
    metric, score = quick["metric"], float(quick["score"])
    weak = score <= 0.55 if metric.startswith("auc") else score <= 0.05
    if not weak:
        return []
    return [
        Insight(
            "weak_signal",
            "medium",
            [quick["target"]],
            f"The quick model scores {metric.upper()} {score:.3f}, about what chance gives: "
            "the features as they are say little about the target.",
            "Check the target column and its join to the features; engineer features "
            "(ratios, aggregates of nested records) before training bigger models.",
            {"metric": metric, "score": score},
        )
    ]
