"""What a transform job's instances are told: the validated request, as one typed value.

CreateTransformJob builds :class:`BatchSettings` from the API request (after every
check) and writes it as JSON into each instance's ``/opt/ml/input/config``; the batch
program reads it back. Nothing in the batch program parses the API request again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

SETTINGS_FILE = "/opt/ml/input/config/transform.json"
MODEL_DIR = "/opt/ml/model"
DATA_DIR = "/opt/ml/input/data/transform"
MANIFEST_DIR = "/opt/ml/input/data/manifest"
OUTPUT_DIR = "/opt/ml/output/transform"

MB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6
# MaxPayloadInMB 0 (no limit: a record may be any size) still batches MultiRecord
# requests by this many bytes.
UNLIMITED_BATCH_BYTES = DEFAULT_PAYLOAD_MB * MB

SplitType = Literal["None", "Line"]
Strategy = Literal["SingleRecord", "MultiRecord"]
Assembly = Literal["None", "Line"]
Workers = Literal["thread", "process"]


@dataclass(frozen=True)
class BatchSettings:
    """How one instance reads, batches, invokes, joins and writes."""

    content_type: str | None
    accept: str | None
    split_type: SplitType = "None"
    compression: Literal["None", "Gzip"] = "None"
    strategy: Strategy = "SingleRecord"
    max_payload_bytes: int = DEFAULT_PAYLOAD_MB * MB  # 0: no limit
    max_concurrent: int = 1
    assemble_with: Assembly = "None"
    input_filter: str = "$"
    output_filter: str = "$"
    join_source: Literal["None", "Input"] = "None"
    invocation_timeout_seconds: int = 600
    invocation_max_retries: int = 3
    manifest: bool = False  # the input is a ManifestFile (staged under MANIFEST_DIR)
    input_uri: str = ""  # TransformInput's S3Uri, to name files in messages
    model_archive: str | None = None  # the model.tar.gz staged in MODEL_DIR, to extract
    code_archive: str | None = None  # a sourcedir.tar.gz staged in MODEL_DIR/code
    code_staged: bool = False  # SAGEMAKER_SUBMIT_DIRECTORY was in S3: now MODEL_DIR/code
    workers: Workers = "process"  # how concurrent invocations run (docs/transform.md)

    @property
    def batch_bytes(self) -> int:
        """The most bytes one MultiRecord request carries."""
        return self.max_payload_bytes or UNLIMITED_BATCH_BYTES

    @property
    def needs_records(self) -> bool:
        """True when each record must be seen on its own (filters, joins, one per call)."""
        return (
            self.strategy == "SingleRecord"
            or self.input_filter != "$"
            or self.output_filter != "$"
            or self.join_source == "Input"
        )

    @property
    def output_type(self) -> str | None:
        """What the model is asked to answer: Accept, else the input's content type."""
        return self.accept or self.content_type

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> BatchSettings:
        return cls(**json.loads(text))


def media_family(content_type: str | None) -> Literal["csv", "json", "other"]:
    """Which record syntax a content type has: CSV rows, JSON values, or opaque bytes."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in ("text/csv", "text/x-csv", "application/csv"):
        return "csv"
    if base in ("application/json", "application/jsonlines", "application/x-jsonlines"):
        return "json"
    return "other"
