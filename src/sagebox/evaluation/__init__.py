"""Evaluation of classifiers and regressors, for lenders: metrics, thresholds and a report.

    from sagebox.evaluation import Costs, evaluate, write_report

    result = evaluate(labels, scores, costs=Costs(false_positive=1, false_negative=5))
    result.metrics["auc"], result.metrics["ks"]
    write_report(result, Path("evaluation"))   # evaluation.json and evaluation.html

See docs/evaluation.md for every metric and the JSON keys.
"""

from sagebox.evaluation.evaluator import evaluate
from sagebox.evaluation.report import render_html, write_report
from sagebox.evaluation.result import Costs, Evaluation

__all__ = ["Costs", "Evaluation", "evaluate", "render_html", "write_report"]
