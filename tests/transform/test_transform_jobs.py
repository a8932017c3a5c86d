"""Batch transform jobs end to end: CreateTransformJob to the ``.out`` objects.

Ordering, spreading files across instances, SingleRecord and MultiRecord, joins and
filters, gzip and manifests, the payload rule, a record over the payload limit, Stop, and
the built-in XGBoost's real scores.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import numpy as np
import pytest

from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.serving.hosting import BUCKET, code_model, upload_xgboost

TERMINAL = ("Completed", "Failed", "Stopped")

# Answers each CSV record with "<first column> x 10", one line per record, and records
# how many records each request held; JSON lines get {"double": 2 x value}.
SCALE_MODEL = """
import json, os

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    return content_type, [line for line in text.splitlines() if line.strip()]

def predict_fn(data, model):
    content_type, lines = data
    if content_type == "application/jsonlines":
        return [json.dumps({"double": 2 * json.loads(l)["value"]}) for l in lines]
    if lines and lines[0].startswith("sleep"):
        import time
        time.sleep(float(lines[0].split()[1]))
    return [str(float(l.split(",")[0]) * 10) + "|" + str(len(lines)) for l in lines]

def output_fn(prediction, accept):
    return "".join(p + "\\n" for p in prediction).encode(), accept or "text/csv"
