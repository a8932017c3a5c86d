"""What a model package points at must be there: its images, model data and reports.

A package is a promise that it can be deployed and that its evaluation can be read, so
CreateModelPackage and UpdateModelPackage check it once, up front: every container's
``Image`` is one sagebox can serve, every ``ModelDataUrl`` / ``ModelDataSource`` names
objects that exist, and every report of ``ModelMetrics`` and ``DriftCheckBaselines``
exists, matches its ``ContentDigest`` and, when its ``ContentType`` says JSON, parses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sagebox.errors import NoSuchBucket, NoSuchKey, ValidationError
from sagebox.home import Home
from sagebox.runtime.images import resolve_image
from sagebox.store.objects import ObjectInfo, parse_s3_uri

# A report is a JSON document of a few kilobytes; anything near this is not one.
MAX_REPORT_BYTES = 64 * 1024 * 1024


def _s3_uri(uri: str, where: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValidationError(
            f"{where} {uri!r} is not an s3:// URI. sagebox reads model data and reports "
            "from its object store: upload the file (sagebox s3 cp FILE s3://bucket/key) "
            "and pass its s3:// URI."
        )
    parsed = parse_s3_uri(uri)
    return parsed.bucket, parsed.key


def _head(home: Home, uri: str, where: str, what: str) -> ObjectInfo:
    bucket, key = _s3_uri(uri, where)
    try:
        return home.objects.head_object(bucket, key)
    except (NoSuchKey, NoSuchBucket):
        raise ValidationError(
            f"Could not find {what} at {uri} ({where}): no such object. Check the URI "
            "(a training job's model is its ModelArtifacts.S3ModelArtifacts in "
            "DescribeTrainingJob), or upload the file first."
        ) from None


def _check_prefix(home: Home, uri: str, where: str) -> None:
    bucket, key = _s3_uri(uri, where)
    try:
        listed = home.objects.list_objects(bucket, key, max_keys=1)
    except NoSuchBucket:
        listed = None
    if listed is None or not listed.objects:
        raise ValidationError(
            f"Could not find model data under {uri} ({where}): no object has that prefix. "
            "Check the URI, or upload the model files first."
        )


def check_containers(home: Home, containers: Sequence[Mapping[str, Any]], where: str) -> None:
    """Each container of an inference specification can be served as it stands."""
    if not containers:
        raise ValidationError(
            f"{where}.Containers is empty. Give at least one container with an Image and "
            "its ModelDataUrl, e.g. {'Image': 'sagebox/xgboost', 'ModelDataUrl': "
            "'s3://bucket/job/output/model.tar.gz'}."
        )
    for index, container in enumerate(containers, start=1):
        at = f"{where}.Containers.{index}"
        image = container.get("Image")
        if not image:
            raise ValidationError(
                f"{at}.Image is missing. Name the inference image, e.g. the training image "
                "of a built-in algorithm ('sagebox/xgboost') or its ECR URI."
            )
        try:
            resolve_image(image)
        except ValidationError as exc:
            raise ValidationError(f"{at}.Image: {exc.message}") from None
        source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if container.get("ModelDataUrl") and source:
            raise ValidationError(
                f"{at} gives both ModelDataUrl and ModelDataSource; give only one."
            )
        if container.get("ModelDataUrl"):
            _head(home, container["ModelDataUrl"], f"{at}.ModelDataUrl", "model data")
        elif source:
            uri = source["S3Uri"]
            if source.get("S3DataType") == "S3Prefix":
                _check_prefix(home, uri, f"{at}.ModelDataSource.S3DataSource.S3Uri")
            else:
                _head(home, uri, f"{at}.ModelDataSource.S3DataSource.S3Uri", "model data")


def check_inference_specification(home: Home, spec: Mapping[str, Any], where: str) -> None:
    check_containers(home, spec.get("Containers", []), where)


def _sources(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every report (a structure with an ``S3Uri``) inside ``value``, with its path."""
    if isinstance(value, Mapping):
        if "S3Uri" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from _sources(item, f"{path}.{key}")


def _read(home: Home, uri: str, size: int, where: str) -> bytes:
    if size > MAX_REPORT_BYTES:
        raise ValidationError(
            f"The report at {uri} ({where}) is {size} bytes; reports are JSON documents "
            f"of at most {MAX_REPORT_BYTES} bytes. Point {where} at the report itself."
        )
    bucket, key = _s3_uri(uri, where)
    _, stream = home.objects.open_object(bucket, key)
    with stream:
        return stream.read()


def check_report(home: Home, source: Mapping[str, Any], where: str) -> None:
    """One report exists, matches its ContentDigest, and parses if it says it is JSON."""
    uri = source["S3Uri"]
    info = _head(home, uri, f"{where}.S3Uri", "the report")
    digest = source.get("ContentDigest")
    content_type = str(source.get("ContentType", ""))
    if not digest and "json" not in content_type.lower():
        return
    body = _read(home, uri, info.size, where)
    if digest:
        expected = digest.split(":", 1)[1].lower()
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise ValidationError(
                f"{where}.ContentDigest {digest!r} does not match the report at {uri}, whose "
                f"SHA-256 is sha256:{actual}. The report changed since the digest was taken: "
                "upload the right report or pass its current digest."
            )
    if "json" in content_type.lower():
        try:
            json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(
                f"The report at {uri} ({where}) has ContentType {content_type!r} but is not "
                f"JSON ({exc}). Point it at the JSON report (e.g. an evaluation.json), or "
                "give its real ContentType."
            ) from None


def check_reports(home: Home, request: Mapping[str, Any]) -> None:
    """Every report of ``ModelMetrics`` and ``DriftCheckBaselines`` can be read."""
    for member in ("ModelMetrics", "DriftCheckBaselines"):
        for where, source in _sources(request.get(member), member):
            check_report(home, source, where)


def check_sample_payload(home: Home, uri: str | None) -> None:
    if uri:
        _head(home, uri, "SamplePayloadUrl", "the sample payload")
