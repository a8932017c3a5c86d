"""Previews read a small part of the input; samples are deterministic and keep proportions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sagebox.data.formats import DataSource
from sagebox.data.preview import preview, schema_as_json
from sagebox.data.sampling import sample
from sagebox.data.synthetic import write_loans
from sagebox.data.writers import write_table
from sagebox.errors import ValidationError
from sagebox.session import Session
from sagebox.store.objects import ObjectStore

BUCKET = "loan-data"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    objects = Session(tmp_path / "home").objects
    objects.create_bucket(BUCKET)
    return objects


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_preview_reads_a_small_fraction_of_a_large_input(store: ObjectStore, fmt: str) -> None:
    write_loans(store, f"s3://{BUCKET}/big/", 40_000, fmt, batch_rows=20_000)
    result = preview(store, DataSource(f"s3://{BUCKET}/big/"), rows=5)
    assert result.table.num_rows == 5
    assert result.files == (f"s3://{BUCKET}/big/part-00000.{fmt}",)
    assert result.total_bytes > 15_000_000
    assert result.bytes_read < result.total_bytes * 0.1


def test_preview_keeps_nested_schema_and_spans_files_when_short(store: ObjectStore) -> None:
    write_loans(store, f"s3://{BUCKET}/few/", 6, "jsonl", batch_rows=4)
    result = preview(store, DataSource(f"s3://{BUCKET}/few/"), rows=5)
    assert result.table.num_rows == 5 and len(result.files) == 2
    fields = {f["name"]: f for f in schema_as_json(result.schema)}
    applicant = fields["applicant"]
    assert applicant["type"] == "struct"
    address = next(c for c in applicant["children"] if c["name"] == "address")
    assert [c["name"] for c in address["children"]] == ["city", "postcode"]
    history = fields["credit_history"]
    assert history["type"] == "list" and history["children"][0]["type"] == "struct"
    assert set(result.to_dict()) >= {"schema", "rows", "bytes_read", "total_bytes"}


def test_preview_skips_bad_rows_and_counts_them(store: ObjectStore) -> None:
    store.put_object(BUCKET, "bad/a.jsonl", b'{"a": 1}\nnope\n{"a": 2}\n')
    result = preview(store, DataSource(f"s3://{BUCKET}/bad/"), rows=5)
    assert result.table.column("a").to_pylist() == [1, 2]
    assert result.report.bad_rows == 1
    with pytest.raises(ValidationError, match="1 to 10000 rows"):
        preview(store, DataSource(f"s3://{BUCKET}/bad/"), rows=0)


def _numbers(store: ObjectStore, rows: int = 50_000) -> DataSource:
    rng = np.random.default_rng(7)
    label = (rng.random(rows) < 0.1).astype(np.int64)  # 10% positives
    table = pa.table({"id": np.arange(rows), "label": label})
    batches = table.to_batches(max_chunksize=5_000)
    write_table(store, f"s3://{BUCKET}/numbers/", batches, "parquet")
    return DataSource(f"s3://{BUCKET}/numbers/")


def test_first_sample_stops_early(store: ObjectStore) -> None:
    table = sample(store, _numbers(store), 10)
    assert table.column("id").to_pylist() == list(range(10))


def test_random_sample_is_deterministic_uniform_and_distinct(store: ObjectStore) -> None:
    source = _numbers(store)
    first = sample(store, source, 2_000, method="random", seed=1)
    again = sample(store, source, 2_000, method="random", seed=1)
    other = sample(store, source, 2_000, method="random", seed=2)
    assert first.equals(again) and not first.equals(other)
    ids = np.array(first.column("id").to_pylist())
    assert len(set(ids.tolist())) == 2_000
    # uniform over the whole stream, not biased to its start
    assert abs(ids.mean() - 25_000) < 1_500
    assert (ids >= 45_000).sum() > 100
    assert sample(store, source, 60_000, method="random").num_rows == 50_000


def test_stratified_sample_keeps_class_proportions(store: ObjectStore) -> None:
    source = _numbers(store)
    table = sample(store, source, 1_000, method="stratified", column="label", seed=3)
    assert table.num_rows == 1_000
    positives = pc.sum(table.column("label")).as_py()
    assert 95 <= positives <= 105
    assert table.equals(sample(store, source, 1_000, method="stratified", column="label", seed=3))
    with pytest.raises(ValidationError, match="needs column="):
        sample(store, source, 10, method="stratified")
    with pytest.raises(ValidationError, match="'nope' is not in the data"):
        sample(store, source, 10, method="stratified", column="nope")


def test_stratified_sample_keeps_a_rare_class(store: ObjectStore) -> None:
    table = pa.table({"label": ["a"] * 999 + ["rare"]})
    write_table(store, f"s3://{BUCKET}/rare/", table, "parquet")
    picked = sample(store, DataSource(f"s3://{BUCKET}/rare/"), 10, method="stratified",
                    column="label")  # fmt: skip
    assert picked.num_rows == 10 and "rare" in picked.column("label").to_pylist()
