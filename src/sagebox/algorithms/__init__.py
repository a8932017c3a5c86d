"""Built-in SageMaker algorithms, run as programs inside a training-job instance.

One declarative, lazy registry answers "what exists?": adding an algorithm is one
new module plus one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sagebox.errors import ValidationError

ALGORITHMS: dict[str, str] = {
    "xgboost": "sagebox.algorithms.xgboost",
    "lightgbm": "sagebox.algorithms.lightgbm",
    "catboost": "sagebox.algorithms.catboost",
    "linear-learner": "sagebox.algorithms.linear_learner",
    "knn": "sagebox.algorithms.knn",
}

__all__ = ["ALGORITHMS", "algorithm"]


def algorithm(name: str) -> ModuleType:
    """Import and return the module of the built-in algorithm ``name``."""
    if name not in ALGORITHMS:
        raise ValidationError(
            f"Unknown built-in algorithm {name!r}. "
            f"Valid algorithms: {', '.join(sorted(ALGORITHMS))}."
        )
    return importlib.import_module(ALGORITHMS[name])
