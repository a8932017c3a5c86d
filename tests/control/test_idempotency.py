"""ClientToken idempotency, over an operation whose model marks an idempotency token."""

from __future__ import annotations

from typing import Any

import pytest

from sagebox.control.context import Context
from sagebox.control.operations import OPERATIONS, Operation
from sagebox.errors import IdempotentParameterMismatch, ValidationError
from sagebox.session import Session

CALLS: list[dict[str, Any]] = []


def handler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(request)
    if request.get("ModelPackageDescription") == "fail":
        raise ValidationError("this request fails")
    return {"ModelPackageArn": f"arn:aws:sagemaker:::model-package/p/{len(CALLS)}"}


@pytest.fixture
def create_model_package(monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    op = Operation(
        "sagemaker",
        "CreateModelPackage",
        "tests.control.test_idempotency:handler",
        "model-package/*",
    )
    monkeypatch.setitem(OPERATIONS, ("sagemaker", "CreateModelPackage"), op)


def test_same_token_same_result_and_mismatch(session: Session, create_model_package: None) -> None:
    call = session.control.call
    first = call("CreateModelPackage", {"ModelPackageGroupName": "g", "ClientToken": "t-1"})
    again = call("CreateModelPackage", {"ModelPackageGroupName": "g", "ClientToken": "t-1"})
    assert first == again and len(CALLS) == 1
    with pytest.raises(IdempotentParameterMismatch, match="t-1"):
        call("CreateModelPackage", {"ModelPackageGroupName": "other", "ClientToken": "t-1"})
    other = call("CreateModelPackage", {"ModelPackageGroupName": "g", "ClientToken": "t-2"})
    assert other != first and len(CALLS) == 2
    call("CreateModelPackage", {"ModelPackageGroupName": "g"})  # no token: runs every time
    call("CreateModelPackage", {"ModelPackageGroupName": "g"})
    assert len(CALLS) == 4


def test_a_failed_request_can_be_retried_with_its_token(
    session: Session, create_model_package: None
) -> None:
    request = {
        "ModelPackageGroupName": "g",
        "ClientToken": "t-3",
        "ModelPackageDescription": "fail",
    }
    with pytest.raises(ValidationError):
        session.control.call("CreateModelPackage", request)
    with pytest.raises(ValidationError):
        session.control.call("CreateModelPackage", request)
    assert len(CALLS) == 2
