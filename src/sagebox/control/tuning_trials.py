"""A tuning job's trials as the API shows them: summaries, counters, the best job, listing.

The tuner records each trial in the tuning job's document (``_Trials``: number, name,
definition, tuned values, status and objective as it last saw them). What the API shows
of a trial is read from its training job's own document, so a trial's status and times
are never behind the training job's; the objective is the training job's final value of
the objective metric (``FinalMetricDataList``), as on SageMaker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.store.metadata import ListQuery

TRAINING_KIND = "training-job"
TERMINAL = ("Completed", "Failed", "Stopped")
_SORTS = ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")


def objectives(document: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """DefinitionName ("" for a single definition) -> the objective {MetricName, Type}."""
    single = document.get("TrainingJobDefinition")
    if single is not None:
        config = document["HyperParameterTuningJobConfig"]
        objective = config.get("HyperParameterTuningJobObjective") or single["TuningObjective"]
        return {"": dict(objective)}
    return {
        d["DefinitionName"]: dict(d["TuningObjective"]) for d in document["TrainingJobDefinitions"]
    }


def final_value(training: Mapping[str, Any], metric: str) -> float | None:
    """The training job's final value of ``metric``, once it has ended."""
    if training.get("TrainingJobStatus") not in TERMINAL:
        return None
    for item in training.get("FinalMetricDataList") or ():
        if item.get("MetricName") == metric:
            return float(item["Value"])
    return None


