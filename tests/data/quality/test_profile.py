"""Per-column profiles: known answers on small frames, streaming equals one batch, bounds."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sagebox.data.quality import ProfileConfig, profile
from sagebox.data.quality._hashing import hash_array
from sagebox.data.quality._sketches import ExpandingHistogram, HashSet, HyperLogLog
from sagebox.errors import ValidationError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5000
    data = pd.DataFrame(
        {
            "amount": rng.normal(1000, 250, n),
            "grade": rng.choice(["A", "B", "C", "D"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "term": rng.choice([12, 24, 36], n),
            "flag": rng.random(n) < 0.3,
        }
    )
    data.loc[rng.choice(n, 500, replace=False), "amount"] = np.nan
    data.loc[rng.choice(n, 250, replace=False), "grade"] = None
    data.loc[17, "amount"] = 1e7  # one wild value
    # 40 exact copies of earlier rows
    return pd.concat([data, data.iloc[100:140]], ignore_index=True)


def test_known_answers(frame: pd.DataFrame) -> None:
    result = profile(frame)
    assert result.rows == len(frame)

    amount = result.column("amount")
    assert amount.kind == "numeric"
    assert amount.missing == frame["amount"].isna().sum()
    assert amount.missing_share == pytest.approx(frame["amount"].isna().mean())
    assert amount.distinct == frame["amount"].nunique()
    assert amount.distinct_exact
    numeric = amount.numeric
    assert numeric is not None
    assert numeric.count == frame["amount"].notna().sum()
    assert numeric.mean == pytest.approx(frame["amount"].mean(), rel=1e-12)
    assert numeric.std == pytest.approx(frame["amount"].std(), rel=1e-9)
    assert numeric.min == frame["amount"].min()
    assert numeric.max == 1e7
    assert numeric.quantiles_exact  # fewer values than the reservoir holds
    assert numeric.quantiles["p50"] == pytest.approx(frame["amount"].median())
    assert amount.histogram is not None
    assert sum(amount.histogram.counts) == numeric.count
    assert amount.outliers is not None and 1e7 in amount.outliers.examples

    grade = result.column("grade")
    assert grade.kind == "categorical"
    assert grade.missing == frame["grade"].isna().sum()
    assert grade.distinct == 4
    counts = frame["grade"].value_counts()
    assert dict(grade.top_values) == counts.to_dict()
    assert grade.top_values[0] == ("A", counts["A"])

    assert result.column("term").distinct == 3
    assert result.column("flag").kind == "boolean"
    # the 40 copies, and rows that differ only by a missing amount
    assert result.duplicate_rows == frame.duplicated().sum() > 40
    assert result.duplicates_exact
    assert len(result.duplicate_examples) == 5


def test_many_small_batches_give_the_same_answers(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    whole = profile(table)
    streamed = profile(table.to_batches(max_chunksize=97))
    assert streamed.rows == whole.rows
    assert streamed.duplicate_rows == whole.duplicate_rows
    for one, many in zip(whole.columns, streamed.columns, strict=True):
        assert (one.name, one.missing, one.distinct, one.top_values) == (
            many.name,
            many.missing,
            many.distinct,
            many.top_values,
        )
        if one.numeric is not None:
            assert many.numeric is not None
            assert many.numeric.count == one.numeric.count
            assert many.numeric.mean == pytest.approx(one.numeric.mean, rel=1e-12)
            assert many.numeric.std == pytest.approx(one.numeric.std, rel=1e-9)
            assert (many.numeric.min, many.numeric.max) == (one.numeric.min, one.numeric.max)
            # The sample keys are one draw per row, so even the reservoir is the same.
            assert many.numeric.quantiles == one.numeric.quantiles
            # Aligned power-of-two bins: the same bins whatever the first batch held.
            assert many.histogram == one.histogram
    pd.testing.assert_frame_equal(streamed.sample, whole.sample)


def test_nested_columns_are_flattened_one_level_and_lists_measured() -> None:
    applicant = pa.array(
        [
            {"name": "ann", "income": 50_000, "address": {"city": "Oslo"}},
            {"name": "bob", "income": None, "address": None},
            None,
            {"name": "cid", "income": 72_000, "address": {"city": "Bergen"}},
        ]
    )
    accounts = pa.array([[{"limit": 1}], [], None, [{"limit": 2}, {"limit": 3}, {"limit": 4}]])
    result = profile(pa.table({"applicant": applicant, "accounts": accounts}))
    names = [c.name for c in result.columns]
    assert names == ["applicant.name", "applicant.income", "applicant.address", "accounts"]
    income = result.column("applicant.income")
    assert (income.parent, income.missing, income.numeric and income.numeric.mean) == (
        "applicant",
        2,
        61_000,
    )
    assert result.column("applicant.address").kind == "struct"  # one level only
    lists = result.column("accounts")
    assert lists.kind == "list" and lists.element_type == "struct<limit: int64>"
    assert lists.missing == 1 and lists.empty_lists == 1
    assert lists.numeric is not None
    assert (lists.numeric.min, lists.numeric.max, lists.numeric.mean) == (0, 3, 4 / 3)
    lengths = result.sample["accounts"]  # the row sample holds list lengths
    assert lengths.iloc[[0, 1, 3]].tolist() == [1, 0, 3] and pd.isna(lengths.iloc[2])


def test_hashes_do_not_depend_on_the_batch() -> None:
    # Without nulls an int column stays int64; with them pandas would make it float.
    plain = hash_array(pa.array([1, 2, 3]))
    with_null = hash_array(pa.array([1, None, 3]))
    assert plain[0] == with_null[0] and plain[2] == with_null[2]
    assert hash_array(pa.array([1.0]))[0] == plain[0]
    assert hash_array(pa.array([-0.0]))[0] == hash_array(pa.array([0.0]))[0]
    assert hash_array(pa.array([float("nan")]))[0] == hash_array(pa.array([None], pa.float64()))[0]
    lists = hash_array(pa.array([[1, 2], [2, 1], [1, 2], []]))
    assert lists[0] == lists[2] and lists[0] != lists[1] and lists[3] != lists[0]
    sliced = pa.array([[9], [1, 2], [3]])[1:]
    assert hash_array(sliced)[0] == lists[0]


def test_distinct_counts_switch_to_an_estimate_past_the_cap() -> None:
    n = 30_000
    table = pa.table({"id": pa.array([f"loan-{i}" for i in range(n)])})
    result = profile(table.to_batches(max_chunksize=4096), ProfileConfig(distinct_exact_cap=1000))
    column = result.column("id")
    assert not column.distinct_exact
    assert column.distinct == pytest.approx(n, rel=0.03)
    assert any("HyperLogLog" in note for note in column.notes)


def test_sketches() -> None:
    hll = HyperLogLog(14)
    values = np.arange(200_000, dtype=np.uint64)
    from sagebox.data.quality._hashing import mix

    hll.update(mix(values))
    hll.update(mix(values[:1000]))  # repeats change nothing
    assert hll.estimate() == pytest.approx(200_000, rel=0.03)

    seen = HashSet(cap=5)
    assert seen.observe(np.array([1, 2, 2, 3], dtype=np.uint64)) == 1
    assert seen.observe(np.array([3, 4], dtype=np.uint64)) == 1
    assert seen.observe(np.array([5, 6, 7], dtype=np.uint64)) == 0
    assert seen.full and len(seen) == 5

    histogram = ExpandingHistogram(bins=16)
    histogram.update(np.array([0.0, 1.0]))
    histogram.update(np.array([-50.0, 1000.0, 0.5]))
    assert histogram.counts.sum() == 5
    edges, counts = histogram.display(-50.0, 1000.0, target=4)
    assert sum(counts) == 5 and edges[0] == -50.0 and edges[-1] == 1000.0


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="'sample_rows' parameter"):
        ProfileConfig(sample_rows=0)


def _batches(rows: int, size: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(3)
    for start in range(0, rows, size):
        n = min(size, rows - start)
        yield pa.record_batch(
            {
                "id": pa.array([f"app-{i}" for i in range(start, start + n)]),
                "amount": rng.lognormal(8, 1, n),
                "grade": rng.choice(["A", "B", "C"], n),
                "default": rng.random(n) < 0.2,
            }
        )


def _peak(rows: int, config: ProfileConfig) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = profile(_batches(rows, 2000), config)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_config_not_the_rows() -> None:
    config = ProfileConfig(
        distinct_exact_cap=5_000, reservoir_size=2_000, duplicate_cap=10_000, sample_rows=2_000
    )
    small, _ = _peak(20_000, config)
    large, result = _peak(80_000, config)
    assert result.rows == 80_000  # type: ignore[attr-defined]
    assert len(result.sample) == 2_000  # type: ignore[attr-defined]
    assert large < 1.5 * small, (small, large)
