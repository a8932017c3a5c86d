"""Exporting a flow: a SageMaker Processing job that runs the flow over all of the data.

The job runs the ``sagebox/sklearn`` image (the platform's Python, where sagebox is
importable) with the entrypoint ``python3 -m sagebox.wrangler.runner
/opt/ml/processing/input/flow/flow.json``. Its inputs are the flow document and the
flow's source, staged by the job under its execution role (so the role's S3
permissions decide what the export may read and write, as on SageMaker); its one output
folder is uploaded to the export's ``output_uri``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sagebox.errors import ValidationError
from sagebox.sdk.processing import ProcessingInput, ProcessingOutput, Processor
from sagebox.store.objects import parse_s3_uri

if TYPE_CHECKING:
    from sagebox.session import Session
    from sagebox.wrangler.flow import Flow

IMAGE = "sagebox/sklearn"
RUNNER = "sagebox.wrangler.runner"
FLOW_DIR = "/opt/ml/processing/input/flow"
DATA_DIR = "/opt/ml/processing/input/data"
OUTPUT_DIR = "/opt/ml/processing/output"
EXPORT_FORMATS = ("parquet", "csv")


def job_name_for(flow_name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return f"{flow_name[: 63 - len(stamp) - 6]}-flow-{stamp}"


def export_flow(
    flow: Flow,
    session: Session,
    output_uri: str,
    *,
    format: str = "parquet",
    label_column: str | None = None,
    wait: bool = True,
    logs: bool = False,
    instance_type: str = "ml.m5.xlarge",
    job_name: str | None = None,
    role: str | None = None,
) -> str:
    """Start (and by default wait for) the processing job that exports ``flow``."""
    if format not in EXPORT_FORMATS:
        raise ValidationError(
            f"The export format must be one of {', '.join(EXPORT_FORMATS)}. Got {format!r} instead."
        )
    if label_column is not None and format != "csv":
        raise ValidationError(
            f"label_column={label_column!r} writes CSV for SageMaker's built-in algorithms "
            "(label first, no header); use format='csv' with it, or leave it unset."
        )
    target = parse_s3_uri(output_uri)
    if not session.objects.bucket_exists(target.bucket):
        raise ValidationError(
            f"The output bucket {target.bucket!r} of {output_uri} does not exist. Create it "
            f"first ('sagebox s3 mb s3://{target.bucket}'), or export to another bucket."
        )
    name = job_name or job_name_for(flow.name)
    bucket = session.default_bucket()
    flow_key = f"{name}/input/flow/flow.json"
    session.objects.put_object(
        bucket, flow_key, flow.to_json().encode(), content_type="application/json"
    )
    arguments = ["--data", DATA_DIR, "--output", OUTPUT_DIR, "--format", format]
    arguments += ["--output-uri", output_uri]
    if label_column is not None:
        arguments += ["--label", label_column]
    if flow.version is not None:
        arguments += ["--version", str(flow.version)]
    processor = Processor(
        role=role or session.get_execution_role(),
        image_uri=IMAGE,
        instance_count=1,
        instance_type=instance_type,
        entrypoint=["python3", "-m", RUNNER, f"{FLOW_DIR}/flow.json"],
        sagemaker_session=session,
    )
    processor.run(
        inputs=[
            ProcessingInput(f"s3://{bucket}/{flow_key}", FLOW_DIR, "flow"),
            ProcessingInput(flow.source.uri, DATA_DIR, "data"),
        ],
        outputs=[ProcessingOutput(OUTPUT_DIR, output_uri, "output")],
        arguments=arguments,
        wait=wait,
        logs=logs,
        job_name=name,
    )
    return name
