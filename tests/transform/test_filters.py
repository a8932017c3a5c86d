"""DataProcessing filters and joins, on the examples of AWS's batch transform guide."""

from __future__ import annotations

import pytest

from sagebox.errors import ValidationError
from sagebox.transform.filters import FilterError, join_json, parse_filter


def test_csv_examples_of_the_guide() -> None:
    row = ["id-7", "f1", "f2", "f3", "f4"]
    # "$[1:]" excludes the ID column; "$[0,-1]" keeps the ID and the (last) answer column
    assert parse_filter("$[1:]", "csv", "InputFilter").columns(row) == row[1:]
    assert parse_filter("$[0,-1]", "csv", "OutputFilter").columns(row) == ["id-7", "f4"]
    # "$[1:4] specifies the second through fifth columns": both ends included
    assert parse_filter("$[1:4]", "csv", "x").columns([*row, "f5"]) == ["f1", "f2", "f3", "f4"]
    assert parse_filter("$[:2]", "csv", "x").columns(row) == ["id-7", "f1", "f2"]
    assert parse_filter("$", "csv", "x").columns(row) == row
    assert parse_filter("", "csv", "x").identity  # an empty filter is "$"
    assert parse_filter("$[*]", "csv", "x").columns(row) == row


def test_csv_index_outside_the_row_is_an_error_naming_it() -> None:
    with pytest.raises(FilterError, match=r"index 5, outside the row's 3 columns"):
        parse_filter("$[0,5]", "csv", "OutputFilter").columns(["a", "b", "c"])


@pytest.mark.parametrize(
    ("expression", "family", "message"),
    [
        ("$.id", "csv", "only index filters apply"),
        ("$[0:2,246:]", "csv", "only single range filters of format"),
        ("$..id", "json", "Descendants is not among them"),
        ("id", "json", "a path starts with \\$"),
        ("$[?(@.a > 1)]", "json", "is not a filter SageMaker batch transform supports"),
    ],
)
def test_unsupported_filters_are_refused_with_the_operators_listed(
    expression: str, family: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_filter(expression, family, "DataProcessing.InputFilter")
    assert "Supported JSONPath operators" in caught.value.message
    assert "DataProcessing.InputFilter" in caught.value.message


def test_json_examples_of_the_guide() -> None:
    record = {"id": 11, "features": [0.5, 1.5, 2.5]}
    assert parse_filter("$.features", "json", "x").value(record) == [0.5, 1.5, 2.5]
    joined = join_json(record, {"score": 0.25})
    assert joined == {**record, "SageMakerOutput": {"score": 0.25}}
    picked = parse_filter("$['id','SageMakerOutput']", "json", "x").value(joined)
    assert picked == {"id": 11, "SageMakerOutput": {"score": 0.25}}
    assert parse_filter("$.features[1:]", "json", "x").value(record) == [1.5, 2.5]
    assert parse_filter("$.features[0,-1]", "json", "x").value(record) == [0.5, 2.5]
    assert parse_filter("$.id", "json", "x").value(record) == 11


def test_a_json_join_of_a_non_object_wraps_both() -> None:
    assert join_json([1, 2], 0.5) == {"SageMakerInput": [1, 2], "SageMakerOutput": 0.5}


def test_a_json_filter_that_selects_nothing_says_so() -> None:
    with pytest.raises(FilterError, match=r"selects nothing"):
        parse_filter("$.missing", "json", "x").value({"id": 1})
