"""The root ``sagebox`` Typer app; each resource is a sub-app in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagebox.cli import audit as audit_cli
from sagebox.cli import data as data_cli
from sagebox.cli import datasets as datasets_cli
from sagebox.cli import evaluate as evaluate_cli
from sagebox.cli import experiments as experiments_cli
from sagebox.cli import glue as glue_cli
from sagebox.cli import hosting as hosting_cli
from sagebox.cli import iam as iam_cli
from sagebox.cli import iam_advisor
from sagebox.cli import invoke as invoke_cli
from sagebox.cli import metrics as metrics_cli
from sagebox.cli import processing as processing_cli
from sagebox.cli import quality as quality_cli
from sagebox.cli import query as query_cli
from sagebox.cli import registry as registry_cli
from sagebox.cli import s3 as s3_cli
from sagebox.cli import training as training_cli
from sagebox.cli import transform as transform_cli
from sagebox.cli import tuning as tuning_cli
from sagebox.cli import wrangler as wrangler_cli
from sagebox.cli._common import HomeOption, aws_errors

app = typer.Typer(
    name="sagebox",
    help="The AWS machine-learning workflow (SageMaker, S3 ...), for real, on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(s3_cli.app, name="s3", help="Object storage in the style of 'aws s3'.")
app.add_typer(processing_cli.app, name="processing-jobs", help="SageMaker Processing jobs.")
app.add_typer(training_cli.app, name="training-jobs", help="SageMaker training jobs.")
app.add_typer(transform_cli.app, name="transform-jobs", help="SageMaker batch transform jobs.")
app.add_typer(tuning_cli.app, name="tuning-jobs", help="SageMaker hyperparameter tuning jobs.")
iam_advisor.register(iam_cli.app)
app.add_typer(iam_cli.app, name="iam", help="IAM: the policy simulator and the advisor.")
quality_cli.register(data_cli.app)
app.add_typer(data_cli.app, name="data", help="Preview, sample and report on data in S3.")
app.add_typer(datasets_cli.app, name="datasets", help="Generate synthetic datasets.")
app.add_typer(wrangler_cli.app, name="flows", help="Data Wrangler flows.")
app.add_typer(glue_cli.app, name="glue", help="The Glue Data Catalog and crawlers.")
query_cli.register(app)
evaluate_cli.register(app)
app.add_typer(audit_cli.app, name="audit", help="Query the audit log of authorization decisions.")
app.add_typer(experiments_cli.app, name="experiments", help="Training jobs as MLflow runs.")
app.add_typer(registry_cli.groups, name="model-package-groups", help="The model registry's groups.")
app.add_typer(registry_cli.packages, name="model-packages", help="Registered model versions.")
invoke_cli.register(app)
app.add_typer(metrics_cli.app, name="metrics", help="Endpoint metrics, per minute.")
app.add_typer(hosting_cli.models_app, name="models", help="SageMaker models (for hosting).")
app.add_typer(hosting_cli.configs_app, name="endpoint-configs", help="SageMaker endpoint configs.")
app.add_typer(
    hosting_cli.endpoints_app, name="endpoints", help="Real-time and serverless endpoints."
)


@app.command()
@aws_errors()
def init(home: HomeOption = None) -> None:
    """Create a sagebox home (or show an existing one) and say where things are."""
    from sagebox.home import Home

    created = not (home or Path("~/.sagebox").expanduser()).joinpath("config.json").exists()
    h = Home.open(home)
    typer.echo(f"{'Created' if created else 'Using'} sagebox home {h.path}")
    typer.echo(
        f"  account {h.account_id}, region {h.region}, "
        f"capacity {h.config.capacity['max_instances']} job instances at once"
    )
    typer.echo(f"  configuration  {h.path / 'config.json'}")
    typer.echo(f"  metadata       {h.metadata_url}")
    typer.echo(f"  objects        {h.objects_url}")
    typer.echo(f"  job logs       {h.logs_path}")
    typer.echo(f"  credentials    {h.credentials_path}  (AWS_SHARED_CREDENTIALS_FILE for boto3)")


@app.command()
@aws_errors()
def logs(
    job_name: Annotated[str, typer.Argument(help="The job's name.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends.")
    ] = False,
    kind: Annotated[str, typer.Option(help="The kind of job.")] = "processing-job",
    home: HomeOption = None,
) -> None:
    """Print a job's log streams (one per instance)."""
    from sagebox.control.jobs import JOB_KINDS, TERMINAL, get_job
    from sagebox.home import Home
    from sagebox.runtime.logs import JobLogs

    h = Home.open(home)
    from sagebox.control import processing as _  # noqa: F401  (registers the kind)
    from sagebox.control import training as _training  # noqa: F401  (registers the kind)
    from sagebox.control import transform as _transform  # noqa: F401  (registers the kind)

    job_kind = JOB_KINDS.get(kind)
    if job_kind is None:
        typer.echo(f"Unknown --kind {kind!r}; use one of {', '.join(JOB_KINDS)}.", err=True)
        raise typer.Exit(2)
    get_job(h, job_kind, job_name)
    streams = JobLogs(h.path, kind, job_name)
    if follow:

        def done() -> bool:
            return get_job(h, job_kind, job_name).status in TERMINAL

        lines = streams.follow(done)
    else:
        lines = streams.read()
    for line in lines:
        typer.echo(f"{line.stream}  {line.text}")


@app.command()
@aws_errors()
def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8642,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="Another Host header to answer to (repeatable)."),
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="A browser origin allowed to change state (repeatable), e.g. the console's.",
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="Requests a second per principal.")] = 100.0,
    burst: Annotated[float, typer.Option(help="Burst size per principal.")] = 200.0,
    home: HomeOption = None,
) -> None:
    """Serve the AWS APIs over HTTP (boto3.client("sagemaker", endpoint_url=...))."""
    import uvicorn

    from sagebox.api.app import build_app
    from sagebox.session import Session

    session = Session(home)  # opens the home and reconciles jobs
    hosts = (host, *(allow_host or ()))
    local = session.local_home()
    from sagebox.glue.scheduler import SchedulerThread

    scheduler = SchedulerThread(session)  # fires Glue crawler schedules every 30 s
    scheduler.start()
    from sagebox.api.app import Server

    app = build_app(
        local,
        allowed_hosts=hosts,
        allowed_origins=(f"http://{host}:{port}", *(allow_origin or ())),
        server=Server(local, rate=rate, burst=burst),
    )
    typer.echo(f"sagebox server for {local.path} on http://{host}:{port}")
    typer.echo(
        f"  boto3: endpoint_url='http://{host}:{port}', "
        f"AWS_SHARED_CREDENTIALS_FILE={local.credentials_path}, region {local.region}"
    )
    try:
        from sagebox.api.front import front_protocol

        uvicorn.run(app, host=host, port=port, log_level="warning", http=front_protocol(app))
    finally:
        scheduler.stop(timeout=5)


@app.command()
@aws_errors()
def quickstart(home: HomeOption = None) -> None:
    """Run the loan-default quickstart: upload German credit data, clean and split it."""
    from sagebox.quickstart.run import run

    run(home or Path("quickstart-home"))


def main() -> None:
    app()
