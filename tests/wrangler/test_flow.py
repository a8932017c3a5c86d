"""The flow document: building, parsing, validation, and versions in the metadata store."""

from __future__ import annotations

import json

import pytest

from sagebox.data.formats import DataSource
from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.session import Session
from sagebox.wrangler import Flow, Step, history, list_flows

SOURCE = DataSource("s3://raw/apps/", format="jsonl")


def loans() -> Flow:
    return (
        Flow("loans", source=SOURCE)
        .add("flatten", column="applicant")
        .add("explode", column="credit_history", empty="drop")
        .add("encode-one-hot", column="loan.purpose")
    )


def test_build_serialise_and_parse_round_trip() -> None:
    flow = loans()
    assert [s.id for s in flow.steps] == ["flatten-1", "explode-1", "encode-one-hot-1"]
    document = json.loads(flow.to_json())
    assert document == {
        "Name": "loans",
        "Source": {
            "Uri": "s3://raw/apps/",
            "Format": "jsonl",
            "CsvHeader": True,
            "CsvDelimiter": ",",
            "Compression": "auto",
        },
        "ErrorPolicy": "fail",
        "BatchRows": 65536,
        "Steps": [
            {"Id": "flatten-1", "Type": "flatten", "Parameters": {"column": "applicant"}},
            {
                "Id": "explode-1",
                "Type": "explode",
                "Parameters": {"column": "credit_history", "empty": "drop"},
            },
            {
                "Id": "encode-one-hot-1",
                "Type": "encode-one-hot",
                "Parameters": {"column": "loan.purpose"},
            },
        ],
    }
    assert Flow.parse(flow.to_json()) == flow
    assert Flow.parse(document) == flow
    assert flow.add("flatten").steps[-1].id == "flatten-2"
    assert flow.remove("explode-1").steps[1].id == "encode-one-hot-1"
    assert len(flow.steps) == 3, "flows are immutable: add and remove return new ones"


def test_steps_are_frozen_values() -> None:
    step = Step("s", "drop-columns", {"columns": ["a"]})
    with pytest.raises(TypeError):
        step.parameters["columns"] = ["b"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not valid JSON"),
        ({"Name": "x"}, "Source must be an object with a Uri"),
        (
            {"Name": "bad name", "Source": {"Uri": "s3://raw/k"}},
            "flow name 'bad name' is not valid",
        ),
        ({"Name": "x", "Source": {"Uri": "s3://raw/k"}, "Colour": 1}, "unknown field(s) 'Colour'"),
        (
            {"Name": "x", "Source": {"Uri": "s3://raw/k", "Format": "xls"}},
            "Unknown data format 'xls'",
        ),
        (
            {"Name": "x", "Source": {"Uri": "s3://raw/k"}, "ErrorPolicy": "ignore"},
            "must be one of fail, skip, quarantine",
        ),
        (
            {"Name": "x", "Source": {"Uri": "s3://raw/k"}, "Steps": [{"Id": "a", "Type": "pivot"}]},
            "Step 'a': Unknown step type 'pivot'. Known types: balance,",
        ),
        (
            {
                "Name": "x",
                "Source": {"Uri": "s3://raw/k"},
                "Steps": [{"Id": "m", "Type": "handle-missing", "Parameters": {"strategy": "avg"}}],
            },
            "Step 'm': The 'strategy' parameter of HandleMissing must be one of mean, median, "
            "mode, constant. Got 'avg' instead.",
        ),
        (
            {
                "Name": "x",
                "Source": {"Uri": "s3://raw/k"},
                "Steps": [{"Id": "a", "Type": "flatten"}, {"Id": "a", "Type": "flatten"}],
            },
            "Two steps have the id 'a'",
        ),
    ],
)
def test_parse_validates_everything(document: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Flow.parse(document)  # type: ignore[arg-type]
    assert message in caught.value.message


def test_save_load_and_versions(session: Session) -> None:
    flow = loans()
    assert flow.save(session) == 1
    assert flow.save(session) == 1, "an unchanged flow adds no version"
    longer = Flow.load(session, "loans").add("split", method="random")
    assert longer.save(session) == 2
    latest = Flow.load(session, "loans")
    assert latest.version == 2 and latest == longer
    first = Flow.load(session, "loans", version=1)
    assert first.version == 1 and first == flow
    assert [v["Version"] for v in history(session, "loans")] == [1, 2]
    record = session.home.metadata.get("data-wrangler-flow", "loans")  # type: ignore[union-attr]
    assert record.document["LatestVersion"] == 2 and record.document["FlowName"] == "loans"
    assert record.arn.endswith(":data-wrangler-flow/loans")
    with pytest.raises(ResourceNotFound, match="has no version 7; its versions are 1 to 2"):
        Flow.load(session, "loans", version=7)
    with pytest.raises(ResourceNotFound, match="no flow named 'other'"):
        Flow.load(session, "other")
    Flow("other", source=SOURCE).save(session)
    summaries = {f.name: f for f in list_flows(session)}
    assert summaries["loans"].latest_version == 2 and summaries["loans"].steps == 4
    assert summaries["other"].source == "s3://raw/apps/"
