"""``sagebox flows ...`` (the sub-app the root CLI mounts as ``flows``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sagebox.cli.wrangler import app
from sagebox.session import Session
from tests.wrangler.conftest import applications, jsonl

runner = CliRunner()


def flows(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--home", str(home)])
    return result.exit_code, result.output


def test_create_add_steps_show_preview_list_export(home_path: Path) -> None:
    session = Session(home_path)
    session.objects.create_bucket("raw")
    session.objects.create_bucket("prepared")
    session.objects.put_object("raw", "apps/a.jsonl", jsonl(applications(200)))

    code, out = flows(
        home_path, "create", "loans", "--source", "s3://raw/apps/", "--format", "jsonl"
    )
    assert code == 0 and "version 1" in out, out
    code, out = flows(home_path, "create", "loans", "--source", "s3://raw/apps/")
    assert code == 1 and "A flow named 'loans' exists" in out
    code, out = flows(home_path, "add-step", "loans", "flatten", "--param", "column=applicant")
    assert code == 0 and "Added the step 'flatten-1' (flatten)" in out and "version 2" in out
    flows(home_path, "add-step", "loans", "explode", "-p", "column=credit_history")
    code, out = flows(
        home_path, "add-step", "loans", "drop-columns", "-p", 'columns=["credit_history", "loan"]'
    )
    assert code == 0, out
    code, out = flows(home_path, "add-step", "loans", "handle-missing", "-p", "strategy=avg")
    assert code == 1 and "must be one of mean, median, mode, constant. Got 'avg'" in out

    code, out = flows(home_path, "show", "loans")
    shown = json.loads(out)
    assert shown["Version"] == 4
    assert shown["Flow"]["Steps"][2]["Parameters"] == {"columns": ["credit_history", "loan"]}
    code, out = flows(home_path, "show", "loans", "--version", "2")
    assert [s["Id"] for s in json.loads(out)["Flow"]["Steps"]] == ["flatten-1"]
    code, out = flows(home_path, "history", "loans", "-o", "json")
    assert [v["Version"] for v in json.loads(out)] == [1, 2, 3, 4]

    code, out = flows(home_path, "preview", "loans", "--rows", "4", "-o", "json")
    assert code == 0, out
    previews = json.loads(out)
    assert [p["StepId"] for p in previews] == ["flatten-1", "explode-1", "drop-columns-1"]
    assert previews[-1]["Rows"] == 1 + 1 + 2 + 3 and len(previews[-1]["Head"]) == 4
    assert {"Name": "applicant.age", "Type": "int64"} in previews[-1]["Schema"]
    code, out = flows(home_path, "preview", "loans", "--rows", "3", "--step", "flatten-1")
    assert code == 0 and "flatten-1 (flatten): 3 rows" in out and "explode-1" not in out

    code, out = flows(home_path, "list", "-o", "json")
    assert json.loads(out)["Flows"][0]["LatestVersion"] == 4

    code, out = flows(
        home_path, "export", "loans", "--out", "s3://prepared/cli/", "--format", "csv"
    )
    assert code == 0 and "Exported the flow 'loans' (version 4)" in out, out
    body = session.objects.get_object("prepared", "cli/part-00000.csv").decode().splitlines()
    assert body[0].startswith('"id","applicant.name"') and len(body) == 1 + 350
    code, out = flows(home_path, "remove-step", "loans", "explode-1")
    assert code == 0 and "version 5" in out


def test_the_cli_module_imports_no_data_libraries() -> None:
    script = (
        "import sys, sagebox.cli.wrangler; "
        "print([m for m in ('pyarrow', 'pandas', 'duckdb', 'numpy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
