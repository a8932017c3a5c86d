"""Condition keys a request carries, for policies to test: request tags and service keys.

``aws:RequestTag/<key>`` and ``aws:TagKeys`` from a request's ``Tags``; for SageMaker,
``sagemaker:InstanceTypes`` (every instance type the request asks for),
``sagemaker:NetworkIsolation`` and ``sagemaker:VolumeKmsKey`` / ``sagemaker:OutputKmsKey``,
as SageMaker's service authorization reference defines them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def request_keys(service: str, request: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    tags = request.get("Tags")
    if isinstance(tags, list):
        pairs = [t for t in tags if isinstance(t, Mapping) and "Key" in t]
        for tag in pairs:
            keys[f"aws:RequestTag/{tag['Key']}"] = str(tag.get("Value", ""))
        keys["aws:TagKeys"] = [str(t["Key"]) for t in pairs]
    if service == "sagemaker":
        types = sorted({str(v) for k, v in _walk(request) if k == "InstanceType"})
        if types:
            keys["sagemaker:InstanceTypes"] = types
        for member, value in _walk(request):
            if member == "EnableNetworkIsolation":
                keys["sagemaker:NetworkIsolation"] = bool(value)
            elif member == "VolumeKmsKeyId":
                keys["sagemaker:VolumeKmsKey"] = str(value)
            elif member == "KmsKeyId":
                keys["sagemaker:OutputKmsKey"] = str(value)
    return keys
