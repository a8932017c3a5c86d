"""Glue's error codes, as subclasses of the one sagebox exception tree.

    ValidationError
    +-- InvalidInput              InvalidInputException
    ResourceNotFound
    +-- EntityNotFound            EntityNotFoundException
    ResourceInUse
    +-- AlreadyExists             AlreadyExistsException
    +-- CrawlerRunning            CrawlerRunningException
    ConflictError
    +-- ConcurrentModification    ConcurrentModificationException
    +-- CrawlerNotRunning         CrawlerNotRunningException
    +-- CrawlerStopping           CrawlerStoppingException

Every one is an HTTP 400, as Glue answers them.
"""

from __future__ import annotations

from sagebox.errors import ConflictError, ResourceInUse, ResourceNotFound, ValidationError


class InvalidInput(ValidationError):
    code = "InvalidInputException"
    http_status = 400


class EntityNotFound(ResourceNotFound):
    code = "EntityNotFoundException"
    http_status = 400


class AlreadyExists(ResourceInUse):
    code = "AlreadyExistsException"
    http_status = 400


class CrawlerRunning(ResourceInUse):
    code = "CrawlerRunningException"
    http_status = 400


class ConcurrentModification(ConflictError):
    code = "ConcurrentModificationException"
    http_status = 400


class CrawlerNotRunning(ConflictError):
    code = "CrawlerNotRunningException"
    http_status = 400


class CrawlerStopping(ConflictError):
    code = "CrawlerStoppingException"
    http_status = 400
