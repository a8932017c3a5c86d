"""Endpoint metrics: CloudWatch's names and statistic sets, per minute, merged across
writers; Prometheus text; ``sagebox metrics get``."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sagebox.home import Home
from sagebox.serving.metrics import MetricsRecorder, query

MINUTE = 1_800_000_000 // 60 * 60  # a fixed minute start (2027-01-15)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _endpoint(home: Home, name: str = "loans") -> str:
    arn = home.arn("sagemaker", f"endpoint/{name}")
    home.metadata.create("endpoint", name, arn, "InService", {"EndpointName": name})
    return arn


def _invoke(
    recorder: MetricsRecorder, arn: str, variant: str, status: int, model_us: float, **kw: int
) -> None:
    concurrency = recorder.begin("loans", arn, variant)
    recorder.invocation(
        arn,
        variant,
        status=status,
        model_us=model_us,
        overhead_us=100.0,
        concurrency=concurrency,
        **kw,
    )


def test_invocations_become_per_minute_statistic_sets(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    clock = Clock(MINUTE + 5)
    recorder = MetricsRecorder(home, clock=clock)
    for model_us in (300.0, 500.0, 1000.0):
        _invoke(recorder, arn, "AllTraffic", 200, model_us)
    _invoke(recorder, arn, "AllTraffic", 400, 800.0)
    _invoke(recorder, arn, "AllTraffic", 500, 900.0)
    _invoke(recorder, arn, "AllTraffic", 0, 60e6)  # no answer in time
    recorder.flush()

    points = {p.metric: p for p in query(home, arn)}
    invocations = points["Invocations"]
    assert invocations.timestamp == datetime.fromtimestamp(MINUTE, UTC)
    assert (invocations.variant, invocations.sum, invocations.unit) == ("AllTraffic", 6, "None")
    assert points["Invocation4XXErrors"].sum == 1
    assert points["Invocation4XXErrors"].average == pytest.approx(1 / 6)  # the error rate
    assert points["Invocation5XXErrors"].sum == 2  # the 500 and the timeout
    assert points["InvocationModelErrors"].sum == 3
    latency = points["ModelLatency"]
    assert (latency.sample_count, latency.minimum, latency.maximum) == (6, 300.0, 60e6)
    assert latency.unit == "Microseconds"
    assert points["OverheadLatency"].average == 100.0
    assert points["ConcurrentRequestsPerModel"].maximum == 1.0


def test_writers_in_several_processes_merge_exactly(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    clock = Clock(MINUTE + 1)
    server, embedded = MetricsRecorder(home, clock=clock), MetricsRecorder(home, clock=clock)
    _invoke(server, arn, "A", 200, 200.0)
    _invoke(server, arn, "A", 200, 400.0)
    server.flush()
    _invoke(embedded, arn, "A", 200, 100.0)
    _invoke(server, arn, "A", 200, 900.0)  # the same minute, flushed again later
    embedded.flush()
    server.flush()

    latency = query(home, arn, metric="ModelLatency")
    assert len(latency) == 1
    point = latency[0]
    assert (point.sample_count, point.sum) == (4, 1600.0)
    assert (point.minimum, point.maximum, point.average) == (100.0, 900.0, 400.0)


def test_only_finished_minutes_leave_in_the_background(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    clock = Clock(MINUTE + 30)
    recorder = MetricsRecorder(home, clock=clock)
    _invoke(recorder, arn, "AllTraffic", 200, 250.0)
    recorder.flush(current=False)
    assert query(home, arn) == []  # this minute is still open
    clock.now = MINUTE + 61
    _invoke(recorder, arn, "AllTraffic", 200, 250.0)
    recorder.flush(current=False)
    minutes = {p.timestamp for p in query(home, arn)}
    assert minutes == {datetime.fromtimestamp(MINUTE, UTC)}
    recorder.flush()
    assert len({p.timestamp for p in query(home, arn)}) == 2


def test_variants_metrics_and_since_filter(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    clock = Clock(MINUTE)
    recorder = MetricsRecorder(home, clock=clock)
    _invoke(recorder, arn, "A", 200, 1.0)
    clock.now = MINUTE + 120
    _invoke(recorder, arn, "B", 200, 2.0)
    recorder.observe(arn, "B", "ModelSetupTime", 750_000)
    recorder.flush()
    assert {p.variant for p in query(home, arn)} == {"A", "B"}
    assert {p.variant for p in query(home, arn, variant="A")} == {"A"}
    later = query(home, arn, since=datetime.fromtimestamp(MINUTE + 60, UTC))
    assert {p.variant for p in later} == {"B"}
    (setup,) = query(home, arn, metric="ModelSetupTime")
    assert (setup.variant, setup.maximum, setup.unit) == ("B", 750_000, "Microseconds")


def test_serverless_concurrency_is_a_utilization(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    recorder = MetricsRecorder(home)
    first = recorder.begin("loans", arn, "Serverless")
    second = recorder.begin("loans", arn, "Serverless")
    for concurrency in (first, second):
        recorder.invocation(
            arn,
            "Serverless",
            status=200,
            model_us=10.0,
            overhead_us=1.0,
            concurrency=concurrency,
            max_concurrency=4,
        )
    recorder.flush()
    (point,) = query(home, arn, metric="ServerlessConcurrentExecutionsUtilization")
    assert point.maximum == 0.5  # two of four slots at once
    assert query(home, arn, metric="ConcurrentRequestsPerModel") == []


def test_unknown_metric_names_are_refused(home_path: Path) -> None:
    recorder = MetricsRecorder(Home.open(home_path))
    with pytest.raises(ValueError, match="ModelSetupTime"):
        recorder.observe("arn", "AllTraffic", "ModelSetupTimes", 1.0)


def test_a_deleted_endpoint_drops_its_pending_metrics(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    recorder = MetricsRecorder(home)
    _invoke(recorder, arn, "AllTraffic", 200, 1.0)
    home.metadata.delete("endpoint", "loans")
    recorder.flush()  # no error: the endpoint is gone, and so are its metrics


def test_prometheus_text_has_counters_gauges_and_histograms(home_path: Path) -> None:
    home = Home.open(home_path)
    arn = _endpoint(home)
    recorder = MetricsRecorder(home)
    _invoke(recorder, arn, "AllTraffic", 200, 300.0)
    _invoke(recorder, arn, "AllTraffic", 500, 3000.0)
    recorder.begin("loans", arn, "AllTraffic")  # one still in flight
    text = recorder.prometheus()
    labels = 'endpoint="loans",variant="AllTraffic"'
    assert f"sagebox_invocations_total{{{labels}}} 2" in text
    assert f"sagebox_invocation_5xx_errors_total{{{labels}}} 1" in text
    assert f"sagebox_invocation_4xx_errors_total{{{labels}}} 0" in text
    assert f"sagebox_concurrent_requests{{{labels}}} 1" in text
    assert f'sagebox_model_latency_microseconds_bucket{{{labels},le="500"}} 1' in text
    assert f'sagebox_model_latency_microseconds_bucket{{{labels},le="+Inf"}} 2' in text
    assert f"sagebox_model_latency_microseconds_sum{{{labels}}} 3300" in text
    assert "# TYPE sagebox_invocations_total counter" in text


def test_cli_prints_per_minute_statistics(home_path: Path) -> None:
    from sagebox.cli.app import app

    home = Home.open(home_path)
    arn = _endpoint(home)
    recorder = MetricsRecorder(home)
    _invoke(recorder, arn, "AllTraffic", 200, 400.0)
    _invoke(recorder, arn, "AllTraffic", 200, 600.0)
    recorder.flush()
    runner = CliRunner()
    args = ["metrics", "get", "--endpoint", "loans", "--home", str(home_path)]
    result = runner.invoke(app, [*args, "--metric", "ModelLatency", "-o", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["Datapoints"]
    assert (row["Metric"], row["Average"], row["SampleCount"], row["Unit"]) == (
        "ModelLatency",
        500.0,
        2,
        "Microseconds",
    )
    table = runner.invoke(app, [*args, "-s", "Sum"])
    assert table.exit_code == 0, table.output
    assert "Invocations" in table.output and "OverheadLatency" in table.output
    wrong = runner.invoke(app, [*args, "--metric", "Latency"])
    assert wrong.exit_code == 2 and "ModelLatency" in wrong.output
    empty = runner.invoke(app, [*args, "--variant", "Other"])
    assert "No metrics for endpoint loans" in empty.output


def test_average_of_nothing_is_nan() -> None:
    from sagebox.serving.metrics import Datapoint

    point = Datapoint(datetime.now(UTC), "A", "Invocations", 0, 0, math.inf, -math.inf)
    assert math.isnan(point.average)
