"""``sagebox data report`` as the lead mounts it: on the ``data`` sub-app, with --home."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from sagebox.cli import quality as quality_cli
from sagebox.datasets import GERMAN_CREDIT
from sagebox.home import Home

runner = CliRunner()


def _app() -> typer.Typer:
    root, data = typer.Typer(), typer.Typer()
    quality_cli.register(data)
    root.add_typer(data, name="data")
    return root


def test_report_command_writes_the_report_and_says_where(tmp_path: Path) -> None:
    home = Home.open(tmp_path / "home")
    home.objects.create_bucket("loan-data")
    home.objects.put_object("loan-data", "raw/german.csv", GERMAN_CREDIT)
    args = ["data", "report", "s3://loan-data/raw/german.csv", "--target", "creditability"]
    args += ["--out", "s3://loan-data/reports/x", "--format", "csv", "--home", str(home.path)]
    result = runner.invoke(_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Profiled 1,000 rows, 21 columns" in result.output
    assert "Quick model: AUC 0." in result.output
    assert "s3://loan-data/reports/x/report.html" in result.output
    stored = json.loads(home.objects.get_object("loan-data", "reports/x/report.json"))
    assert stored["summary"]["rows"] == 1000

    as_json = runner.invoke(_app(), [*args, "--no-model", "-o", "json"])
    assert as_json.exit_code == 0, as_json.output
    printed = json.loads(as_json.output)
    assert printed["Report"] == "s3://loan-data/reports/x/report.html"
    assert printed["Summary"]["quick_model"] is None


def test_errors_are_printed_not_raised(tmp_path: Path) -> None:
    home = Home.open(tmp_path / "home")
    home.objects.create_bucket("loan-data")
    args = ["data", "report", "s3://loan-data/nothing/", "--out", "s3://loan-data/r"]
    result = runner.invoke(_app(), [*args, "--home", str(home.path)])
    assert result.exit_code == 1
    assert "ValidationException" in result.output and "No data objects" in result.output
    bad = runner.invoke(_app(), [*args, "--problem-type", "ranking", "--home", str(home.path)])
    assert bad.exit_code == 2 and "--problem-type" in bad.output


def test_the_cli_module_loads_no_heavy_libraries() -> None:
    code = (
        "import sys, sagebox.cli.quality; "
        "print(','.join(m for m in ('pandas', 'pyarrow', 'sklearn') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
