"""Checking a CreateTransformJob request by AWS's rules, and what its instances are told.

Every rule AWS states for the request is checked here, before anything is created, with
a message that says what to change: the payload rule (``MaxPayloadInMB`` 0 to 100, and
``MaxConcurrentTransforms`` x ``MaxPayloadInMB`` at most 100), the split and batch
settings, and the ``DataProcessing`` filters, parsed as the batch program will apply
them. The result is a :class:`~sagebox.transform.settings.BatchSettings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sagebox.errors import ValidationError
from sagebox.runtime.images import resolve_image
from sagebox.runtime.instance_types import InstanceProfile
from sagebox.serving.deployment import ModelSpec
from sagebox.store.objects import parse_s3_uri
from sagebox.transform.settings import (
    DEFAULT_PAYLOAD_MB,
    MB,
    BatchSettings,
    Strategy,
    media_family,
)

MAX_PAYLOAD_MB = 100
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_MAX_RETRIES = 3


def builtin_defaults(model: ModelSpec) -> bool:
    """True when the model is served by a built-in algorithm's own handlers: SageMaker then
    takes the algorithm's execution parameters (MultiRecord, a request per vCPU)."""
    if model.environment.get("SAGEMAKER_PROGRAM"):
        return False
    return resolve_image(model.image).entry.kind == "algorithm"


def _payload_mb(request: Mapping[str, Any]) -> int:
    payload = request.get("MaxPayloadInMB")
    if payload is None:
        return DEFAULT_PAYLOAD_MB
    if payload > MAX_PAYLOAD_MB:
        raise ValidationError(
            f"MaxPayloadInMB must be at most {MAX_PAYLOAD_MB}; got {payload}. A record must "
            "fit in it; 0 lets a request be of any size (for a model that reads it in "
            "chunks)."
        )
    return int(payload)


def _concurrency(
    request: Mapping[str, Any], payload_mb: int, builtin: bool, profile: InstanceProfile
) -> int:
    given = request.get("MaxConcurrentTransforms") or 0
    if given:
        if given * payload_mb > MAX_PAYLOAD_MB:
            raise ValidationError(
                f"MaxConcurrentTransforms x MaxPayloadInMB must be at most {MAX_PAYLOAD_MB} "
                f"(MB in flight per instance); got {given} x {payload_mb} = "
                f"{given * payload_mb}. Lower MaxConcurrentTransforms to "
                f"{max(1, MAX_PAYLOAD_MB // max(payload_mb, 1))} or less, or lower "
                "MaxPayloadInMB."
            )
        return int(given)
    if not builtin:
        return 1  # no execution parameters to ask: AWS's default
    # A built-in algorithm answers a request per vCPU, within the payload rule.
    cores = min(profile.vcpus, os.cpu_count() or 1)
    return max(1, min(cores, MAX_PAYLOAD_MB // max(payload_mb, 1)))


def _input(request: Mapping[str, Any]) -> Mapping[str, Any]:
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    data_type = source["S3DataType"]
    if data_type not in ("S3Prefix", "ManifestFile"):
        raise ValidationError(
            f"TransformInput.DataSource.S3DataSource.S3DataType {data_type!r} is not "
            "supported by sagebox; use 'S3Prefix' (every object under the prefix) or "
            "'ManifestFile' (a JSON list of objects)."
        )
    parse_s3_uri(source["S3Uri"])
    return source


def _split(request: Mapping[str, Any]) -> str:
    split = request["TransformInput"].get("SplitType", "None")
    if split in ("RecordIO", "TFRecord"):
        raise ValidationError(
            f"TransformInput.SplitType {split!r} is not supported by sagebox: it splits "
            "'Line' (a record per line: CSV, JSON lines) or 'None' (a file is one record). "
            "Convert the data to CSV or JSON lines."
        )
    return str(split)


def _data_processing(
    request: Mapping[str, Any], content_type: str | None, output_type: str | None, split: str
) -> tuple[str, str, str]:
    from sagebox.transform.filters import parse_filter

    processing = request.get("DataProcessing") or {}
    input_filter = (processing.get("InputFilter") or "$").strip() or "$"
    output_filter = (processing.get("OutputFilter") or "$").strip() or "$"
    join = processing.get("JoinSource", "None")
    if input_filter == "$" and output_filter == "$" and join == "None":
        return input_filter, output_filter, join
    in_family, out_family = media_family(content_type), media_family(output_type)
    per_record_answers = join == "Input" or output_filter != "$"
    if in_family == "other" or (out_family == "other" and per_record_answers):
        raise ValidationError(
            "DataProcessing filters and joins read records as CSV or JSON: set "
            "TransformInput.ContentType (and TransformOutput.Accept) to text/csv, "
            f"application/json or application/jsonlines; got ContentType {content_type!r} "
            f"and Accept {output_type!r}."
        )
    if join == "Input" and in_family != out_family:
        raise ValidationError(
            f"JoinSource 'Input' joins each input record with its answer, so the input "
            f"({content_type}) and the answer (Accept {output_type}) must both be CSV or both "
            "JSON. Set TransformOutput.Accept to match TransformInput.ContentType."
        )
    if in_family == "csv" and split != "Line":
        raise ValidationError(
            "DataProcessing on text/csv works record by record: set TransformInput.SplitType "
            f"to 'Line' (and TransformOutput.AssembleWith to 'Line'); got SplitType {split!r}."
        )
    assemble = request["TransformOutput"].get("AssembleWith", "None")
    if out_family == "csv" and (join == "Input" or output_filter != "$") and assemble != "Line":
        raise ValidationError(
            "Joined or filtered CSV answers are written a row a line: set "
            f"TransformOutput.AssembleWith to 'Line'; got {assemble!r}."
        )
    parse_filter(input_filter, in_family, "DataProcessing.InputFilter")
    parse_filter(output_filter, out_family, "DataProcessing.OutputFilter")
    return input_filter, output_filter, join


def _client_config(request: Mapping[str, Any]) -> tuple[int, int]:
    config = request.get("ModelClientConfig") or {}
    return (
        int(config.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)),
        int(config.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)),
    )


