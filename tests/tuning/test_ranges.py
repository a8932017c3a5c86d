"""ParameterRanges: parsing, AWS's validation messages, scaling, value strings."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagebox.errors import ValidationError
from sagebox.tuning._base import ParameterRange
from sagebox.tuning.ranges import (
    check_static,
    contains,
    effective_scaling,
    format_value,
    from_unit,
    parse_ranges,
    to_unit,
)

XGBOOST_RANGES = {
    "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ["auto", "exact", "hist"]}],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
    ],
    "IntegerParameterRanges": [
        {"Name": "max_depth", "MinValue": "1", "MaxValue": "10", "ScalingType": "Auto"}
    ],
}


def cont(low: str, high: str, scaling: str = "Auto", name: str = "x") -> dict[str, str]:
    return {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": scaling}


def test_parses_the_three_kinds_with_values_as_given() -> None:
    ranges = {r.name: r for r in parse_ranges(XGBOOST_RANGES)}
    assert ranges["eta"] == ParameterRange("eta", "Continuous", 0.01, 0.5, "Logarithmic")
    assert ranges["max_depth"].kind == "Integer"
    assert (ranges["max_depth"].min_value, ranges["max_depth"].max_value) == (1, 10)
    assert ranges["tree_method"].values == ("auto", "exact", "hist")
    assert parse_ranges({}) == [] and parse_ranges(None) == []


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"ContinuousParameterRanges": [cont("2", "1")]}, "greater than its MaxValue"),
        (
            {"ContinuousParameterRanges": [cont("0", "1", "Logarithmic")]},
            "only for ranges whose values are all greater than 0",
        ),
        (
            {"IntegerParameterRanges": [cont("-3", "10", "Logarithmic")]},
            "greater than 0",
        ),
        (
            {"ContinuousParameterRanges": [cont("0.5", "1", "ReverseLogarithmic")]},
            "entirely within 0 <= x < 1.0",
        ),
        (
            {"ContinuousParameterRanges": [cont("-0.1", "0.5", "ReverseLogarithmic")]},
            "entirely within 0 <= x < 1.0",
        ),
        (
            {"IntegerParameterRanges": [cont("0", "0", "ReverseLogarithmic")]},
            "supported only for continuous ranges",
        ),
        (
            {
                "ContinuousParameterRanges": [cont("0", "1", name="alpha")],
                "IntegerParameterRanges": [cont("0", "3", name="alpha")],
            },
            "'alpha' appears more than once",
        ),
        (
            {"ContinuousParameterRanges": [cont("0", str(i), name=f"p{i}") for i in range(31)]},
            "31 tunable hyperparameters; a tuning job can search at most 30",
        ),
        (
            {"CategoricalParameterRanges": [{"Name": "c", "Values": [str(i) for i in range(31)]}]},
            "has 31 values; at most 30",
        ),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": []}]}, "has no Values"),
        (
            {"CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "b", "a"]}]},
            "lists ['a'] more than once",
        ),
        ({"ContinuousParameterRanges": [cont("low", "1")]}, "must be a number as a string"),
        ({"IntegerParameterRanges": [cont("1.5", "4")]}, "must be an integer as a string"),
        ({"ContinuousParameterRanges": [cont("0", "inf")]}, "must be a finite number"),
        ({"ContinuousParameterRanges": [cont("0", "1", "Cubic")]}, "ScalingType 'Cubic'"),
    ],
)
def test_invalid_ranges_are_refused_with_the_reason(ranges: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_ranges(ranges)
    assert message in info.value.message


def test_thirty_tunable_hyperparameters_are_allowed() -> None:
    ranges = {"ContinuousParameterRanges": [cont("0", "1", name=f"p{i}") for i in range(30)]}
    assert len(parse_ranges(ranges)) == 30


def test_a_hyperparameter_cannot_be_static_and_tunable() -> None:
    ranges = parse_ranges(XGBOOST_RANGES)
    with pytest.raises(ValidationError, match=r"\['eta'\] are in both StaticHyperParameters"):
        check_static(ranges, {"eta": "0.1", "objective": "binary:logistic"})
    check_static(ranges, {"objective": "binary:logistic"})


def test_at_most_100_hyperparameters_static_plus_tunable() -> None:
    ranges = parse_ranges(XGBOOST_RANGES)
    check_static(ranges, {f"s{i}": "1" for i in range(97)})
    with pytest.raises(ValidationError, match=r"101 hyperparameters \(98 static \+ 3 tunable\)"):
        check_static(ranges, {f"s{i}": "1" for i in range(98)})


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        ("0.001", "1", "Logarithmic"),
        ("1", "100", "Logarithmic"),
        ("1", "99", "Linear"),
        ("0", "1000", "Linear"),
        ("-1", "1", "Linear"),
    ],
)
def test_auto_scaling_is_logarithmic_from_two_orders_of_magnitude(
    low: str, high: str, expected: str
) -> None:
    (r,) = parse_ranges({"ContinuousParameterRanges": [cont(low, high)]})
    assert effective_scaling(r) == expected


def test_log_scale_gives_each_order_of_magnitude_the_same_room() -> None:
    (r,) = parse_ranges({"ContinuousParameterRanges": [cont("0.0001", "1", "Logarithmic")]})
    assert [round(from_unit(r, u), 10) for u in (0, 0.25, 0.5, 0.75, 1)] == [
        0.0001,
        0.001,
        0.01,
        0.1,
        1,
    ]
    (rev,) = parse_ranges({"ContinuousParameterRanges": [cont("0", "0.999", "ReverseLogarithmic")]})
    assert [round(from_unit(rev, u), 10) for u in (0, 1 / 3, 2 / 3, 1)] == [0, 0.9, 0.99, 0.999]


scalings = st.sampled_from(["Linear", "Logarithmic", "ReverseLogarithmic"])


@given(
    scaling=scalings,
    a=st.floats(0.0, 0.98),
    width=st.floats(1e-6, 1.0),
    u=st.floats(0.0, 1.0),
)
def test_continuous_unit_round_trip(scaling: str, a: float, width: float, u: float) -> None:
    low = max(a, 1e-6) if scaling == "Logarithmic" else a
    high = min(low + width, 0.99)
    if high <= low:
        return
    r = ParameterRange("x", "Continuous", low, high, scaling)  # type: ignore[arg-type]
    value = from_unit(r, u)
    assert low <= value <= high
    assert math.isclose(to_unit(r, value), u, abs_tol=1e-6)
    assert math.isclose(from_unit(r, to_unit(r, value)), value, rel_tol=1e-9, abs_tol=1e-12)


@given(
    scaling=st.sampled_from(["Linear", "Logarithmic"]),
    low=st.integers(1, 1000),
    span=st.integers(0, 10_000),
    u1=st.floats(0, 1),
    u2=st.floats(0, 1),
)
def test_integer_units_map_back_to_the_same_integer_and_keep_order(
    scaling: str, low: int, span: int, u1: float, u2: float
) -> None:
    r = ParameterRange("n", "Integer", low, low + span, scaling)  # type: ignore[arg-type]
    v1, v2 = from_unit(r, u1), from_unit(r, u2)
    assert isinstance(v1, int) and low <= v1 <= low + span
    assert from_unit(r, to_unit(r, v1)) == v1
    if u1 <= u2:
        assert v1 <= v2


def test_values_are_formatted_as_aws_strings() -> None:
    eta, depth, method = sorted(parse_ranges(XGBOOST_RANGES), key=lambda r: r.name)
    assert format_value(depth, 5) == "5"
    assert format_value(depth, 5.0) == "5"
    assert format_value(eta, 0.1 + 0.2) == "0.3"
    assert format_value(eta, 1e-05) == "1e-05"
    assert format_value(eta, 5.0) == "5.0"
    assert format_value(eta, 0.123456789012345678) == "0.123456789012"
    assert format_value(method, "hist") == "hist"
    # rounding never takes a value out of its range
    (fine,) = parse_ranges({"ContinuousParameterRanges": [cont("0.1234567890123456", "0.2")]})
    assert format_value(fine, 0.1234567890123456) == "0.1234567890123456"


def test_contains_checks_type_and_bounds() -> None:
    eta, depth, method = sorted(parse_ranges(XGBOOST_RANGES), key=lambda r: r.name)
    assert contains(eta, "0.2") and not contains(eta, "0.6") and not contains(eta, "fast")
    assert contains(depth, "10") and not contains(depth, "11") and not contains(depth, "2.5")
    assert contains(method, "exact") and not contains(method, "gpu_hist")
