"""SageMaker's tuning service for one tuning job: the tuner's backend, its process, recovery.

Who creates the trials. On AWS, ``CreateHyperParameterTuningJob`` needs
``sagemaker:CreateHyperParameterTuningJob`` and ``iam:PassRole`` on each definition's
role, nothing more: the trials are created by the SageMaker service, not by the caller.
sagebox does the same. The caller's permissions are checked when the tuning job is
created (the plane authorizes the action, :mod:`sagebox.control.tuning` checks PassRole
and every trial's request); the tuner then calls ``CreateTrainingJob`` and
``StopTrainingJob`` through the same control plane as the service principal
``sagemaker.amazonaws.com``, with an authorizer that allows exactly this tuning job's
needs: its own trials (``training-job/<tuning job>-*``) and the roles its definitions
name; it also reads the job and its trials, to log the job to MLflow when it ends
(:mod:`sagebox.experiments.tuning`). Every one of those decisions is written to the audit
log.

The tuner runs as a detached process (``python -m sagebox.tuning.tuner``), recorded in
the tuning job's document (``_Tuner``: pid and start ticks); :func:`reconcile` ends a
tuning job whose tuner died, stopping its running trials, as the executor ends jobs
whose supervisor died.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sagebox.control.audit import AuditEvent, AuditLog
from sagebox.control.authorize import Principal
from sagebox.control.tuning_request import TuningSpec, parse
from sagebox.control.tuning_trials import TRAINING_KIND, best_summary, better, counters
from sagebox.errors import AccessDenied, ResourceNotFound, SageboxError, ValidationError
from sagebox.experiments.tuning import experiment_name, try_log_tuning_job
from sagebox.home import Home
from sagebox.runtime.processes import is_alive, spawn_detached
from sagebox.store.metadata import Change, Record
from sagebox.tuning._base import Evaluated
from sagebox.tuning.tuner import (
    TERMINAL,
    Definition,
    LaunchError,
    Plan,
    Progress,
    TrialRecord,
    TrialStatus,
)

KIND = "hyper-parameter-tuning-job"
SERVICE_PRINCIPAL = "sagemaker.amazonaws.com"
BACKEND = "sagebox.control.tuning_service:TuningService"
ACTIVE = ("InProgress", "Stopping")
LAUNCH_TIMEOUT = timedelta(seconds=60)
_TRIAL_ACTIONS = ("sagemaker:CreateTrainingJob", "sagemaker:StopTrainingJob")
_READ_ACTIONS = (  # its report, when the job ends
    "sagemaker:DescribeHyperParameterTuningJob",
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    "sagemaker:DescribeTrainingJob",
)


class TrialAuthorizer:
    """What SageMaker's tuning service may do for one tuning job (module docstring)."""

    def __init__(self, home: Home, job_name: str, roles: Sequence[str]) -> None:
        self.audit = AuditLog(home.logs_path / "audit")
        self.trials = home.arn("sagemaker", f"training-job/{job_name.lower()}-")
        self.job = home.arn("sagemaker", f"{KIND}/{job_name.lower()}")
        self.roles = frozenset(roles)

    def authorize(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        allowed = (
            (action in _TRIAL_ACTIONS and resource.startswith(self.trials))
            or (action == "iam:PassRole" and resource in self.roles)
            or (
                action in _READ_ACTIONS
                and (resource == self.job or resource.startswith(self.trials))
            )
        )
        self.audit.write(
            AuditEvent(
                eventTime=datetime.now(UTC).isoformat(),
                principal=principal.arn,
                action=action,
                resource=resource,
                sourceIp=None,
                decision="allowed" if allowed else "implicitDeny",
                statement=None,
                requestId=str(context.get("sagebox:request_id", "")),
            )
        )
        if not allowed:
            raise AccessDenied(
                f"The tuning service is not authorized to perform: {action} on resource: "
                f"{resource}: a tuning job creates, stops and reads only its own training "
                "jobs, reads only itself, and passes only the roles its training job "
                "definitions name."
            )
        return None


def _record_dict(record: TrialRecord) -> dict[str, Any]:
    return {
        "Number": record.number,
        "Name": record.name,
        "Definition": record.definition,
        "Tuned": dict(record.tuned),
        "Status": record.status,
        "Objective": record.objective,
        "FailureReason": record.failure_reason,
        "StoppedEarly": record.stopped_early,
    }


def plan_of(spec: TuningSpec, document: Mapping[str, Any]) -> Plan:
    """The tuner's plan of a tuning job: its spec, with the warm-start trials it learns from."""
    prior = document.get("_Prior") or {}
    return Plan(
        job_name=spec.name,
        strategy=spec.strategy,
        definitions=tuple(
            Definition(
                d.name,
                d.objective,
                d.ranges,
                count,
                tuple(Evaluated(**item) for item in prior.get(d.name, ())),
            )
            for d, count in zip(spec.definitions, spec.trial_counts, strict=True)
        ),
        max_trials=spec.max_trials,
        max_parallel=spec.max_parallel,
        created=datetime.fromisoformat(document["CreationTime"]),
        max_runtime_seconds=spec.max_runtime_seconds,
        early_stopping=spec.early_stopping,
        completion=spec.completion,
        seed=spec.seed,
        min_resource=spec.min_resource,
        max_resource=spec.max_resource,
    )


class TuningService:
    """The tuner's :class:`~sagebox.tuning.tuner.Backend` for one tuning job."""

    def __init__(self, home: str, name: str) -> None:
        from sagebox.control.plane import ControlPlane

        self.home = Home.open(home, create=False)
        self.name = name
        record = self.home.metadata.get(KIND, name)
        self.arn = record.arn
        self.document = dict(record.document)
        self.spec = parse(self.document)  # the document keeps the request's members
        roles = [str(d.source["RoleArn"]) for d in self.spec.definitions]
        self.plane = ControlPlane(self.home, authorizer=TrialAuthorizer(self.home, name, roles))
        self.principal = Principal(SERVICE_PRINCIPAL, self.home.account_id)
        self.trial_arns: dict[str, str] = {}
        self.trial_definitions: dict[str, str] = {}

    def plan(self) -> Plan:
        return plan_of(self.spec, self.document)

    def launch(self, name: str, definition: Definition, tuned: Mapping[str, str]) -> None:
        tags = [{"Key": k, "Value": v} for k, v in self.home.metadata.get_tags(self.arn).items()]
        request = self.spec.definition(definition.name).training_request(name, tuned, tags)
        request["ExperimentConfig"] = {"ExperimentName": experiment_name(self.name)}
        try:
            response = self.plane.call("CreateTrainingJob", request, principal=self.principal)
        except SageboxError as exc:
            raise LaunchError(f"{exc.code}: {exc.message}") from exc
        self.trial_arns[name] = str(response["TrainingJobArn"])
        self.trial_definitions[name] = definition.name

        def mark(current: Record) -> Change:
            return Change(current.status, {**current.document, "TuningJobArn": self.arn})

        self.home.metadata.update(TRAINING_KIND, name, mark)

    def trial_status(self, name: str) -> TrialStatus:
        doc = self.home.metadata.get(TRAINING_KIND, name).document
        status = str(doc["TrainingJobStatus"])
        objective = None
        if status in TERMINAL:
            from sagebox.control.tuning_trials import final_value, objectives

            goal = objectives(self.document)[self.trial_definitions.get(name, "")]
            objective = final_value(doc, goal["MetricName"])
        return TrialStatus(status, objective, doc.get("FailureReason"))

    def curve(self, name: str, metric: str) -> list[float]:
        arn = self.trial_arns.get(name) or self.home.arn(
            "sagemaker", f"training-job/{name.lower()}"
        )
        return [point.value for point in self.home.metadata.get_metrics(arn, metric)]

    def stop_trial(self, name: str) -> None:
        with contextlib.suppress(ValidationError):  # it ended in the meantime
            self.plane.call("StopTrainingJob", {"TrainingJobName": name}, principal=self.principal)

    def stop_requested(self) -> bool:
        return self.home.metadata.get(KIND, self.name).status == "Stopping"

    def record(self, progress: Progress) -> None:
        self._write(progress, None, None)

    def finish(self, status: str, progress: Progress, failure_reason: str | None) -> None:
        self._write(progress, status, failure_reason)
        # Once the final state is recorded, and never failing it: its MLflow run and report.
        try_log_tuning_job(
            self.home, self.name, functools.partial(self.plane.call, principal=self.principal)
        )

    def _write(self, progress: Progress, final: str | None, failure_reason: str | None) -> None:
        trials = [_record_dict(r) for r in progress.trials]
        best = best_summary(self.home, self.document, trials, self.spec.maximize)

        def change(current: Record) -> Change | None:
            if current.status not in ACTIVE:
                return None
            doc = dict(current.document)
            apply_progress(doc, trials, best, progress, self.spec.maximize)
            status = current.status
            if final is not None:
                status = final
                end = datetime.now(UTC)
                doc["HyperParameterTuningEndTime"] = end.isoformat()
                created = datetime.fromisoformat(doc["CreationTime"])
                doc["ConsumedResources"] = {
                    "RuntimeInSeconds": max(0, round((end - created).total_seconds()))
                }
                if failure_reason:
                    doc["FailureReason"] = failure_reason[:1024]
                doc.pop("_Tuner", None)
            doc["HyperParameterTuningJobStatus"] = status
            return Change(status, doc)

        self.home.metadata.update(KIND, self.name, change)


def apply_progress(
    doc: dict[str, Any],
    trials: list[dict[str, Any]],
    best: dict[str, Any] | None,
    progress: Progress,
    maximize: bool,
) -> None:
    """Write the trials, counters, best jobs and completion details into ``doc``."""
    doc["_Trials"] = trials
    status_counters, objective_counters = counters(trials)
    doc["TrainingJobStatusCounters"] = status_counters
    doc["ObjectiveStatusCounters"] = objective_counters
    if best is not None:
        doc["BestTrainingJob"] = best
    if doc.get("WarmStartConfig"):
        overall = better(doc.get("_ParentBest"), best, maximize)
        if overall is not None:
            doc["OverallBestTrainingJob"] = overall
    details: dict[str, Any] = {"NumberOfTrainingJobsObjectiveNotImproving": progress.not_improving}
    if progress.convergence_time is not None:
        details["ConvergenceDetectedTime"] = progress.convergence_time.isoformat()
    doc["TuningJobCompletionDetails"] = details


# ---- the tuner process ------------------------------------------------------------------


def start_tuner(home: Home, name: str) -> None:
    """Start the tuning job's tuner, detached, and record which process it is."""
    folder = home.logs_path / KIND / name
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sagebox.tuning.tuner", BACKEND, str(home.path), name]
    pid, ticks = spawn_detached(command, folder / "tuner.log", home.path)

    def launched(current: Record) -> Change | None:
        if current.status not in ACTIVE:
            return None  # it already ended
        return Change(current.status, {**current.document, "_Tuner": {"pid": pid, "ticks": ticks}})

    home.metadata.update(KIND, name, launched)


def reconcile(home: Home) -> list[str]:
    """End tuning jobs whose tuner process died: their running trials are stopped and the
    job ends Failed (Stopped if a stop was asked for). Returns the names it ended."""
    from sagebox.control import jobs, training
    from sagebox.runtime.local import LocalExecutor

    ended = []
    now = datetime.now(UTC)
    for record in home.metadata.find(KIND, list(ACTIVE)):
        tuner = record.document.get("_Tuner")
        if tuner is None:
            if now - record.creation_time < LAUNCH_TIMEOUT:
                continue  # being started
        elif is_alive(tuner.get("pid"), tuner.get("ticks")):
            continue
        executor = LocalExecutor(home)
        for trial in record.document.get("_Trials", ()):
            with contextlib.suppress(ValidationError, ResourceNotFound):  # already ended
                jobs.request_stop(home, executor, training.TRAINING, trial["Name"])
        pid = (tuner or {}).get("pid")
        reason = (
            f"InternalFailure: the tuning job's tuner process (pid {pid}) ended without "
            "finishing the job, so its running training jobs were stopped. Create the "
            "tuning job again (WarmStartConfig can start from this one's trials)."
        )

        def end(current: Record, reason: str = reason) -> Change | None:
            if current.status not in ACTIVE:
                return None
            doc = dict(current.document)
            status = "Stopped" if current.status == "Stopping" else "Failed"
            doc["HyperParameterTuningJobStatus"] = status
            doc["HyperParameterTuningEndTime"] = datetime.now(UTC).isoformat()
            if status == "Failed":
                doc["FailureReason"] = reason
            doc.pop("_Tuner", None)
            return Change(status, doc)

        home.metadata.update(KIND, record.name, end)
        ended.append(record.name)
    return ended
