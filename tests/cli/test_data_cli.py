"""``sagebox datasets generate`` and ``sagebox data preview|sample`` through Typer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sagebox.cli.data import app as data_app
from sagebox.cli.datasets import app as datasets_app
from sagebox.session import Session

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def generate(home: Path, *args: str) -> str:
    result = runner.invoke(datasets_app, ["generate", "loans", "--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_generate_creates_the_bucket_and_writes_parts(home: Path) -> None:
    out = generate(
        home, "--rows", "2500", "--format", "parquet", "--out", "s3://new-bucket/raw/",
        "--part-rows", "1000", "--duplicates", "0.02", "--seed", "3",
    )  # fmt: skip
    assert "wrote: s3://new-bucket/raw/part-00002.parquet" in out
    assert "2500 loan applications in 3 parquet object(s)" in out
    keys = [i.key for i in Session(home).objects.iter_objects("new-bucket")]
    assert keys == [f"raw/part-0000{i}.parquet" for i in range(3)]


def test_generate_refuses_unknown_dataset_and_format(home: Path) -> None:
    result = runner.invoke(
        datasets_app, ["generate", "cars", "--out", "s3://b-1/x/", "--home", str(home)]
    )
    assert result.exit_code == 2 and "Unknown dataset 'cars'" in result.output
    result = runner.invoke(
        datasets_app,
        ["generate", "loans", "--out", "s3://b-1/x/", "--format", "xlsx", "--home", str(home)],
    )
    assert result.exit_code == 2 and "--format must be" in result.output
    result = runner.invoke(
        datasets_app,
        ["generate", "loans", "--out", "s3://b-1/x/", "--drift", "5", "--home", str(home)],
    )
    assert result.exit_code == 1 and "(ValidationException)" in result.output
    assert "drift must be in [-1, 1]" in result.output


def test_preview_shows_nested_schema_and_rows(home: Path) -> None:
    generate(home, "--rows", "300", "--out", "s3://loan-data/raw/")
    result = runner.invoke(
        data_app,
        ["preview", "s3://loan-data/raw/", "--rows", "3", "-o", "json", "--home", str(home)],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["rows"]) == 3
    names = [f["name"] for f in body["schema"]]
    assert names[:3] == ["application_id", "applied_at", "applicant"]
    applicant = body["schema"][2]
    assert applicant["type"] == "struct" and applicant["children"][0]["name"] == "name"
    assert body["rows"][0]["applicant"]["address"]["city"]
    table = runner.invoke(data_app, ["preview", "s3://loan-data/raw/", "--rows", "2",
                                     "--home", str(home)])  # fmt: skip
    assert table.exit_code == 0
    assert "timestamp[s]" in table.stdout and "applicant.address.city" in table.stdout
    assert "2 row(s) from 1 file(s)" in table.stdout


def test_preview_of_nothing_is_a_clear_error(home: Path) -> None:
    Session(home).objects.create_bucket("loan-data")
    result = runner.invoke(data_app, ["preview", "s3://loan-data/none/", "--home", str(home)])
    assert result.exit_code == 1
    assert "No data objects under s3://loan-data/none/" in result.output


def test_sample_prints_or_writes(home: Path) -> None:
    generate(home, "--rows", "2000", "--format", "csv", "--out", "s3://loan-data/raw/")
    printed = runner.invoke(
        data_app,
        ["sample", "s3://loan-data/raw/", "--n", "5", "--method", "random", "-o", "json",
         "--home", str(home)],
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert len(json.loads(printed.stdout)) == 5
    written = runner.invoke(
        data_app,
        ["sample", "s3://loan-data/raw/", "--n", "100", "--method", "stratified",
         "--column", "default", "--out", "s3://loan-data/sample/", "--out-format", "parquet",
         "--home", str(home)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    assert "wrote: s3://loan-data/sample/part-00000.parquet (100 rows)" in written.stdout
    bad = runner.invoke(
        data_app,
        ["sample", "s3://loan-data/raw/", "--method", "stratified", "--home", str(home)],
    )
    assert bad.exit_code == 1 and "needs column=" in bad.output


def test_cli_modules_import_nothing_heavy() -> None:
    code = (
        "import sys; import sagebox.cli.data, sagebox.cli.datasets; "
        "print([m for m in ('pyarrow', 'duckdb', 'pandas', 'numpy') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
