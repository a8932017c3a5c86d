"""Problem inference and the messages for bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sagebox.evaluation
from sagebox.errors import ValidationError
from sagebox.evaluation import Costs, evaluate


def test_the_public_surface_is_exactly_the_documented_names() -> None:
    assert sorted(sagebox.evaluation.__all__) == [
        "Costs",
        "Evaluation",
        "evaluate",
        "render_html",
        "write_report",
    ]


def test_importing_the_package_does_not_import_scikit_learn_or_matplotlib() -> None:
    code = (
        "import sys, sagebox.evaluation; "
        "print([m for m in ('sklearn', 'matplotlib', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("labels", "scores", "problem"),
    [
        ([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.1], "binary"),
        ([0.0, 1.0, 1.0], np.array([0.0, 1.0, 0.5]), "binary"),
        ([0, 2, 1], [[0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]], "multiclass"),
        ([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]], "multiclass"),
        ([0, 1, 1, 0], [0.2, 1.7, 0.6, -0.1], "regression"),  # margins, not probabilities
        ([0, 2, 1], [0, 2, 2], "regression"),  # 1-d class predictions need problem=
        ([10.5, 3.2, 7.7], [10.0, 3.0, 8.1], "regression"),
    ],
)
def test_the_problem_is_inferred(labels: object, scores: object, problem: str) -> None:
    assert evaluate(labels, scores).problem == problem


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: evaluate([0, 1, 1], [0.1, 0.2]), "labels has 3 value(s) but scores has 2"),
        (lambda: evaluate([], []), "labels is empty"),
        (
            lambda: evaluate([0, 1, 1], [0.1, float("nan"), 0.3]),
            "scores holds 1 row(s) with NaN values (first at row 1)",
        ),
        (lambda: evaluate([0, float("nan")], [0.1, 0.2]), "labels holds 1 row(s) with NaN"),
        (lambda: evaluate([0, 1], [0.1, float("inf")]), "infinite values"),
        (
            lambda: evaluate([0, 1, 1], [0.2, 1.3, 0.5], problem="binary"),
            "probabilities of class 1 in [0, 1]; 1 row(s) are outside, e.g. 1.3 at row 1",
        ),
        (
            lambda: evaluate([0, 2, 1], [0.2, 0.3, 0.5], problem="binary"),
            "needs labels 0 and 1; got 2",
        ),
        (lambda: evaluate([0, 1], [0.2, 0.3], problem="ranking"), "got 'ranking'"),
        (lambda: evaluate([0, 1], [0.2, 0.3], threshold=1.5), "threshold must be in [0, 1]"),
        (lambda: evaluate([0, 1], [0.2, 0.3], threshold="high"), "threshold must be a number"),
        (
            lambda: evaluate([1.5, 2.5], [1.0, 2.0], threshold=0.3),
            "threshold applies to binary problems only; got threshold=0.3 for a regression",
        ),
        (
            lambda: evaluate([0, 1], [[0.5, 0.6], [0.1, 0.2]], problem="multiclass"),
            "row 0 sums to 1.1",
        ),
        (
            lambda: evaluate([0, 3], [[0.5, 0.5], [0.1, 0.9]], problem="multiclass"),
            "labels hold class 3 but scores have only 2 columns",
        ),
        (
            lambda: evaluate([0, 1.5], [0, 1], problem="multiclass"),
            "labels must be class indices 0..k-1",
        ),
        (lambda: evaluate(["yes", "no"], [0.1, 0.2]), "labels must hold numbers"),
        (lambda: evaluate([0, 1], np.zeros((2, 2, 2))), "got an array of shape (2, 2, 2)"),
        (
            lambda: evaluate([0, 1], [0.2, 0.3], class_names=["good", "bad", "ugly"]),
            "A binary problem has 2 classes; got 3 class_names",
        ),
        (lambda: Costs(false_negative=float("nan")), "Costs.false_negative must be a finite"),
        (lambda: Costs(false_positive="5"), "Costs.false_positive must be a number"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused_saying_what_and_how_to_fix(call: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()  # type: ignore[operator]
    assert message in caught.value.message
    assert caught.value.code == "ValidationException"
