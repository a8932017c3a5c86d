"""Every step type a flow can use: one line each, imported only when used.

Adding a transform is one module under ``transforms/`` (a :class:`Transform` subclass
declaring its ``parameter_constraints``) and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sagebox.errors import ValidationError
from sagebox.wrangler.params import defaults_of, validate_parameters
from sagebox.wrangler.transforms._base import Transform

_T = "sagebox.wrangler.transforms."

TRANSFORMS: dict[str, str] = {
    "flatten": _T + "flatten:Flatten",
    "explode": _T + "explode:Explode",
    "encode-one-hot": _T + "encode:OneHotEncode",
    "encode-ordinal": _T + "encode:OrdinalEncode",
    "encode-similarity": _T + "encode:SimilarityEncode",
    "encode-target": _T + "encode:TargetEncode",
    "drop-missing": _T + "missing:DropMissing",
    "handle-missing": _T + "missing:HandleMissing",
    "handle-outliers": _T + "outliers:HandleOutliers",
    "scale": _T + "scale:ScaleValues",
    "cast": _T + "columns:CastColumns",
    "drop-columns": _T + "columns:DropColumns",
    "rename-columns": _T + "columns:RenameColumns",
    "reorder-columns": _T + "columns:ReorderColumns",
    "filter-rows": _T + "rows:FilterRows",
    "drop-duplicates": _T + "rows:DropDuplicates",
    "balance": _T + "balance:BalanceData",
    "split": _T + "split:SplitData",
    "custom-sql": _T + "custom_sql:CustomSQL",
    "custom-python": _T + "custom_python:CustomPython",
}


def transform_class(step_type: str) -> type[Transform]:
    """The class of ``step_type``; ValidationError listing the known types otherwise."""
    target = TRANSFORMS.get(step_type)
    if target is None:
        raise ValidationError(
            f"Unknown step type {step_type!r}. Known types: {', '.join(sorted(TRANSFORMS))}."
        )
    module, _, name = target.partition(":")
    cls: type[Transform] = getattr(importlib.import_module(module), name)
    return cls


def validate(step_type: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of a ``step_type`` step, checked, with defaults filled in."""
    cls = transform_class(step_type)
    values = validate_parameters(cls.title, cls.parameter_constraints, defaults_of(cls), parameters)
    cls.check_parameters(values)
    return values


def create(step_type: str, parameters: Mapping[str, Any]) -> Transform:
    """A ready transform for a step (parameters validated first)."""
    return transform_class(step_type)(**validate(step_type, parameters))
