"""What is made once per loaded model object and lives as long as it does."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerModel"]

T = TypeVar("T")


class PerModel(Generic[T]):
    """``make(model)`` on a model's first :meth:`get`, kept for the model's life (weakly
    keyed); None, kept too, where it raised one of ``unavailable``."""

    def __init__(
        self, make: Callable[[Any], T], unavailable: tuple[type[BaseException], ...]
    ) -> None:
        self._make = make
        self._unavailable = unavailable
        self._made: weakref.WeakKeyDictionary[Any, T | None] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, model: Any) -> T | None:
        try:
            return self._made[model]
        except KeyError:
            pass
        with self._lock:
            if model not in self._made:
                try:
                    self._made[model] = self._make(model)
                except self._unavailable:
                    self._made[model] = None
            return self._made[model]
