"""The built-in CSV encoder: large answers (Arrow's writer) read back as small ones do."""

from __future__ import annotations

import numpy as np
import pytest

from sagebox.serving import codecs


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