"""


def _model(session: Session, name: str = "scale") -> str:
    return code_model(session, name, SCALE_MODEL)


def _put(session: Session, key: str, body: bytes) -> None:
    session.objects.put_object(BUCKET, key, body)


def _csv(first: int, count: int, width: int = 3) -> bytes:
    return "".join(
        ",".join([str(first + i)] + ["7"] * (width - 1)) + "\n" for i in range(count)
    ).encode()


def _request(name: str, model: str, source: str, out: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": out, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def _run(session: Session, request: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
    session.control.create_transform_job(**request)
    name = request["TransformJobName"]
    end = time.monotonic() + timeout
    while True:
        described = session.control.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in TERMINAL:
            return described
        if time.monotonic() > end:
            raise AssertionError(f"{name} is still {described['TransformJobStatus']}")
        time.sleep(0.1)


def _outputs(session: Session, prefix: str) -> dict[str, list[str]]:
    return {
        info.key: session.objects.get_object(BUCKET, info.key).decode().splitlines()
        for info in session.objects.iter_objects(BUCKET, prefix)
    }


def test_every_file_gets_its_out_object_in_input_order_across_instances(
    session: Session,
) -> None:
    _model(session)
    sizes = {"a.csv": 500, "b.csv": 1, "c.csv": 2000, "d.csv": 37, "e.csv": 300}
    first = 0
    for key, count in sizes.items():
        _put(session, f"in/many/{key}", _csv(first, count))
        first += count
    request = _request(
        "spread",
        "scale",
        f"s3://{BUCKET}/in/many/",
        f"s3://{BUCKET}/out/many",
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        MaxConcurrentTransforms=4,
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformResources"]["InstanceCount"] == 2
    outputs = _outputs(session, "out/many/")
    assert sorted(outputs) == [f"out/many/{key}.out" for key in sizes]
    first = 0
    for key, count in sizes.items():
        lines = outputs[f"out/many/{key}.out"]
        values = [float(line.split("|")[0]) for line in lines]
        assert values == [10.0 * (first + i) for i in range(count)], key
        first += count
    # MultiRecord packed several records in a request
    assert max(int(line.split("|")[1]) for line in outputs["out/many/c.csv.out"]) > 1
    # both instances wrote logs: the files were spread across them
    assert session.home is not None
    streams = list((session.home.logs_path / "transform-job" / "spread").glob("*"))
    assert len(streams) == 2


def test_single_record_sends_one_record_per_request(session: Session) -> None:
    _model(session)
    _put(session, "in/single/part.csv", _csv(0, 20))
    request = _request(
        "single",
        "scale",
        f"s3://{BUCKET}/in/single/",
        f"s3://{BUCKET}/out/single",
        BatchStrategy="SingleRecord",
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["BatchStrategy"] == "SingleRecord"
    (lines,) = _outputs(session, "out/single/").values()
    assert [line.split("|")[1] for line in lines] == ["1"] * 20
    assert [float(line.split("|")[0]) for line in lines] == [10.0 * i for i in range(20)]


def test_input_filter_join_and_output_filter_on_csv(session: Session) -> None:
    _model(session)
    rows = "".join(f"id{i},{i},{i + 1}\n" for i in range(10)).encode()
    _put(session, "in/join/rows.csv", rows)
    request = _request(
        "joined",
        "scale",
        f"s3://{BUCKET}/in/join/",
        f"s3://{BUCKET}/out/join",
        BatchStrategy="MultiRecord",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    (lines,) = _outputs(session, "out/join/").values()
    # the id column was not sent (the model scaled column 2) and came back by the join
    assert [line.split(",")[0] for line in lines] == [f"id{i}" for i in range(10)]
    assert [float(line.split(",")[1].split("|")[0]) for line in lines] == [
        10.0 * i for i in range(10)
    ]


def test_json_lines_join_keeps_the_record_beside_its_answer(session: Session) -> None:
    _model(session)
    records = "".join(json.dumps({"id": i, "value": i * 3}) + "\n" for i in range(6))
    _put(session, "in/jsonl/records.jsonl", records.encode())
    request = _request(
        "jsonl",
        "scale",
        f"s3://{BUCKET}/in/jsonl/",
        f"s3://{BUCKET}/out/jsonl",
        TransformInput={"ContentType": "application/jsonlines"},
        TransformOutput={"Accept": "application/jsonlines"},
        DataProcessing={"JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"},
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    (lines,) = _outputs(session, "out/jsonl/").values()
    assert [json.loads(line) for line in lines] == [
        {"id": i, "SageMakerOutput": {"double": i * 6}} for i in range(6)
    ]


def test_gzip_input_and_a_manifest(session: Session) -> None:
    _model(session)
    _put(session, "in/gz/one.csv.gz", gzip.compress(_csv(0, 50)))
    _put(session, "in/gz/two.csv.gz", gzip.compress(_csv(50, 50)))
    _put(session, "in/gz/skipped.csv.gz", gzip.compress(_csv(900, 5)))
    manifest = [{"prefix": f"s3://{BUCKET}/in/gz/"}, "two.csv.gz", "one.csv.gz"]
    _put(session, "manifests/gz.manifest", json.dumps(manifest).encode())
    request = _request(
        "gz",
        "scale",
        f"s3://{BUCKET}/manifests/gz.manifest",
        f"s3://{BUCKET}/out/gz",
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": f"s3://{BUCKET}/manifests/gz.manifest",
                }
            },
            "CompressionType": "Gzip",
        },
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    outputs = _outputs(session, "out/gz/")
    assert sorted(outputs) == ["out/gz/one.csv.gz.out", "out/gz/two.csv.gz.out"]
    assert float(outputs["out/gz/two.csv.gz.out"][0].split("|")[0]) == 500.0


def test_the_payload_rule_is_refused_before_anything_starts(session: Session) -> None:
    _model(session)
    source, out = f"s3://{BUCKET}/in/rule/", f"s3://{BUCKET}/out/rule"
    with pytest.raises(ValidationError, match=r"got 6 x 20 = 120"):
        session.control.create_transform_job(
            **_request("rule", "scale", source, out, MaxConcurrentTransforms=6, MaxPayloadInMB=20)
        )
    with pytest.raises(ValidationError, match="MaxPayloadInMB must be at most 100; got 101"):
        session.control.create_transform_job(
            **_request("rule", "scale", source, out, MaxPayloadInMB=101)
        )
    with pytest.raises(ValidationError, match="SplitType 'RecordIO' is not supported"):
        session.control.create_transform_job(
            **_request("rule", "scale", source, out, TransformInput={"SplitType": "RecordIO"})
        )
    with pytest.raises(ValidationError, match="Could not find model"):
        session.control.create_transform_job(**_request("rule", "nope", source, out))
    assert session.control.list_transform_jobs()["TransformJobSummaries"] == []


def test_a_record_larger_than_the_payload_fails_the_job_naming_it(session: Session) -> None:
    _model(session)
    body = _csv(0, 3) + b"1," + b"9" * (1024 * 1024 + 10) + b"\n" + _csv(3, 3)
    _put(session, "in/big/part.csv", body)
    request = _request(
        "too-big",
        "scale",
        f"s3://{BUCKET}/in/big/",
        f"s3://{BUCKET}/out/big",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
    )
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "part.csv" in reason and "record 4 is" in reason and "MaxPayloadInMB" in reason, reason
    assert _outputs(session, "out/big/") == {}  # nothing half-written


def test_stop_ends_a_running_job_stopped(session: Session) -> None:
    _model(session)
    _put(session, "in/slow/part.csv", b"".join(b"sleep 1\n" for _ in range(60)))
    request = _request(
        "slow",
        "scale",
        f"s3://{BUCKET}/in/slow/",
        f"s3://{BUCKET}/out/slow",
        BatchStrategy="SingleRecord",
    )
    session.control.create_transform_job(**request)
    end = time.monotonic() + 60
    while session.control.describe_transform_job(TransformJobName="slow")[
        "TransformJobStatus"
    ] != "InProgress" or not list(session.home.logs_path.glob("transform-job/slow/*")):  # type: ignore[union-attr]
        assert time.monotonic() < end
        time.sleep(0.1)
    session.control.stop_transform_job(TransformJobName="slow")
    end = time.monotonic() + 60
    while True:
        status = session.control.describe_transform_job(TransformJobName="slow")
        if status["TransformJobStatus"] in TERMINAL:
            break
        assert time.monotonic() < end
        time.sleep(0.1)
    assert status["TransformJobStatus"] == "Stopped"


def test_the_built_in_xgboost_scores_match_the_booster(session: Session) -> None:
    import xgboost

    from tests.serving.trained import xgboost_booster

    uri = upload_xgboost(session, "models/batch", rounds=5)
    session.control.create_model(
        ModelName="xgb",
        PrimaryContainer={"Image": "sagebox/xgboost", "ModelDataUrl": uri},
        ExecutionRoleArn=session.get_execution_role(),
    )
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(3000, 4))
    text = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows)
    _put(session, "in/xgb/rows.csv", text.encode())
    request = _request("xgb", "xgb", f"s3://{BUCKET}/in/xgb/", f"s3://{BUCKET}/out/xgb")
    described = _run(session, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    # the built-in algorithm's defaults: MultiRecord, 6 MB, a request per vCPU
    assert described["BatchStrategy"] == "MultiRecord"
    assert described["MaxPayloadInMB"] == 6
    (lines,) = _outputs(session, "out/xgb/").values()
    booster: Any = xgboost_booster("binary:logistic", 5)
    parsed = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])
    expected = booster.predict(xgboost.DMatrix(parsed))
    np.testing.assert_allclose([float(line) for line in lines], expected, rtol=1e-5)
