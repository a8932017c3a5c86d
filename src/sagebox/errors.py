"""The one exception tree of sagebox.

Every error a user can see is a :class:`SageboxError` carrying an AWS error
code. The edge (HTTP server, CLI, SDK) maps codes to HTTP statuses in one
table; inner code only raises.

    SageboxError
    +-- ValidationError            ValidationException
    |   +-- RuntimeValidationError ValidationError (SageMaker Runtime)
    |       +-- PayloadTooLarge    ValidationError, HTTP 413
    +-- ResourceNotFound           ResourceNotFound
    |   +-- NoSuchBucket           NoSuchBucket
    |   +-- NoSuchKey              NoSuchKey
    |   +-- NoSuchBucketPolicy     NoSuchBucketPolicy
    |   +-- NoSuchEntity           NoSuchEntity (IAM)
    +-- ResourceInUse              ResourceInUse
    |   +-- BucketAlreadyOwnedByYou
    |   +-- BucketNotEmpty
    |   +-- EntityAlreadyExists    EntityAlreadyExists (IAM)
    |   +-- DeleteConflict         DeleteConflict (IAM)
    +-- ResourceLimitExceeded      ResourceLimitExceeded
    |   +-- LimitExceeded          LimitExceeded (IAM)
    +-- ThrottlingError            ThrottlingException
    +-- AccessDenied               AccessDeniedException
    +-- ConflictError              ConflictException
    +-- IdempotentParameterMismatch
    +-- UnknownOperation           UnknownOperationException
    +-- InternalError              InternalFailure
    +-- ModelInvocationError       ModelError (SageMaker Runtime, HTTP 424)
    +-- ModelNotReady              ModelNotReadyException (SageMaker Runtime, HTTP 429)
    +-- ServiceUnavailable         ServiceUnavailable (SageMaker Runtime, HTTP 503)
"""

from __future__ import annotations

from typing import Any


class SageboxError(Exception):
    """Base of every sagebox error; ``code`` is the AWS error code."""

    code = "InternalFailure"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(SageboxError):
    code = "ValidationException"
    http_status = 400


class ResourceNotFound(SageboxError):
    code = "ResourceNotFound"
    http_status = 400


class NoSuchBucket(ResourceNotFound):
    code = "NoSuchBucket"
    http_status = 404


class NoSuchKey(ResourceNotFound):
    code = "NoSuchKey"
    http_status = 404


class NoSuchBucketPolicy(ResourceNotFound):
    code = "NoSuchBucketPolicy"
    http_status = 404


class NoSuchEntity(ResourceNotFound):
    code = "NoSuchEntity"
    http_status = 404


class ResourceInUse(SageboxError):
    code = "ResourceInUse"
    http_status = 400


class BucketAlreadyOwnedByYou(ResourceInUse):
    code = "BucketAlreadyOwnedByYou"
    http_status = 409


class BucketNotEmpty(ResourceInUse):
    code = "BucketNotEmpty"
    http_status = 409


class EntityAlreadyExists(ResourceInUse):
    code = "EntityAlreadyExists"
    http_status = 409


class DeleteConflict(ResourceInUse):
    code = "DeleteConflict"
    http_status = 409


class ResourceLimitExceeded(SageboxError):
    code = "ResourceLimitExceeded"
    http_status = 400


class LimitExceeded(ResourceLimitExceeded):
    code = "LimitExceeded"
    http_status = 409


class ThrottlingError(SageboxError):
    code = "ThrottlingException"
    http_status = 400


class AccessDenied(SageboxError):
    code = "AccessDeniedException"
    http_status = 400


class ConflictError(SageboxError):
    code = "ConflictException"
    http_status = 400


class IdempotentParameterMismatch(SageboxError):
    code = "IdempotentParameterMismatch"
    http_status = 400


class UnknownOperation(SageboxError):
    code = "UnknownOperationException"
    http_status = 400


class InternalError(SageboxError):
    code = "InternalFailure"
    http_status = 500


# ---- SageMaker Runtime (InvokeEndpoint): its own codes, as botocore's model names them


class RuntimeValidationError(ValidationError):
    """SageMaker Runtime's spelling of a bad request (not ``ValidationException``)."""

    code = "ValidationError"
    http_status = 400


class PayloadTooLarge(RuntimeValidationError):
    code = "ValidationError"
    http_status = 413


class ModelInvocationError(SageboxError):
    """The model answered an invocation with an error (or not in time).

    ``members`` are the error shape's extra fields, sent in the error body as AWS does.
    """

    code = "ModelError"
    http_status = 424

    def __init__(
        self,
        message: str,
        *,
        original_status_code: int | None = None,
        original_message: str | None = None,
        log_stream_arn: str | None = None,
    ) -> None:
        super().__init__(message)
        self.original_status_code = original_status_code
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn

    @property
    def members(self) -> dict[str, Any]:
        fields = {
            "OriginalStatusCode": self.original_status_code,
            "OriginalMessage": self.original_message,
            "LogStreamArn": self.log_stream_arn,
        }
        return {k: v for k, v in fields.items() if v is not None}


class ModelNotReady(SageboxError):
    code = "ModelNotReadyException"
    http_status = 429


class ServiceUnavailable(SageboxError):
    code = "ServiceUnavailable"
    http_status = 503
