"""One-row LightGBM predictions through the library's single-row fast C API.

``Booster.predict`` prepares a predictor for every call (it copies its parameters, asks
the C library for the booster's state, checks the array), which for one row costs about
five times the prediction itself. LightGBM's C API has a path made for this case:
``LGBM_BoosterPredictForMatSingleRowFastInit`` prepares once, and
``LGBM_BoosterPredictForMatSingleRowFast`` then scores a row with nothing else. The
Python package does not wrap it, so this module calls it with ctypes, on the handle of a
loaded ``Booster``: the same C prediction code, so the same scores (the tests compare
them bit for bit, NaNs, multiclass and regression included).

It reaches two names the package does not document (``lightgbm.basic._LIB`` and
``Booster._handle``); where either is missing, :func:`single_row` returns None and the
caller uses ``Booster.predict``.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

from sagebox.algorithms.per_model import PerModel

__all__ = ["SingleRow", "single_row"]

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities, values
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class SingleRow:
    """Scores one row of a booster's features at a time, as ``Booster.predict`` would."""

    def __init__(self, booster: Any, library: Any) -> None:
        self.features = int(booster.num_feature())
        self.outputs = int(booster.num_model_per_iteration())
        self._library = library
        self._config = ctypes.c_void_p()
        # what Booster.predict scores with: its best iteration if it has one, else every
        # tree (predict checks that best_iteration has not changed since)
        self.best_iteration = booster.best_iteration
        iterations = self.best_iteration if self.best_iteration > 0 else -1
        status = library.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle,
            ctypes.c_int(_PREDICT_NORMAL),
            ctypes.c_int(0),  # start iteration
            ctypes.c_int(iterations),
            ctypes.c_int(_FLOAT64),
            ctypes.c_int32(self.features),
            ctypes.c_char_p(b""),  # no parameters, as Booster.predict() without kwargs
            ctypes.byref(self._config),
        )
        if status != 0:
            raise OSError(library.LGBM_GetLastError().decode("utf-8", "replace"))
        self._out = np.empty(self.outputs, dtype=np.float64)
        self._out_pointer = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._length = ctypes.c_int64(0)
        self._length_pointer = ctypes.byref(self._length)
        self._lock = threading.Lock()  # one FastConfig, one prediction at a time
        weakref.finalize(self, library.LGBM_FastConfigFree, self._config)

    def predict(self, booster: Any, rows: np.ndarray) -> np.ndarray | None:
        """The scores of ``rows`` (one row of ``features`` float32 or float64 values) by
        ``booster`` (the one it was made for), shaped as ``Booster.predict`` shapes them;
        None where this path does not take them, or another thread is using it."""
        if (
            rows.shape != (1, self.features)
            or rows.dtype not in _FLOATS
            or booster.best_iteration != self.best_iteration
        ):
            return None
        row = np.ascontiguousarray(rows[0], dtype=np.float64)
        if not self._lock.acquire(blocking=False):
            return None
        try:
            status = self._library.LGBM_BoosterPredictForMatSingleRowFast(
                self._config,
                row.ctypes.data_as(ctypes.c_void_p),
                self._length_pointer,
                self._out_pointer,
            )
            scores = self._out.copy()
        finally:
            self._lock.release()
        if status != 0:
            return None  # Booster.predict says what is wrong
        return scores.reshape(1, self.outputs) if self.outputs > 1 else scores


def _make(booster: Any) -> SingleRow:
    from lightgbm.basic import _LIB

    return SingleRow(booster, _LIB)


_made = PerModel(_make, (ImportError, AttributeError, OSError, TypeError))


def single_row(booster: Any) -> SingleRow | None:
    """The booster's one-row predictor (made on first use), or None where this lightgbm
    does not have what it needs."""
    return _made.get(booster)
