"""Fixtures of the CLI tests: the ``endpoints`` session, its endpoints removed afterwards."""

from tests.serving.hosting import endpoints  # noqa: F401  (fixture)
