"""Fixtures of the serving tests: the ``endpoints`` session, cleaned up afterwards."""

from tests.serving.hosting import endpoints  # noqa: F401  (fixture)
