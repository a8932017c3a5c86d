"""The search space as Optuna distributions, and the AWS strings in and out of it.

Each range is searched on its own scale: Logarithmic ranges are ``log=True``
distributions; a ReverseLogarithmic range ``x`` in [a, b] is searched as ``1 - x``, log
uniform in [1 - b, 1 - a], so values close to 1 get the room that scale promises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sagebox.tuning._base import ParameterRange
from sagebox.tuning.ranges import contains, effective_scaling, format_value, parse_value

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


class SearchSpace:
    """The ranges' Optuna distributions, with the conversions to and from AWS strings."""

    def __init__(self, ranges: Sequence[ParameterRange]) -> None:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.ranges = {r.name: r for r in ranges}
        self.distributions: dict[str, BaseDistribution] = {}
        for r in ranges:
            scaling = effective_scaling(r)
            if r.kind == "Categorical":
                self.distributions[r.name] = CategoricalDistribution(r.values)
                continue
            assert r.min_value is not None and r.max_value is not None
            if r.kind == "Integer":
                self.distributions[r.name] = IntDistribution(
                    int(r.min_value), int(r.max_value), log=scaling == "Logarithmic"
                )
            elif scaling == "ReverseLogarithmic":
                self.distributions[r.name] = FloatDistribution(
                    1.0 - r.max_value, 1.0 - r.min_value, log=True
                )
            else:
                self.distributions[r.name] = FloatDistribution(
                    r.min_value, r.max_value, log=scaling == "Logarithmic"
                )

    def to_aws(self, params: Mapping[str, Any]) -> dict[str, str]:
        """Optuna's parameter values as the hyperparameter strings of a training job."""
        out: dict[str, str] = {}
        for name, r in self.ranges.items():
            value = params[name]
            if r.kind == "Continuous":
                assert r.min_value is not None and r.max_value is not None
                if effective_scaling(r) == "ReverseLogarithmic":
                    value = 1.0 - value
                value = min(r.max_value, max(r.min_value, value))
            out[name] = format_value(r, value)
        return out

    def from_aws(self, hyperparameters: Mapping[str, str]) -> dict[str, Any] | None:
        """A trial's hyperparameter strings as Optuna values; None when any of the tuned
        hyperparameters is missing or outside its range (e.g. a parent's trial after the
        ranges changed)."""
        params: dict[str, Any] = {}
        for name, r in self.ranges.items():
            text = hyperparameters.get(name)
            if text is None or not contains(r, str(text)):
                return None
            value = parse_value(r, str(text))
            if r.kind == "Continuous" and effective_scaling(r) == "ReverseLogarithmic":
                assert isinstance(value, float)
                low = self.distributions[name].low  # type: ignore[attr-defined]
                high = self.distributions[name].high  # type: ignore[attr-defined]
                value = min(high, max(low, 1.0 - value))
            params[name] = value
        return params
