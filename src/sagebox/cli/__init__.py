"""The ``sagebox`` command: ``sagebox <resource> <verb>``."""

from sagebox.cli.app import app, main

__all__ = ["app", "main"]
