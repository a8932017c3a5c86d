"""evaluation.json and evaluation.html: JSON that round-trips, HTML that needs nothing else."""

from __future__ import annotations

import base64
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sagebox.evaluation import Costs, Evaluation, evaluate, render_html, write_report

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def loans(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    labels = (rng.random(n) < 0.25).astype(int)
    return labels, 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * labels - 1.0)))


@functools.cache
def results() -> dict[str, Evaluation]:
    rng = np.random.default_rng(2)
    labels, scores = loans()
    grades = rng.integers(0, 3, 120)
    probabilities = rng.dirichlet([1, 1, 1], 120)
    amounts = rng.normal(5000, 1500, 120)
    return {
        "binary": evaluate(labels, scores, costs=Costs(false_positive=1, false_negative=5)),
        "multiclass": evaluate(grades, probabilities, class_names=["A", "B", "<C>"]),
        "regression": evaluate(amounts, amounts + rng.normal(0, 300, 120)),
        "one-class": evaluate([0, 0, 0, 0], [0.1, 0.2, 0.6, 0.3]),
    }


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "one-class"])
def test_the_json_round_trips_with_stable_keys(kind: str) -> None:
    body = results()[kind].to_dict()
    text = json.dumps(body, allow_nan=False)  # no NaN/inf: strict JSON parsers accept it
    assert json.loads(text) == body
    assert {"schema_version", "problem", "n_samples", "metrics", "notes"} <= set(body)
    extra = {
        "binary": {
            "threshold",
            "costs",
            "classes",
            "confusion_matrix",
            "at_threshold",
            "threshold_choices",
            "curves",
        },
        "one-class": {"curves", "threshold_choices"},
        "multiclass": {"classes", "confusion_matrix", "per_class"},
        "regression": {"residuals", "labels", "sample", "mape_rows"},
    }[kind]
    assert extra <= set(body)


def test_binary_json_holds_every_curve_and_threshold_choice() -> None:
    body = results()["binary"].to_dict()
    assert set(body["curves"]) == {"roc", "precision_recall", "calibration", "ks", "cost"}
    assert set(body["threshold_choices"]) == {"closest_to_perfect", "youden", "max_f1", "min_cost"}
    assert body["costs"] == {
        "false_positive": 1.0,
        "false_negative": 5.0,
        "true_positive": 0.0,
        "true_negative": 0.0,
    }
    assert body["curves"]["cost"]["profit"][0] == -body["curves"]["cost"]["expected_cost"][0]


@pytest.mark.parametrize(
    ("kind", "plots"), [("binary", 5), ("multiclass", 1), ("regression", 2), ("one-class", 2)]
)
def test_the_html_is_self_contained_with_its_plots_embedded(
    tmp_path: Path, kind: str, plots: int
) -> None:
    json_path, html_path = write_report(results()[kind], tmp_path / "out", title="Loans Q3")
    assert (json_path.name, html_path.name) == ("evaluation.json", "evaluation.html")
    assert json.loads(json_path.read_text()) == results()[kind].to_dict()
    html = html_path.read_text()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<script" not in html and "@import" not in html
    images = PNG.findall(html)
    assert len(images) == plots
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<h1>Loans Q3</h1>" in html


def test_binary_html_shows_the_confusion_matrix_thresholds_and_plot_titles() -> None:
    body = results()["binary"].to_dict()
    html = render_html(body)
    cm = body["confusion_matrix"]
    for cell in (f"TP {cm['tp']:,}", f"FP {cm['fp']:,}", f"TN {cm['tn']:,}", f"FN {cm['fn']:,}"):
        assert cell in html
    for alt in ("ROC curve", "Precision-recall curve", "KS plot", "Cost curve", "Calibration"):
        assert f'alt="{alt}' in html
    assert "min cost" in html and "youden" in html
    assert f"{body['metrics']['auc']:.4f}" in html


def test_user_text_is_escaped(tmp_path: Path) -> None:
    _, path = write_report(results()["multiclass"], tmp_path, title="<script>alert(1)</script>")
    html = path.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;C&gt;" in html and "<C>" not in html


def test_write_report_says_when_the_folder_cannot_be_made(tmp_path: Path) -> None:
    from sagebox.errors import ValidationError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValidationError, match="Cannot create the report folder"):
        write_report(results()["regression"], blocker / "sub")
