"""Parameter validation: one suite over every registered transform, and the messages."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from sagebox.errors import ValidationError
from sagebox.wrangler import registry
from sagebox.wrangler.params import REQUIRED, defaults_of

# The least each type needs to be valid.
MINIMAL: dict[str, dict[str, Any]] = {
    "explode": {"column": "c"},
    "encode-one-hot": {"column": "c"},
    "encode-ordinal": {"column": "c"},
    "encode-similarity": {"column": "c"},
    "encode-target": {"column": "c", "target": "y"},
    "cast": {"columns": {"c": "long"}},
    "drop-columns": {"columns": ["c"]},
    "rename-columns": {"columns": {"c": "d"}},
    "reorder-columns": {"columns": ["c"]},
    "filter-rows": {"expression": "c > 1"},
    "balance": {"target": "y"},
    "custom-sql": {"query": "SELECT * FROM df"},
    "custom-python": {"code": "def transform(df):\n    return df\n"},
}


@pytest.mark.parametrize("step_type", sorted(registry.TRANSFORMS))
def test_every_transform_declares_its_parameters_once(step_type: str) -> None:
    cls = registry.transform_class(step_type)
    signature = inspect.signature(cls.__init__)
    keyword_only = [
        n for n, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert list(cls.parameter_constraints) == keyword_only, "constraints match __init__"
    assert cls.title and cls.__doc__, "a title for messages and a docstring for the docs"
    # every default satisfies its own constraint
    for name, default in defaults_of(cls).items():
        if default is not REQUIRED:
            assert cls.parameter_constraints[name].check(default), (step_type, name)
    transform = registry.create(step_type, MINIMAL.get(step_type, {}))
    assert isinstance(transform, cls)


@pytest.mark.parametrize("step_type", sorted(registry.TRANSFORMS))
def test_unknown_parameters_are_refused_with_the_known_ones(step_type: str) -> None:
    with pytest.raises(ValidationError, match=r"has no parameter 'colour'\. Its parameters are"):
        registry.validate(step_type, {**MINIMAL.get(step_type, {}), "colour": "red"})


@pytest.mark.parametrize(
    ("step_type", "parameters", "message"),
    [
        (
            "handle-missing",
            {"strategy": "avg"},
            "The 'strategy' parameter of HandleMissing must be one of mean, median, mode, "
            "constant. Got 'avg' instead.",
        ),
        (
            "encode-one-hot",
            {"column": "c", "max_categories": 0},
            "The 'max_categories' parameter of OneHotEncode must be an int in [1, 10000]. "
            "Got 0 instead.",
        ),
        (
            "encode-one-hot",
            {"column": "c", "max_categories": 2.5},
            "must be an int in [1, 10000]. Got 2.5 instead.",
        ),
        (
            "balance",
            {"target": "y", "ratio": 0},
            "The 'ratio' parameter of BalanceData must be a float in (0, 1]. Got 0 instead.",
        ),
        (
            "split",
            {"splits": {"train": 0.7, "test": 0.2}},
            "The 'splits' parameter of SplitData must be an object from split names to "
            "fractions in (0, 1] adding up to 1",
        ),
        ("drop-columns", {"columns": []}, "must be a list of distinct column names"),
        ("drop-columns", {}, "The 'columns' parameter of DropColumns is required"),
        (
            "handle-missing",
            {"strategy": "constant"},
            "The 'value' parameter of HandleMissing is required when strategy is 'constant'.",
        ),
        ("handle-missing", {"strategy": "mean", "value": 3}, "is not used unless strategy"),
        ("split", {"method": "stratified"}, "The 'target' parameter of SplitData is required"),
        (
            "split",
            {"method": "time", "time_column": "t", "cutoffs": ["2024-01-01", "2024-06-01"]},
            "The 'cutoffs' parameter of SplitData must be a list of 1 value(s)",
        ),
        ("cast", {"columns": {"c": "money"}}, "the type of 'c' must be one of string, long"),
        ("custom-python", {"code": "def transform(df) return df"}, "is not valid Python"),
        (
            "handle-outliers",
            {"lower_quantile": 0.9, "upper_quantile": 0.1},
            "must be greater than lower_quantile (0.9). Got 0.1 instead.",
        ),
        ("explode", {"column": "c", "empty": True}, "must be one of keep, drop. Got true instead"),
    ],
)
def test_messages_say_what_was_wrong_and_what_is_allowed(
    step_type: str, parameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        registry.validate(step_type, parameters)
    assert message in caught.value.message


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        registry.validate("one-hot", {})
    assert "Unknown step type 'one-hot'. Known types: balance, cast," in caught.value.message
    assert "encode-one-hot" in caught.value.message


def test_defaults_are_filled_in() -> None:
    values = registry.validate("split", {})
    assert values["method"] == "random" and values["output_column"] == "split"
    assert values["mode"] == "outputs" and values["splits"] is None


def test_the_public_surface() -> None:
    import sagebox.wrangler as wrangler

    assert sorted(wrangler.__all__) == sorted(
        [
            "ERROR_POLICIES",
            "TRANSFORMS",
            "Flow",
            "FlowSummary",
            "RunResult",
            "Step",
            "StepPreview",
            "Transform",
            "compile_steps",
            "history",
            "list_flows",
            "preview_steps",
            "run_steps",
            "transform_class",
        ]
    )
    assert all(hasattr(wrangler, name) for name in wrangler.__all__)
