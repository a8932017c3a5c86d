"""``sagebox tuning-jobs create|describe|list|stop|trials|report``."""

# No "from __future__ import annotations": typer reads these annotations at run time.
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from sagebox.cli._common import (
    EndpointOption,
    HomeOption,
    OutputOption,
    ProfileOption,
    WaitOption,
    aws_errors,
    check_output,
    load_spec,
    print_json,
    print_table,
    session,
)
from sagebox.cli._jobs import JobCommands

app = typer.Typer(no_args_is_help=True)


@dataclass(frozen=True)
class _TuningCommands(JobCommands):
    @property
    def noun(self) -> str:
        return "hyperparameter tuning job"


JOBS = _TuningCommands(
    "HyperParameterTuning",
    (
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "Strategy",
        "TrainingJobStatusCounters",
        "CreationTime",
        "HyperParameterTuningEndTime",
    ),
)


def build_request(
    spec: dict[str, Any],
    *,
    name: str | None,
    strategy: str | None,
    max_jobs: int | None,
    max_parallel_jobs: int | None,
    early_stopping: str | None,
    random_seed: int | None,
) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request: the spec file's fields, the flags over them."""
    request = dict(spec)
    if name:
        request["HyperParameterTuningJobName"] = name
    config = dict(request.get("HyperParameterTuningJobConfig", {}))
    if strategy:
        config["Strategy"] = strategy
    config.setdefault("Strategy", "Bayesian")
    limits = dict(config.get("ResourceLimits", {}))
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    if max_parallel_jobs is not None:
        limits["MaxParallelTrainingJobs"] = max_parallel_jobs
    limits.setdefault("MaxParallelTrainingJobs", 1)
    config["ResourceLimits"] = limits
    if early_stopping:
        config["TrainingJobEarlyStoppingType"] = early_stopping
    if random_seed is not None:
        config["RandomSeed"] = random_seed
    request["HyperParameterTuningJobConfig"] = config
    return request


def _progress(description: dict[str, Any]) -> str:
    counts = description.get("TrainingJobStatusCounters", {})
    done = sum(v for k, v in counts.items() if k != "InProgress")
    best = description.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    shown = f", best {best['MetricName']}={best['Value']:g}" if best else ""
    return f"({done} done, {counts.get('InProgress', 0)} running{shown})"


@app.command()
@aws_errors("CreateHyperParameterTuningJob")
def create(
    spec_file: Annotated[
        Path,
        typer.Option(
            "--spec",
            help="A JSON or YAML file with a CreateHyperParameterTuningJob request.",
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="HyperParameterTuningJobName (32 characters).")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option(help="Bayesian, Random, Grid or Hyperband.")
    ] = None,
    max_jobs: Annotated[
        int | None, typer.Option(help="ResourceLimits.MaxNumberOfTrainingJobs.")
    ] = None,
    max_parallel_jobs: Annotated[
        int | None, typer.Option(help="ResourceLimits.MaxParallelTrainingJobs.")
    ] = None,
    early_stopping: Annotated[
        str | None, typer.Option(help="TrainingJobEarlyStoppingType: Off or Auto.")
    ] = None,
    random_seed: Annotated[int | None, typer.Option(help="RandomSeed.")] = None,
    wait: WaitOption = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Create a hyperparameter tuning job from a spec file and flags."""
    fmt = check_output(output)
    s = session(home, endpoint_url, profile)
    request = build_request(
        load_spec(spec_file),
        name=name,
        strategy=strategy,
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        early_stopping=early_stopping,
        random_seed=random_seed,
    )
    if not endpoint_url:  # embedded: the home's execution role and bucket by default
        single = request.get("TrainingJobDefinition")
        for definition in [single] if single else request.get("TrainingJobDefinitions", []):
            definition.setdefault("RoleArn", s.get_execution_role())
            definition.setdefault(
                "OutputDataConfig", {"S3OutputPath": f"s3://{s.default_bucket()}"}
            )
    response = s.control.create_hyper_parameter_tuning_job(**request)
    JOBS.finish(s, response, request["HyperParameterTuningJobName"], fmt, wait, _progress)


@app.command()
@aws_errors("ListTrainingJobsForHyperParameterTuningJob")
def trials(
    name: Annotated[str, typer.Argument(help="HyperParameterTuningJobName.")],
    sort_by: Annotated[
        str, typer.Option(help="Name, CreationTime, Status or FinalObjectiveMetricValue.")
    ] = "Name",
    sort_order: Annotated[str, typer.Option(help="Ascending or Descending.")] = "Ascending",
    status: Annotated[str | None, typer.Option(help="StatusEquals.")] = None,
    max_results: Annotated[int, typer.Option(help="Page size (1-100).")] = 100,
    next_token: Annotated[str | None, typer.Option(help="NextToken of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow NextToken to the end.")] = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List a tuning job's trials; --sort-by FinalObjectiveMetricValue ranks them."""
    fmt = check_output(output)
    control = session(home, endpoint_url, profile).control
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "SortBy": sort_by,
        "SortOrder": sort_order,
        "MaxResults": max_results,
    }
    if status:
        request["StatusEquals"] = status
    if next_token:
        request["NextToken"] = next_token
    summaries: list[dict[str, Any]] = []
    token = None
    while True:
        page = control.list_training_jobs_for_hyper_parameter_tuning_job(**request)
        summaries.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if not (all_pages and token):
            break
        request["NextToken"] = token
    if fmt == "json":
        more = {"NextToken": token} if token and not all_pages else {}
        print_json({"TrainingJobSummaries": summaries, **more})
        return
    rows = [
        {
            **s,
            "Objective": (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
        }
        for s in summaries
    ]
    columns = ["TrainingJobName", "TrainingJobStatus", "Objective", "TunedHyperParameters"]
    if any("TrainingJobDefinitionName" in s for s in summaries):
        columns.insert(1, "TrainingJobDefinitionName")
    print_table(rows, columns)
    if token and not all_pages:
        typer.echo(f"More: --next-token {token}")


@app.command()
@aws_errors("DescribeHyperParameterTuningJob")
def report(
    name: Annotated[str, typer.Argument(help="HyperParameterTuningJobName.")],
    folder: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Folder for trials.csv, tuning-report.json and tuning-report.html "
            "(default: ./tuning-report/NAME).",
        ),
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Write a tuning job's report: its trials as trials.csv, and an HTML page of plots."""
    from sagebox.tuning.analysis import collect
    from sagebox.tuning.report import write_report

    s = session(home, endpoint_url, profile)
    found = collect(s.control.call, name, s.home)
    files = write_report(found, folder or Path("tuning-report") / name)
    counts = found.counts()
    typer.echo(
        f"{name}: {found.status}, {counts['trials']} trials ({counts['completed']} completed, "
        f"{counts['stopped_early']} stopped early, {counts['failed']} failed)"
    )
    best = found.best
    if best is None or best.objective is None:
        typer.echo("No trial has an objective value yet.")
    else:
        values = ", ".join(f"{k}={v}" for k, v in best.hyperparameters.items())
        typer.echo(
            f"Best trial: {best.name} (trial {best.number}): {found.metric} = "
            f"{best.objective:.6g} ({values})"
        )
    typer.echo(f"Report: {files.html} (and {files.csv.name}, {files.json.name})")


JOBS.register(app)
for _command in app.registered_commands:
    if _command.callback is not None and _command.callback.__name__ == "stop":
        _command.help = "Stop a tuning job: its running trials are stopped, no new one starts."
