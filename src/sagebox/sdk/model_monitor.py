"""``DataCaptureConfig``, as ``sagemaker.model_monitor``: what an endpoint records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DataCaptureConfig"]


class DataCaptureConfig:
    """Capture a sample of requests and/or responses as JSON lines under
    ``destination_s3_uri``/<endpoint>/<variant>/yyyy/mm/dd/hh/."""

    def __init__(
        self,
        enable_capture: bool,
        sampling_percentage: int = 20,
        destination_s3_uri: str | None = None,
        kms_key_id: str | None = None,
        capture_options: Sequence[str] = ("REQUEST", "RESPONSE"),
        csv_content_types: Sequence[str] | None = None,
        json_content_types: Sequence[str] | None = None,
        sagemaker_session: Any = None,
    ) -> None:
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.kms_key_id = kms_key_id
        self.capture_options = list(capture_options)
        self.csv_content_types = list(csv_content_types or ["text/csv"])
        self.json_content_types = list(json_content_types or ["application/json"])
        self.sagemaker_session = sagemaker_session

    def _to_request_dict(self) -> dict[str, Any]:
        destination = self.destination_s3_uri
        if destination is None:
            session = self.sagemaker_session
            if session is None:
                from sagebox.session import Session

                session = Session()
            destination = f"s3://{session.default_bucket()}/model-monitor/data-capture"
        modes = {"REQUEST": "Input", "RESPONSE": "Output"}
        config: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": destination,
            "CaptureOptions": [
                {"CaptureMode": modes.get(option.upper(), option)}
                for option in self.capture_options
            ],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": self.csv_content_types,
                "JsonContentTypes": self.json_content_types,
            },
        }
        if self.kms_key_id:
            config["KmsKeyId"] = self.kms_key_id
        return config
