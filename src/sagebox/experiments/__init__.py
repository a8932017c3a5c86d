"""Experiments: every training job is an MLflow run, in a tracking store in the home.

``log_training_job`` records a finished job (called by its supervisor, through
``try_log_training_job``); ``runs_for_job``, ``list_experiments`` and ``compare_runs``
read runs back; ``parent_run`` groups runs (a trial's jobs, a tuning job's trials).
MLflow itself is imported only when a store is opened.
"""

from sagebox.experiments.compare import (
    Comparison,
    ExperimentSummary,
    RunRow,
    compare_runs,
    list_experiments,
)
from sagebox.experiments.lineage import ChannelDigest, ChannelInput, channel_digest
from sagebox.experiments.runs import (
    ARN_TAG,
    TRIAL_TAG,
    find_run,
    log_training_job,
    parent_run,
    runs_for_job,
    try_log_training_job,
)
from sagebox.experiments.store import artifact_root, open_client, store_lock, tracking_uri

__all__ = [
    "ARN_TAG",
    "TRIAL_TAG",
    "ChannelDigest",
    "ChannelInput",
    "Comparison",
    "ExperimentSummary",
    "RunRow",
    "artifact_root",
    "channel_digest",
    "compare_runs",
    "find_run",
    "list_experiments",
    "log_training_job",
    "open_client",
    "parent_run",
    "runs_for_job",
    "store_lock",
    "tracking_uri",
    "try_log_training_job",
]
