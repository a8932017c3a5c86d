"""Data Wrangler flows: a data source plus ordered transforms, versioned, previewed on a
sample and exported over all of the data by a processing job that streams in batches.

    from sagebox.data.formats import DataSource
    from sagebox.wrangler import Flow

    flow = (
        Flow("loans", source=DataSource("s3://raw/applications/", format="jsonl"))
        .add("flatten", column="applicant")
        .add("explode", column="credit_history")
        .add("encode-one-hot", column="loan.purpose")
        .add("split", method="stratified", target="default")
    )
    flow.save(session)
    flow.preview(session, rows=20)
    flow.export(session, "s3://prepared/loans/", format="csv", label_column="default")

See docs/wrangler.md for every step type and its parameters.
"""

from sagebox.wrangler.engine import RunResult, StepPreview, compile_steps, preview_steps, run_steps
from sagebox.wrangler.flow import ERROR_POLICIES, Flow, Step
from sagebox.wrangler.registry import TRANSFORMS, transform_class
from sagebox.wrangler.transforms._base import Transform
from sagebox.wrangler.versions import FlowSummary, history, list_flows

__all__ = [
    "ERROR_POLICIES",
    "TRANSFORMS",
    "Flow",
    "FlowSummary",
    "RunResult",
    "Step",
    "StepPreview",
    "Transform",
    "compile_steps",
    "history",
    "list_flows",
    "preview_steps",
    "run_steps",
    "transform_class",
]
