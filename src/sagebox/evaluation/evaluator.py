"""``evaluate``: check the inputs, settle the problem, and hand over to its module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sagebox.errors import ValidationError
from sagebox.evaluation._inputs import (
    binary_inputs,
    check_inputs,
    check_problem,
    check_threshold,
    infer_problem,
)
from sagebox.evaluation.result import Costs, Evaluation

DEFAULT_THRESHOLD = 0.5


def evaluate(
    labels: Any,
    scores: Any,
    problem: str | None = None,
    threshold: float | None = None,
    costs: Costs | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> Evaluation:
    """Evaluate ``scores`` against the true ``labels``.

    ``scores`` are, for a binary problem, the probability of class 1 (default); for a
    multiclass one, (n, k) class probabilities or 1-d predicted classes; for a regression,
    the predictions. ``problem`` is inferred when ``None``: 0/1 labels with 1-d scores in
    [0, 1] are binary, 2-d scores multiclass, anything else regression. ``threshold``
    (default 0.5; a score at or above it predicts 1) and ``costs`` apply to binary
    problems only. ``class_names`` label the classes in the report (index order).
    """
    y, s = check_inputs(labels, scores)
    kind = check_problem(problem) or infer_problem(y, s)
    if kind != "binary":
        for name, value in (("threshold", threshold), ("costs", costs)):
            if value is not None:
                raise ValidationError(
                    f"{name} applies to binary problems only; got {name}={value!r} for a "
                    f"{kind} problem. Leave it out, or pass problem='binary' with 0/1 labels."
                )
    if kind == "binary":
        from sagebox.evaluation.binary import evaluate_binary

        if costs is not None and not isinstance(costs, Costs):
            raise ValidationError(
                f"costs must be a sagebox.evaluation.Costs; got {type(costs).__name__}. "
                "Build one as Costs(false_positive=1.0, false_negative=5.0)."
            )
        if class_names is not None and len(class_names) != 2:
            raise ValidationError(
                f"A binary problem has 2 classes; got {len(class_names)} class_names. Pass "
                "the names of class 0 and class 1, e.g. ['good', 'default']."
            )
        y, s = binary_inputs(y, s)
        cut = DEFAULT_THRESHOLD if threshold is None else check_threshold(threshold)
        names = ["0", "1"] if class_names is None else [str(n) for n in class_names]
        return evaluate_binary(y, s, cut, costs or Costs(), names)
    if kind == "multiclass":
        from sagebox.evaluation.multiclass import evaluate_multiclass

        return evaluate_multiclass(y, s, class_names)
    from sagebox.evaluation.regression import evaluate_regression

    if class_names is not None:
        raise ValidationError(
            f"class_names apply to classification problems; got {len(class_names)} names for "
            "a regression problem. Leave them out, or pass problem='binary'/'multiclass'."
        )
    return evaluate_regression(y, s)