def _archive_name(uri: str) -> str:
    return parse_s3_uri(uri).key.rsplit("/", 1)[-1]


def batch_settings(
    request: Mapping[str, Any], model: ModelSpec, profile: InstanceProfile
) -> BatchSettings:
    """The checked request as the batch program's settings; ValidationError otherwise."""
    if request.get("DataCaptureConfig"):
        raise ValidationError(
            "DataCaptureConfig for batch transform is not supported by sagebox yet; remove it "
            "(the job's output already holds every answer, and JoinSource 'Input' puts each "
            "beside its input record)."
        )
    source = _input(request)
    transform_input = request["TransformInput"]
    transform_output = request["TransformOutput"]
    parse_s3_uri(transform_output["S3OutputPath"])
    split = _split(request)
    builtin = builtin_defaults(model)
    payload_mb = _payload_mb(request)
    concurrency = _concurrency(request, payload_mb, builtin, profile)
    strategy: Strategy = request.get("BatchStrategy") or (
        "MultiRecord" if builtin else "SingleRecord"
    )
    content_type = transform_input.get("ContentType") or None
    accept = transform_output.get("Accept") or None
    input_filter, output_filter, join = _data_processing(
        request, content_type, accept or content_type, split
    )
    timeout, retries = _client_config(request)
    submit = model.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    code_staged = submit.startswith("s3://")
    return BatchSettings(
        content_type=content_type,
        accept=accept,
        split_type=split,  # type: ignore[arg-type]
        compression=transform_input.get("CompressionType", "None"),
        strategy=strategy,
        max_payload_bytes=payload_mb * MB,
        max_concurrent=concurrency,
        assemble_with=transform_output.get("AssembleWith", "None"),
        input_filter=input_filter,
        output_filter=output_filter,
        join_source=join,  # type: ignore[arg-type]
        invocation_timeout_seconds=timeout,
        invocation_max_retries=retries,
        manifest=source["S3DataType"] == "ManifestFile",
        input_uri=source["S3Uri"],
        model_archive=(
            _archive_name(model.model_data) if model.model_data and model.compressed else None
        ),
        code_archive=_archive_name(submit) if code_staged and not submit.endswith("/") else None,
        code_staged=code_staged,
    )
