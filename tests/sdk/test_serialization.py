"""The SDK's serializers and deserializers: what goes over the wire to an endpoint."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from sagebox.sdk.deserializers import (
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
)
from sagebox.sdk.model_metrics import MetricsSource, ModelMetrics
from sagebox.sdk.model_monitor import DataCaptureConfig
from sagebox.sdk.serializers import (
    CSVSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    NumpySerializer,
)
from sagebox.sdk.serverless import ServerlessInferenceConfig


def test_csv_serializer_writes_one_line_per_row_without_header() -> None:
    serializer = CSVSerializer()
    assert serializer.CONTENT_TYPE == "text/csv"
    assert serializer.serialize(np.array([[1.5, 2], [3, 4]])) == b"1.5,2.0\n3.0,4.0"
    assert serializer.serialize([0.1, 2, 3]) == b"0.1,2,3"  # one row
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    assert serializer.serialize(frame) == b"1,3\n2,4"
    assert serializer.serialize("1,2,3") == b"1,2,3"


def test_json_and_jsonlines_serializers() -> None:
    assert json.loads(JSONSerializer().serialize(np.array([[1, 2]]))) == [[1, 2]]
    assert json.loads(JSONSerializer().serialize({"instances": [[1]]})) == {"instances": [[1]]}
    lines = JSONLinesSerializer().serialize([[1, 2], [3, 4]]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [[1, 2], [3, 4]]
    assert IdentitySerializer("text/csv").serialize("x") == b"x"


def test_numpy_round_trip() -> None:
    data = np.arange(6, dtype=float).reshape(2, 3)
    body = NumpySerializer().serialize(data)
    assert np.array_equal(NumpyDeserializer().deserialize(body, "application/x-npy"), data)
    assert np.array_equal(
        NumpyDeserializer().deserialize(b"0.5\n0.25\n", "text/csv"), np.array([0.5, 0.25])
    )


def test_deserializers_read_streams_like_botocore_bodies() -> None:
    assert CSVDeserializer().deserialize(io.BytesIO(b"0.1\n0.9\n")) == [["0.1"], ["0.9"]]
    assert JSONDeserializer().deserialize(io.BytesIO(b'{"predictions": []}')) == {"predictions": []}
    assert JSONLinesDeserializer().deserialize(b'{"score": 1}\n{"score": 0}\n') == [
        {"score": 1},
        {"score": 0},
    ]
    assert BytesDeserializer().deserialize(io.BytesIO(b"raw")) == b"raw"


def test_request_configs_have_the_api_shapes() -> None:
    assert ServerlessInferenceConfig(4096, 20, 5)._to_request_dict() == {
        "MemorySizeInMB": 4096,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 5,
    }
    capture = DataCaptureConfig(True, 50, "s3://b/capture", capture_options=["REQUEST"])
    assert capture._to_request_dict() == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://b/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    metrics = ModelMetrics(model_statistics=MetricsSource("application/json", "s3://b/e.json"))
    assert metrics._to_request_dict() == {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/e.json"}
        }
    }
