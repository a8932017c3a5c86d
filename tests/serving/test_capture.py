"""Data capture: SageMaker's record format, encodings, sampling, and the files it writes."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from sagebox.home import Home
from sagebox.serving.capture import CaptureConfig, CaptureWriter, capture_record

WHEN = 1_800_000_000.25  # 2027-01-15T08:00:00.250Z


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://monitoring/capture/",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json", "application/jsonlines"],
        },
    }
    config.update(overrides)
    return config


def test_config_from_the_api_shape() -> None:
    config = CaptureConfig.from_api(_config())
    assert config is not None
    assert config.destination == "s3://monitoring/capture"
    assert (config.capture_input, config.capture_output) == (True, True)
    assert CaptureConfig.from_api(_config(EnableCapture=False)) is None
    assert CaptureConfig.from_api(None) is None
    only_input = CaptureConfig.from_api(_config(CaptureOptions=[{"CaptureMode": "Input"}]))
    assert only_input is not None and not only_input.capture_output
    both = CaptureConfig.from_api(_config(CaptureOptions=[{"CaptureMode": "InputAndOutput"}]))
    assert both is not None and both.capture_input and both.capture_output


def test_encoding_follows_the_content_type_headers() -> None:
    config = CaptureConfig.from_api(_config())
    assert config is not None
    assert config.encoding("text/csv") == "CSV"
    assert config.encoding("text/csv; charset=utf-8") == "CSV"  # matched on the media type
    assert config.encoding("Application/JSON") == "JSON"
    assert config.encoding("image/png") == "BASE64"
    bare = CaptureConfig.from_api(_config(CaptureContentTypeHeader=None))
    assert bare is not None and bare.encoding("text/csv") == "BASE64"  # SageMaker's default


def test_record_has_sagemakers_shape() -> None:
    config = CaptureConfig.from_api(_config())
    assert config is not None
    record = capture_record(
        config,
        event_id="e-1",
        when=WHEN,
        request=b"1,2,3",
        request_type="text/csv",
        response=b'{"predictions":[{"score":0.25}]}',
        response_type="application/json",
        inference_id="loan-42",
        custom_attributes="trace=7",
    )
    assert record == {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2,3",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": '{"predictions":[{"score":0.25}]}',
                "encoding": "JSON",
            },
        },
        "eventMetadata": {
            "eventId": "e-1",
            "inferenceId": "loan-42",
            "customAttributes": "trace=7",
            "inferenceTime": "2027-01-15T08:00:00Z",
        },
        "eventVersion": "0",
    }


def test_binary_and_undeclared_bodies_are_base64() -> None:
    config = CaptureConfig.from_api(_config(CaptureOptions=[{"CaptureMode": "Input"}]))
    assert config is not None
    not_utf8 = b"\xff\xfe,1"
    record = capture_record(
        config,
        event_id="e",
        when=WHEN,
        request=not_utf8,
        request_type="text/csv",
        response=b"0.5",
        response_type="text/csv",
    )
    data = record["captureData"]
    assert "endpointOutput" not in data  # Input only
    assert data["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(data["endpointInput"]["data"]) == not_utf8


def _objects(home: Home, bucket: str = "monitoring") -> dict[str, bytes]:
    listing = home.objects.list_objects(bucket, prefix="")
    return {o.key: home.objects.get_object(bucket, o.key) for o in listing.objects}


@pytest.fixture
def home(home_path: Path) -> Home:
    opened = Home.open(home_path)
    opened.objects.create_bucket("monitoring")
    return opened


def test_writer_files_by_endpoint_variant_and_hour(home: Home) -> None:
    config = CaptureConfig.from_api(_config())
    assert config is not None
    writer = CaptureWriter(home.objects, flush_seconds=3600)
    for index in range(3):
        writer.offer(
            config,
            "loans",
            "AllTraffic",
            request=f"{index},1".encode(),
            request_type="text/csv",
            response=b"0.1\n",
            response_type="text/csv",
            when=WHEN + index,
        )
    writer.offer(
        config,
        "loans",
        "Challenger",
        request=b"9,9",
        request_type="text/csv",
        response=b"0.9\n",
        response_type="text/csv",
        when=WHEN + 3600,  # the next hour: its own file
    )
    writer.flush()
    files = _objects(home)
    assert len(files) == 2
    pattern = re.compile(
        r"capture/loans/(AllTraffic|Challenger)/2027/01/15/(08|09)/"
        r"\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl"
    )
    assert all(pattern.fullmatch(key) for key in files), list(files)
    (main,) = [k for k in files if "/AllTraffic/" in k]
    assert main.split("/")[-1].startswith("00-00-250-")  # minute, second, millisecond
    lines = [json.loads(line) for line in files[main].decode().splitlines()]
    assert [r["captureData"]["endpointInput"]["data"] for r in lines] == ["0,1", "1,1", "2,1"]
    assert len({r["eventMetadata"]["eventId"] for r in lines}) == 3
    writer.close()


def test_sampling_percentage_decides_what_is_kept(home: Home) -> None:
    writer = CaptureWriter(home.objects, flush_seconds=3600)
    none = CaptureConfig.from_api(_config(InitialSamplingPercentage=0))
    assert none is not None
    kept = [
        writer.offer(
            none,
            "loans",
            "AllTraffic",
            request=b"1",
            request_type="text/csv",
            response=b"1",
            response_type="text/csv",
        )
        for _ in range(50)
    ]
    assert not any(kept)
    half = CaptureConfig.from_api(_config(InitialSamplingPercentage=50))
    assert half is not None
    sampled = sum(half.sampled() for _ in range(2000))
    assert 800 < sampled < 1200
    writer.flush()
    assert _objects(home) == {}


def test_a_full_buffer_is_written_without_waiting_for_the_timer(home: Home) -> None:
    config = CaptureConfig.from_api(_config())
    assert config is not None
    writer = CaptureWriter(home.objects, flush_seconds=3600, max_buffer_bytes=1000)
    for _ in range(5):
        writer.offer(
            config,
            "loans",
            "AllTraffic",
            request=b"x" * 300,
            request_type="text/csv",
            response=b"1",
            response_type="text/csv",
        )
    deadline = time.monotonic() + 30
    while not _objects(home):
        assert time.monotonic() < deadline, "the full buffer was never written"
        time.sleep(0.02)
    writer.close()
    records = [line for body in _objects(home).values() for line in body.splitlines()]
    assert len(records) == 5


def test_a_missing_bucket_is_logged_not_raised(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    config = CaptureConfig.from_api(_config(DestinationS3Uri="s3://no-such-bucket/capture"))
    assert config is not None
    writer = CaptureWriter(home.objects, flush_seconds=3600)
    for _ in range(2):
        writer.offer(
            config,
            "loans",
            "AllTraffic",
            request=b"1",
            request_type="text/csv",
            response=b"1",
            response_type="text/csv",
        )
        writer.flush()
    warnings = [r for r in caplog.records if "no-such-bucket" in r.getMessage()]
    assert len(warnings) == 1  # once per destination
    assert "DestinationS3Uri" in warnings[0].getMessage()
