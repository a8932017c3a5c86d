"""Errors of the model-serving data path.

These never reach a user as they are: the runtime turns them into AWS's answers
(``ModelError`` with HTTP 424, ``ServiceUnavailable``, ...), the endpoint host into a
``FailureReason``, a transform job into its failure.

    ModelError          the model's own failure answering one request (status, message)
    ModelLoadError      the model could not be loaded (bad artifact, broken inference.py)
    WorkerUnavailable   could not reach a worker at all: nothing was sent, retry elsewhere
    WorkerFailed        the worker took the request but gave no valid answer
    +-- WorkerTimeout   ... within the caller's deadline
"""

from __future__ import annotations

__all__ = ["ModelError", "ModelLoadError", "WorkerFailed", "WorkerTimeout", "WorkerUnavailable"]


class ModelError(Exception):
    """The model failed one request: ``status`` is the HTTP status the container answers.

    415: unsupported content type, 406: unsupported Accept, 400: a body that cannot be
    decoded or has the wrong shape, 500: the model's code raised.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ModelLoadError(Exception):
    """Loading the model failed; ``message`` is one line fit for a ``FailureReason``."""

    def __init__(self, message: str) -> None:
        message = " ".join(message.split())  # one line whatever the cause said
        super().__init__(message)
        self.message = message


class WorkerUnavailable(ConnectionError):
    """No connection to the worker could be made (gone, not started, refused).

    Nothing reached the worker, so the request may be sent to another one.
    """


class WorkerFailed(Exception):
    """The worker accepted the request but did not answer it with a valid response."""


class WorkerTimeout(WorkerFailed):
    """The worker did not answer within the caller's timeout."""