def summary(
    tuning_name: str,
    record: Mapping[str, Any],
    objective: Mapping[str, str],
    training: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one trial."""
    doc = training or {}
    status = doc.get("TrainingJobStatus", record["Status"])
    item: dict[str, Any] = {
        "TrainingJobName": record["Name"],
        "TrainingJobArn": doc.get("TrainingJobArn", record.get("Arn")),
        "TuningJobName": tuning_name,
        "CreationTime": doc.get("CreationTime", record.get("CreationTime")),
        "TrainingStartTime": doc.get("TrainingStartTime"),
        "TrainingEndTime": doc.get("TrainingEndTime"),
        "TrainingJobStatus": status,
        "TunedHyperParameters": dict(record["Tuned"]),
        "FailureReason": doc.get("FailureReason"),
    }
    if record.get("Definition"):
        item["TrainingJobDefinitionName"] = record["Definition"]
    value = final_value(doc, objective["MetricName"])
    if value is None and status in TERMINAL and record.get("Objective") is not None:
        value = float(record["Objective"])  # stopped early: the last value the tuner saw
    if value is not None:
        item["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": value,
        }
    item["ObjectiveStatus"] = (
        "Pending" if status not in TERMINAL else "Succeeded" if value is not None else "Failed"
    )
    return {k: v for k, v in item.items() if v is not None}


def counters(records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """TrainingJobStatusCounters and ObjectiveStatusCounters of the recorded trials.

    A failed trial is a RetryableError when sagebox itself failed it (an InternalFailure,
    such as a lost instance), else a NonRetryableError (the algorithm's or the data's).
    """
    status = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0}
    status["Stopped"] = 0
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for record in records:
        state = record["Status"]
        if state == "Failed":
            reason = str(record.get("FailureReason") or "")
            status[
                "RetryableError" if reason.startswith("InternalFailure") else "NonRetryableError"
            ] += 1
        elif state in ("InProgress", "Stopping"):
            status["InProgress"] += 1
        else:
            status[state] += 1
        if state not in TERMINAL:
            objective["Pending"] += 1
        elif record.get("Objective") is None:
            objective["Failed"] += 1
        else:
            objective["Succeeded"] += 1
    return status, objective


def best_record(records: Sequence[Mapping[str, Any]], maximize: bool) -> Mapping[str, Any] | None:
    """The finished trial with the best objective (the earliest of equals)."""
    best: Mapping[str, Any] | None = None
    for record in records:
        value = record.get("Objective")
        if record["Status"] not in TERMINAL or value is None:
            continue
        if best is None or (value > best["Objective"] if maximize else value < best["Objective"]):
            best = record
    return best


def training_document(home: Home, name: str) -> Mapping[str, Any] | None:
    try:
        return home.metadata.get(TRAINING_KIND, name).document
    except ResourceNotFound:
        return None


def training_documents(home: Home, document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The training job documents of every trial of the tuning job, by name, in one query
    per 500 (trials carry ``TuningJobArn``); a trial created an instant ago may be missing."""
    found: dict[str, Mapping[str, Any]] = {}
    cursor = None
    while True:
        query = ListQuery(
            sort_by="name",
            descending=False,
            limit=500,
            cursor=cursor,
            document_equals={"TuningJobArn": document["HyperParameterTuningJobArn"]},
        )
        page = home.metadata.list(TRAINING_KIND, query)
        found.update((r.name, r.document) for r in page.records)
        if not page.next_cursor:
            return found
        cursor = page.next_cursor


def best_summary(
    home: Home, document: Mapping[str, Any], records: Sequence[Mapping[str, Any]], maximize: bool
) -> dict[str, Any] | None:
    """BestTrainingJob: the summary of the best trial, or None before one has an objective."""
    best = best_record(records, maximize)
    if best is None:
        return None
    objective = objectives(document)[best.get("Definition") or ""]
    return summary(
        document["HyperParameterTuningJobName"],
        best,
        objective,
        training_document(home, best["Name"]),
    )


def better(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, maximize: bool) -> Any:
    """The better of two summaries by their final objective (``a`` on a tie)."""
    if a is None or b is None:
        return a or b
    va = a["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    vb = b["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return b if (vb > va if maximize else vb < va) else a


# ---- ListTrainingJobsForHyperParameterTuningJob ---------------------------------------


def _token_digest(request: Mapping[str, Any], offset: int) -> str:
    key = [request.get("SortBy"), request.get("SortOrder"), request.get("StatusEquals"), offset]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _encode(request: Mapping[str, Any], offset: int) -> str:
    payload = json.dumps([offset, _token_digest(request, offset)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(request: Mapping[str, Any], token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        offset, digest = json.loads(raw)
        if not isinstance(offset, int) or offset < 0 or digest != _token_digest(request, offset):
            raise ValueError(token)
        return offset
    except (ValueError, TypeError, binascii.Error):
        shown = token if len(token) <= 80 else token[:77] + "..."
        raise ValidationError(
            f"The NextToken {shown!r} is not valid for this request. Pass the NextToken from "
            "the previous response of the same request, unchanged."
        ) from None


def list_page(
    home: Home, document: Mapping[str, Any], request: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tuning job's trial summaries, as AWS sorts and filters them:
    by Name, Ascending unless asked otherwise; sorted by FinalObjectiveMetricValue, trials
    without an objective are left out."""
    sort_by = request.get("SortBy", "Name")
    if sort_by not in _SORTS:
        raise ValidationError(f"SortBy {sort_by!r} is not valid; use one of {', '.join(_SORTS)}.")
    descending = request.get("SortOrder", "Ascending") == "Descending"
    name = document["HyperParameterTuningJobName"]
    goals = objectives(document)
    documents = training_documents(home, document)
    items = [
        summary(
            name,
            r,
            goals[r.get("Definition") or ""],
            documents.get(r["Name"]) or training_document(home, r["Name"]),
        )
        for r in document.get("_Trials", [])
    ]
    if request.get("StatusEquals"):
        items = [i for i in items if i["TrainingJobStatus"] == request["StatusEquals"]]
    key: Any
    if sort_by == "FinalObjectiveMetricValue":
        items = [i for i in items if "FinalHyperParameterTuningJobObjectiveMetric" in i]

        def key(i: Mapping[str, Any]) -> Any:
            return (i["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], i["TrainingJobName"])
    else:
        field = {"Name": "TrainingJobName", "CreationTime": "CreationTime"}.get(
            sort_by, "TrainingJobStatus"
        )

        def key(i: Mapping[str, Any]) -> Any:
            return (str(i.get(field, "")), i["TrainingJobName"])

    items.sort(key=key, reverse=descending)
    start = _decode(request, request["NextToken"]) if request.get("NextToken") else 0
    size = int(request.get("MaxResults", 10))
    page = items[start : start + size]
    token = _encode(request, start + size) if start + size < len(items) else None
    return page, token
