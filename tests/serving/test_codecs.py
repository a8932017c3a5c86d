"""The built-in CSV codec's large-body paths: answers written by Arrow's writer and bodies
parsed in parts at once read as the small paths' do."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sagebox.serving import codecs
from sagebox.serving.errors import ModelError


def _read(body: bytes) -> np.ndarray:
    assert body.endswith(b"\n")
    return np.array([[float(v) for v in line.split(b",")] for line in body.splitlines()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_a_large_csv_answer_reads_back_as_exactly_the_predicted_values(dtype: type) -> None:
    rng = np.random.default_rng(3)
    scale = 10.0 ** rng.integers(-7, 7, size=codecs.LARGE_ANSWER * 3)
    values = (rng.random(codecs.LARGE_ANSWER * 3) * scale).astype(dtype)
    body, kind = codecs.encode(values, "text/csv")
    assert kind == "text/csv"
    np.testing.assert_array_equal(_read(body)[:, 0].astype(dtype), values)
    # the same text, value for value, as the small path's where both are shortest
    small = [codecs.encode(values[i : i + 1], "text/csv")[0] for i in range(50)]
    assert [float(s) for s in small] == [float(line) for line in body.splitlines()[:50]]


def test_float32_scores_keep_their_shortest_text_in_large_answers() -> None:
    values = np.full(codecs.LARGE_ANSWER, 0.3, dtype=np.float32)
    body, _ = codecs.encode(values, "text/csv")
    assert body.splitlines()[:2] == [b"0.3", b"0.3"]  # not 0.30000001192092896


def test_a_large_multiclass_csv_answer_is_a_row_of_probabilities_a_line() -> None:
    probabilities = np.random.default_rng(4).dirichlet([1, 1, 1], size=codecs.LARGE_ANSWER)
    body, _ = codecs.encode(probabilities, "text/csv")
    np.testing.assert_array_equal(_read(body), probabilities)
    small, _ = codecs.encode(probabilities[:3], "text/csv")
    np.testing.assert_array_equal(_read(small), probabilities[:3])


@pytest.fixture
def parse_threads() -> Iterator[None]:
    codecs.set_parse_threads(3)
    yield
    codecs.set_parse_threads(1)


@pytest.mark.usefixtures("parse_threads")
def test_a_body_parsed_in_parts_at_once_reads_as_it_does_whole() -> None:
    rows = np.random.default_rng(5).normal(size=(40_000, 5)).round(6)
    lines = [",".join(map(repr, row)) + "\n" for row in rows.tolist()]
    lines[20_000] = "1,2,3,4,\n"  # a missing last value
    lines[30_000] = "\n"  # a blank line
    body = "".join(lines).encode()
    assert len(body) > codecs.PARALLEL_BODY
    parsed = codecs.decode(body, "text/csv")
    want = np.delete(rows, 30_000, axis=0)
    want[20_000] = [1, 2, 3, 4, np.nan]
    np.testing.assert_array_equal(parsed, want)
    # a short row in the last part is named by its line in the whole body
    short = "".join([*lines[:39_000], "1,2,3\n", *lines[39_001:]]).encode()
    with pytest.raises(ModelError) as info:
        codecs.decode(short, "text/csv")
    assert "line 39001 has 3 values but line 1 has 5" in info.value.message
