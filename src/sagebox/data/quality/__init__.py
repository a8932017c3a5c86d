"""The data quality and insights report (SageMaker Data Wrangler's "Data Quality and Insights").

``build_report(data, target=...)`` profiles a table, a pandas frame or a stream of Arrow
record batches in one bounded-memory pass and returns a JSON-serialisable dict;
``render_html(report)`` makes it one self-contained page; ``quality_report(store, source,
out_uri_prefix, target=...)`` reads ``s3://`` data and writes ``report.json`` and
``report.html`` beside each other. ``profile``, the insight checks and ``quick_model`` are
usable on their own.
"""

from sagebox.data.quality._results import (
    ColumnProfile,
    DatasetProfile,
    Histogram,
    NumericSummary,
    Outliers,
    ProfileConfig,
    StringSummary,
)
from sagebox.data.quality.insights import SEVERITIES, Insight
from sagebox.data.quality.profile import Profiler, profile
from sagebox.data.quality.quick_model import QuickModelResult, quick_model
from sagebox.data.quality.render import render_html
from sagebox.data.quality.report import (
    SCHEMA_VERSION,
    QualityReportOutput,
    build_report,
    infer_problem_type,
    quality_report,
)

__all__ = [
    "SCHEMA_VERSION",
    "SEVERITIES",
    "ColumnProfile",
    "DatasetProfile",
    "Histogram",
    "Insight",
    "NumericSummary",
    "Outliers",
    "ProfileConfig",
    "Profiler",
    "QualityReportOutput",
    "QuickModelResult",
    "StringSummary",
    "build_report",
    "infer_problem_type",
    "profile",
    "quality_report",
    "quick_model",
    "render_html",
]
