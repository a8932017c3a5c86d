"""Custom Python: a function ``transform(df: pandas.DataFrame) -> pandas.DataFrame``.

The source text is arbitrary code, compiled and run in the process that executes the
flow (your Python for a preview, the processing job for an export) with the authority of
whoever runs it: it can read files, open connections and import anything installed.
Only put code you would run yourself into a flow, and only run flows from people you
trust, exactly as with a script you download. sagebox does not sandbox it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Text
from sagebox.wrangler.transforms._base import State, Transform

FUNCTION = "transform"


class CustomPython(Transform):
    """Run ``code``'s ``transform(df)`` on each batch, as a pandas DataFrame.

    ``code`` defines ``def transform(df): ...`` returning a DataFrame (a new one or
    ``df`` changed); ``pd`` (pandas) and ``np`` (numpy) are already imported. The
    function sees one batch at a time, so it should work row-wise.
    """

    title = "CustomPython"
    parameter_constraints = {"code": Text()}

    def __init__(self, *, code: str) -> None:
        self.code = code
        self._function: Callable[[Any], Any] | None = None

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        # Only compiled here (a syntax check): parsing a flow never runs its code.
        try:
            compile(values["code"], "<custom-python>", "exec")
        except SyntaxError as exc:
            raise ValidationError(
                f"The 'code' parameter of CustomPython is not valid Python: {exc.msg} "
                f"(line {exc.lineno}). It must define def {FUNCTION}(df): ... returning a "
                "DataFrame."
            ) from None

    def _load(self) -> Callable[[Any], Any]:
        if self._function is None:
            import numpy as np
            import pandas as pd

            namespace: dict[str, Any] = {"pd": pd, "np": np, "__name__": "sagebox_custom_python"}
            exec(compile(self.code, "<custom-python>", "exec"), namespace)  # see module doc
            function = namespace.get(FUNCTION)
            if not callable(function):
                raise ValidationError(
                    f"CustomPython: the code defines no function {FUNCTION!r}. Write "
                    f"def {FUNCTION}(df): ... return df."
                )
            self._function = function
        return self._function

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        import pandas as pd

        function = self._load()
        result = function(table.to_pandas())
        if not isinstance(result, pd.DataFrame):
            raise ValidationError(
                f"CustomPython: {FUNCTION}(df) returned {type(result).__name__}, not a pandas "
                "DataFrame. Return the frame (for example 'return df')."
            )
        return pa.Table.from_pandas(result, preserve_index=False)
