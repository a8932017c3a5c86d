"""``sagebox models|endpoint-configs|endpoints``, ``sagebox invoke``, ``sagebox metrics get``
and ``sagebox transform-jobs``, on a real endpoint and a real transform job."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sagebox.cli.app import app
from sagebox.session import Session
from tests.serving.hosting import BUCKET, upload_xgboost, wait_for

runner = CliRunner()


def test_model_endpoint_invoke_weights_metrics_delete(endpoints: Session, home_path: Path) -> None:
    uri = upload_xgboost(endpoints, "models/cli")
    home = ["--home", str(home_path)]
    created = runner.invoke(
        app,
        ["models", "create", "scorer", "--image", "sagebox/xgboost", "--model-data", uri, *home],
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().endswith(":model/scorer")
    listed = runner.invoke(app, ["models", "list", *home])
    assert "scorer" in listed.output

    served = runner.invoke(
        app,
        [
            "endpoints", "create", "loans", "--model", "scorer",
            "--memory", "1024", "--max-concurrency", "2", *home,
        ],
    )  # fmt: skip
    assert served.exit_code == 0, served.output
    described = json.loads(served.stdout)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentServerlessConfig"]["MaxConcurrency"] == 2

    answer = runner.invoke(
        app, ["invoke", "loans", "--body", "0.5,0.1,0.2,0.3", "--show-variant", *home]
    )
    assert answer.exit_code == 0, answer.output
    assert 0 < float(answer.stdout.strip()) < 1
    assert "AllTraffic" in answer.stderr

    bad = runner.invoke(app, ["invoke", "loans", "--body", "x", "-t", "image/png", *home])
    assert bad.exit_code == 1
    assert "ModelError" in bad.output and "415" in bad.output

    configs = runner.invoke(app, ["endpoint-configs", "describe", "loans", *home])
    assert json.loads(configs.stdout)["ProductionVariants"][0]["ModelName"] == "scorer"

    weights = runner.invoke(
        app, ["endpoints", "weights", "loans", "--weight", "AllTraffic=2", *home]
    )
    assert weights.exit_code == 0, weights.output
    after = runner.invoke(app, ["endpoints", "describe", "loans", *home])
    assert json.loads(after.stdout)["ProductionVariants"][0]["CurrentWeight"] == 2.0

    # the serving process writes each minute's metrics when it ends; the CLI's own
    # invocations above ran in this process, whose recorder flushes here
    from sagebox.serving import metrics

    assert endpoints.home is not None
    metrics.recorder(endpoints.home).flush()
    shown = runner.invoke(
        app, ["metrics", "get", "-e", "loans", "-m", "Invocations", "-o", "json", *home]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)["Datapoints"]
    assert sum(row["Sum"] for row in rows) == 2  # one answered, one ModelError
    errors = runner.invoke(
        app, ["metrics", "get", "-e", "loans", "-m", "Invocation4XXErrors", "-o", "json", *home]
    )
    assert sum(row["Sum"] for row in json.loads(errors.stdout)["Datapoints"]) == 1

    deleted = runner.invoke(app, ["endpoints", "delete", "loans", *home])
    assert deleted.exit_code == 0, deleted.output
    wait_for(
        lambda: "loans" not in runner.invoke(app, ["endpoints", "list", *home]).output,
        message="the endpoint was not deleted",
    )


def test_endpoint_create_without_a_model_or_spec_says_what_to_give(home_path: Path) -> None:
    result = runner.invoke(app, ["endpoints", "create", "x", "--home", str(home_path)])
    assert result.exit_code != 0
    assert "Give --model" in result.output


def test_transform_job_from_flags(session: Session, home_path: Path) -> None:
    uri = upload_xgboost(session, "models/batch")
    home = ["--home", str(home_path)]
    assert (
        runner.invoke(
            app,
            ["models", "create", "batch", "--image", "sagebox/xgboost", "--model-data", uri, *home],
        ).exit_code
        == 0
    )
    rows = "".join(f"id{i},{i / 10:.1f},0.1,0.2,0.3\n" for i in range(-20, 20))
    session.objects.put_object(BUCKET, "portfolio/rows.csv", rows.encode())
    result = runner.invoke(
        app,
        [
            "transform-jobs", "create", "--name", "nightly", "--model", "batch",
            "--input", f"s3://{BUCKET}/portfolio/", "--output-path", f"s3://{BUCKET}/scores/",
            "--content-type", "text/csv", "--split-type", "Line", "--assemble-with", "Line",
            "--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]",
            "--instance-type", "ml.m5.xlarge", "--wait", *home,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "nightly: Completed" in result.output
    lines = session.objects.get_object(BUCKET, "scores/rows.csv.out").decode().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"id{i}" for i in range(-20, 20)]
    described = runner.invoke(app, ["transform-jobs", "describe", "nightly", *home])
    assert json.loads(described.stdout)["DataProcessing"]["JoinSource"] == "Input"
    logs = runner.invoke(app, ["logs", "nightly", "--kind", "transform-job", *home])
    assert "records/s" in logs.output
