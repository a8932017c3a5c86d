"""Export through real processing jobs, on data larger than the flow's batch size."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sagebox.data.formats import DataSource
from sagebox.errors import ValidationError
from sagebox.sdk.processing import UnexpectedStatusError
from sagebox.session import Session
from sagebox.wrangler import Flow
from tests.wrangler.conftest import applications, jsonl

ROWS = 3000


@pytest.fixture
def raw(session: Session) -> Session:
    session.objects.create_bucket("raw")
    session.objects.create_bucket("prepared")
    rows = applications(ROWS)
    # two files, so the job reads a prefix
    session.objects.put_object("raw", "apps/part-0.jsonl", jsonl(rows[:1800]))
    session.objects.put_object("raw", "apps/part-1.jsonl", jsonl(rows[1800:]))
    return session


def _report(session: Session, prefix: str) -> dict:
    return json.loads(session.objects.get_object("prepared", f"{prefix}/_report.json"))


def _parquet(session: Session, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(session.objects.get_object("prepared", key)))


def test_parquet_export_streams_and_writes_each_split(raw: Session) -> None:
    flow = (
        Flow("loans", source=DataSource("s3://raw/apps/", format="jsonl"), batch_rows=256)
        .add("flatten", column="applicant")
        .add("explode", column="credit_history")
        .add("flatten", column="credit_history")
        .add("flatten", column="loan")
        .add("encode-one-hot", column="loan.purpose")
        .add("split", method="key", key="id", splits={"train": 0.8, "test": 0.2})
    )
    flow.save(raw)
    job = Flow.load(raw, "loans").export(raw, "s3://prepared/loans/")
    description = raw.control.describe_processing_job(ProcessingJobName=job)
    assert description["ProcessingJobStatus"] == "Completed"
    assert description["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-m",
        "sagebox.wrangler.runner",
        "/opt/ml/processing/input/flow/flow.json",
    ]
    exploded = ROWS // 4 * (1 + 1 + 2 + 3)
    report = _report(raw, "loans")
    assert report["FlowVersion"] == 1 and report["RowsIn"] == ROWS
    assert report["RowsOut"] == exploded and report["FitPasses"] == 1
    steps = {s["Id"]: s for s in report["Steps"]}
    assert steps["explode-1"]["RowsIn"] == ROWS and steps["explode-1"]["RowsOut"] == exploded
    categories = steps["encode-one-hot-1"]["State"]["categories"]
    assert sorted(categories) == ["business", "car", "education", "home"]
    train = _parquet(raw, "loans/train/part-00000.parquet")
    test = _parquet(raw, "loans/test/part-00000.parquet")
    assert train.num_rows + test.num_rows == exploded
    assert report["Outputs"]["train"]["Rows"] == train.num_rows
    assert report["Outputs"]["train"]["Objects"] == ["s3://prepared/loans/train/part-00000.parquet"]
    assert 0.7 < train.num_rows / exploded < 0.9
    assert "split" not in train.column_names and train.schema == test.schema
    assert "loan.purpose_car" in train.column_names
    ids = set(train.column("id").to_pylist())
    assert not ids & set(test.column("id").to_pylist()), "by-key split keeps applications whole"
    pq_file = pq.ParquetFile(
        io.BytesIO(raw.objects.get_object("prepared", "loans/train/part-00000.parquet"))
    )
    assert pq_file.metadata.num_rows == train.num_rows


def test_csv_export_label_first_without_header_and_bad_rows_quarantined(raw: Session) -> None:
    broken = jsonl(applications(2)).replace(b"\n", b'\n{"id": "broken", \n', 1)
    raw.objects.put_object("raw", "apps/part-2.jsonl", broken)
    flow = (
        Flow("numeric", source=DataSource("s3://raw/apps/", format="jsonl"), batch_rows=500)
        .add("flatten")
        .add("reorder-columns", columns=["applicant.age", "loan.amount", "default"], rest="drop")
        .add("scale", columns=["loan.amount"], method="min-max")
    )
    with pytest.raises(ValidationError, match="label_column='default' writes CSV"):
        flow.export(raw, "s3://prepared/numeric/", label_column="default")
    with pytest.raises(UnexpectedStatusError, match=r"part-2.jsonl.* line 2"):
        flow.export(raw, "s3://prepared/fails/", format="csv")  # the default policy: fail
    quarantining = Flow.parse({**flow.to_document(), "ErrorPolicy": "quarantine"})
    quarantining.export(raw, "s3://prepared/numeric/", format="csv", label_column="default")
    lines = raw.objects.get_object("prepared", "numeric/part-00000.csv").decode().splitlines()
    assert len(lines) == ROWS + 2, "no header line"
    first = lines[0].split(",")
    assert first[0] in ("0", "1") and first[1] == "20" and float(first[2]) == 0.0
    assert {line.split(",")[0] for line in lines} == {"0", "1"}
    report = _report(raw, "numeric")
    assert report["BadRows"] == 1 and report["RowsIn"] == ROWS + 2
    assert report["BadRowExamples"][0]["file"] == "s3://raw/apps/part-2.jsonl"
    assert report["Quarantine"] == "s3://prepared/numeric/_bad-rows.jsonl"
    quarantined = raw.objects.get_object("prepared", "numeric/_bad-rows.jsonl").decode()
    bad = [json.loads(line) for line in quarantined.splitlines()]
    assert bad == [
        {
            "file": "s3://raw/apps/part-2.jsonl",
            "line": 2,
            "error": bad[0]["error"],
            "raw": '{"id": "broken", ',
        }
    ]


def test_a_failing_step_fails_the_job_with_the_step_named(raw: Session) -> None:
    flow = Flow("broken", source=DataSource("s3://raw/apps/")).add("drop-columns", columns=["nope"])
    with pytest.raises(UnexpectedStatusError) as caught:
        flow.export(raw, "s3://prepared/broken/")
    reason = caught.value.description["FailureReason"]
    assert "Step 'drop-columns-1' (drop-columns): DropColumns: the column 'nope'" in reason
    with pytest.raises(ValidationError, match="output bucket 'missing'"):
        flow.export(raw, "s3://missing/out/")
