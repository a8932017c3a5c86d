"""A tuning job's trials as a table, in the SageMaker Python SDK's shape
(``sagemaker.analytics.HyperparameterTuningJobAnalytics``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sagebox.session import Session

if TYPE_CHECKING:
    import pandas


def json_or_text(value: str) -> Any:
    """A hyperparameter string read as JSON (how framework estimators send values), else
    the string itself."""
    try:
        return json.loads(value)
    except ValueError:
        return value


class HyperparameterTuningJobAnalytics:
    """A tuning job's trials as a table (``sagemaker.HyperparameterTuningJobAnalytics``)."""

    def __init__(
        self, hyperparameter_tuning_job_name: str, sagemaker_session: Session | None = None
    ) -> None:
        self.name = hyperparameter_tuning_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self._summaries: list[dict[str, Any]] | None = None
        self._description: dict[str, Any] | None = None

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        if force_refresh or self._description is None:
            self._description = self.sagemaker_session.control.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.name
            )
        return self._description

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        """Every trial's HyperParameterTrainingJobSummary (all pages)."""
        if force_refresh or self._summaries is None:
            control = self.sagemaker_session.control
            summaries: list[dict[str, Any]] = []
            request: dict[str, Any] = {"HyperParameterTuningJobName": self.name, "MaxResults": 100}
            while True:
                page = control.list_training_jobs_for_hyper_parameter_tuning_job(**request)
                summaries.extend(page["TrainingJobSummaries"])
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
            self._summaries = summaries
        return self._summaries

    def dataframe(self, force_refresh: bool = False) -> pandas.DataFrame:
        """One row per trial: its tuned hyperparameters (numbers as floats, JSON decoded),
        TrainingJobName, TrainingJobStatus, FinalObjectiveValue, TrainingStartTime,
        TrainingEndTime, TrainingElapsedTimeSeconds (and TrainingJobDefinitionName with
        several definitions)."""
        import pandas

        rows = []
        for summary in self.training_job_summaries(force_refresh):
            row: dict[str, Any] = {}
            for key, value in summary["TunedHyperParameters"].items():
                plain = json_or_text(value)  # framework estimators' values are JSON
                try:
                    row[key] = float(plain)
                except (TypeError, ValueError):
                    row[key] = plain
            row["TrainingJobName"] = summary["TrainingJobName"]
            row["TrainingJobStatus"] = summary["TrainingJobStatus"]
            final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            row["FinalObjectiveValue"] = final.get("Value")
            start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
            row["TrainingStartTime"] = start
            row["TrainingEndTime"] = end
            if start is not None and end is not None:
                row["TrainingElapsedTimeSeconds"] = (end - start).total_seconds()
            if "TrainingJobDefinitionName" in summary:
                row["TrainingJobDefinitionName"] = summary["TrainingJobDefinitionName"]
            rows.append(row)
        return pandas.DataFrame(rows)
