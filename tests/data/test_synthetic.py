"""Synthetic loan applications: realistic, deterministic, calibrated, with known duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sagebox.data.formats import DataSource
from sagebox.data.readers import read_table
from sagebox.data.synthetic import generate_loans, loan_tables, write_loans
from sagebox.errors import ValidationError
from sagebox.session import Session
from sagebox.store.objects import ObjectStore


def loans(rows: int, **options: float) -> pa.Table:
    return pa.concat_tables(list(loan_tables(rows, **options)))  # type: ignore[arg-type]


def field(table: pa.Table, path: str) -> np.ndarray:
    first, *rest = path.split(".")
    column = table.column(first).combine_chunks()
    for name in rest:
        column = pc.struct_field(column, name)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def test_records_are_nested_and_complete() -> None:
    [batch] = list(generate_loans(5, seed=3))
    record = batch[0]
    assert set(record) == {
        "application_id", "applied_at", "applicant", "credit_history", "loan", "default",
        "true_default_probability", "duplicate_of",
    }  # fmt: skip
    assert set(record["applicant"]) == {
        "name", "date_of_birth", "age", "email", "address", "employment",
    }  # fmt: skip
    assert set(record["applicant"]["address"]) == {"city", "postcode"}
    assert set(record["applicant"]["employment"]) == {
        "status", "employer", "years", "annual_income",
    }  # fmt: skip
    assert set(record["loan"]) == {"amount", "term_months", "purpose", "interest_rate"}
    for account in record["credit_history"]:
        assert set(account) == {"account_type", "opened", "limit", "balance", "delinquencies"}
        assert account["opened"] <= record["applied_at"].date()


def test_same_seed_same_data_whatever_the_batch_size() -> None:
    one = [r for batch in generate_loans(1_200, seed=5, batch_rows=1_000) for r in batch]
    two = [r for batch in generate_loans(1_200, seed=5, batch_rows=7) for r in batch]
    assert one == two
    other = next(generate_loans(10, seed=6))
    assert other != one[:10]


def test_values_are_in_realistic_ranges() -> None:
    table = loans(20_000, seed=1)
    age = field(table, "applicant.age")
    assert age.min() >= 18 and age.max() <= 85 and 35 < age.mean() < 50
    income = field(table, "applicant.employment.annual_income")
    assert income.min() >= 3_000 and 35_000 < np.median(income) < 70_000
    amount = field(table, "loan.amount")
    assert amount.min() >= 1_000 and amount.max() <= 100_000
    assert set(np.unique(field(table, "loan.term_months"))) <= {12, 24, 36, 48, 60, 72}
    rate = field(table, "loan.interest_rate")
    assert rate.min() >= 2.5 and rate.max() <= 35
    lengths = pc.list_value_length(table.column("credit_history")).to_numpy()
    assert lengths.min() == 0 and lengths.max() <= 8
    dob = field(table, "applicant.date_of_birth").astype("datetime64[D]")
    applied = field(table, "applied_at").astype("datetime64[D]")
    years = (applied - dob).astype(int) / 365.2425
    assert np.all(np.abs(years - age) < 1.01)
    emails = field(table, "applicant.email")
    assert all("@" in e for e in emails[:100])


def test_true_probability_is_calibrated() -> None:
    table = loans(20_000, seed=2)
    default = field(table, "default")
    probability = field(table, "true_default_probability")
    assert 0.05 < probability.mean() < 0.35
    assert abs(default.mean() - probability.mean()) < 0.015
    # and it ranks: the riskiest decile defaults far more than the safest
    order = np.argsort(probability)
    assert default[order[-2_000:]].mean() > 4 * default[order[:2_000]].mean()


def test_duplicates_carry_ground_truth() -> None:
    table = loans(10_000, seed=4, duplicate_rate=0.05)
    duplicate_of = table.column("duplicate_of").to_pylist()
    marked = [i for i, d in enumerate(duplicate_of) if d is not None]
    assert 350 < len(marked) < 650
    ids = table.column("application_id").to_pylist()
    assert len(set(ids)) == len(ids)
    position = {application: i for i, application in enumerate(ids)}
    names = field(table, "applicant.name")
    births = field(table, "applicant.date_of_birth")
    changed = 0
    for i in marked:
        original = position[duplicate_of[i]]
        assert original < i  # a re-application comes after the original
        assert births[original] == births[i]
        changed += names[original] != names[i]
    assert changed > 0.5 * len(marked)  # most carry a typo in the name
    assert loans(1_000, seed=4).column("duplicate_of").null_count == 1_000


def test_drift_shifts_the_population() -> None:
    reference = loans(10_000, seed=8)
    drifted = loans(10_000, seed=8, drift=0.5)
    assert (
        field(drifted, "applicant.employment.annual_income").mean()
        < 0.9 * field(reference, "applicant.employment.annual_income").mean()
    )
    assert field(drifted, "applicant.age").mean() < field(reference, "applicant.age").mean() - 2
    assert field(drifted, "loan.amount").mean() > 1.1 * field(reference, "loan.amount").mean()


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate_rate must be in"):
        list(loan_tables(10, duplicate_rate=1.5))
    with pytest.raises(ValidationError, match="drift must be in"):
        list(loan_tables(10, drift=3))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv", "orc"])
def test_write_loans_in_parts(tmp_path: Path, fmt: str) -> None:
    store: ObjectStore = Session(tmp_path / "home").objects
    store.create_bucket("loan-data")
    keys = write_loans(store, "s3://loan-data/raw", 2_500, fmt, seed=1, batch_rows=1_000)
    assert keys == [f"raw/part-0000{i}.{fmt}" for i in range(3)]
    table = read_table(store, DataSource("s3://loan-data/raw/"))
    assert table.num_rows == 2_500
    if fmt == "csv":
        assert "applicant.address.city" in table.column_names
        assert table.column("credit_history").to_pylist()[0].startswith("[")
    else:
        assert pa.types.is_struct(table.schema.field("applicant").type)
        assert pa.types.is_list(table.schema.field("credit_history").type)
