"""XGBoost predictions of dense arrays straight through the C API's dense in-place predict.

``Booster.inplace_predict`` ends in one C call, ``XGBoosterPredictFromDense``, but first
builds its JSON arguments, inspects the input against a dozen data types and wraps the
output, which for one row costs more than the prediction itself. For a C-contiguous
float32 or float64 numpy array this module makes the same C call with the same
arguments (built once per booster) and copies the output the same way: the same
scores, bit for bit (the tests compare them).

It reaches a name the package does not document (``xgboost.core._LIB``); where it is
missing, :func:`dense` returns None and the caller uses ``inplace_predict``.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

import numpy as np

from sagebox.algorithms.per_model import PerModel

__all__ = ["Dense", "dense"]

_TYPESTR = {np.dtype(np.float32): b"<f4", np.dtype(np.float64): b"<f8"}


class Dense:
    """``inplace_predict`` of a dense float array, as ``Booster.inplace_predict(rows)``."""

    def __init__(self, booster: Any, library: Any) -> None:
        self.features = int(booster.num_features())
        self._library = library
        self._handle = booster.handle
        # inplace_predict's own arguments, with its defaults (value scores, every tree)
        self._config = json.dumps(
            {
                "type": 0,
                "training": False,
                "iteration_begin": 0,
                "iteration_end": 0,
                "missing": float("nan"),
                "strict_shape": False,
                "cache_id": 0,
            }
        ).encode()

    def predict(self, rows: np.ndarray) -> np.ndarray | None:
        """The scores of ``rows``; None where this path does not take them."""
        typestr = _TYPESTR.get(rows.dtype)
        if typestr is None or rows.ndim != 2 or not rows.flags.c_contiguous:
            return None
        if rows.shape[1] != self.features or rows.shape[0] == 0:  # 0 rows: no output buffer
            return None
        interface = b'{"data": [%d, true], "shape": [%d, %d], "typestr": "%s", "version": 3}' % (
            rows.ctypes.data,
            rows.shape[0],
            rows.shape[1],
            typestr,
        )
        shape = ctypes.POINTER(ctypes.c_uint64)()
        dims = ctypes.c_uint64()
        scores = ctypes.POINTER(ctypes.c_float)()
        status = self._library.XGBoosterPredictFromDense(
            self._handle,
            ctypes.c_char_p(interface),
            ctypes.c_char_p(self._config),
            None,  # no proxy DMatrix: no base margin
            ctypes.byref(shape),
            ctypes.byref(dims),
            ctypes.byref(scores),
        )
        if status != 0:
            return None  # inplace_predict says what is wrong
        out_shape = tuple(int(shape[i]) for i in range(dims.value))
        size = int(np.prod(out_shape))
        # the C library's buffer is reused by the next prediction: copy it out
        return np.ctypeslib.as_array(scores, (size,)).copy().reshape(out_shape)


def _make(booster: Any) -> Dense:
    from xgboost.core import _LIB

    return Dense(booster, _LIB)


_made = PerModel(_make, (ImportError, AttributeError, TypeError))


def dense(booster: Any) -> Dense | None:
    """The booster's dense predictor (made on first use), or None where this xgboost does
    not have what it needs."""
    return _made.get(booster)
