"""The tuning strategies: one declarative, lazy registry answers "what exists?".

Each value names ``module:Class``; a strategy's module (and Optuna) is imported only when
:func:`strategy` asks for it. Adding a strategy is one new module plus one line here.
"""

from __future__ import annotations

import importlib

from sagebox.errors import ValidationError
from sagebox.tuning._base import Strategy

STRATEGIES: dict[str, str] = {
    "Bayesian": "sagebox.tuning.strategies.bayesian:BayesianStrategy",
    "Random": "sagebox.tuning.strategies.random:RandomStrategy",
    "Grid": "sagebox.tuning.strategies.grid:GridStrategy",
    "Hyperband": "sagebox.tuning.strategies.hyperband:HyperbandStrategy",
}

__all__ = ["STRATEGIES", "strategy"]


def strategy(name: str) -> type[Strategy]:
    """The :class:`Strategy` class for the API's ``Strategy`` value ``name``."""
    if name not in STRATEGIES:
        raise ValidationError(
            f"Unknown tuning strategy {name!r}. Valid strategies: {', '.join(STRATEGIES)}."
        )
    module, _, attribute = STRATEGIES[name].partition(":")
    cls: type[Strategy] = getattr(importlib.import_module(module), attribute)
    return cls
