"""Endpoint metrics with CloudWatch's names, per endpoint and variant, per minute.

Recording is in memory and costs a few microseconds: the router calls
:meth:`MetricsRecorder.invocation` once per request, the endpoint host calls
:meth:`MetricsRecorder.observe` (``ModelSetupTime`` per cold start). A background
thread writes each finished minute to the metadata store, and everything still held at
exit (or on :meth:`MetricsRecorder.flush`), as CloudWatch statistic sets: for each
endpoint ARN, metric name ``<Variant>/<MetricName>:<Statistic>``, one point per minute
(timestamp = the minute's start, UTC) and statistic (``SampleCount``, ``Sum``,
``Minimum``, ``Maximum``). Several processes (the server, an embedded session, the
host) write points for the same minute; :func:`query` merges them, exactly, since
statistic sets add up.

The same recorder keeps cumulative counters and latency histograms of this process for
Prometheus (:meth:`MetricsRecorder.prometheus`, served on the server's ``/metrics``).
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagebox.home import Home
    from sagebox.store.metadata import MetricPoint

__all__ = [
    "METRICS",
    "STATISTICS",
    "Datapoint",
    "MetricsRecorder",
    "query",
    "recorder",
]

log = logging.getLogger("sagebox.serving.metrics")

# CloudWatch's endpoint metrics (namespace AWS/SageMaker) that sagebox records, and units.
METRICS: dict[str, str] = {
    "Invocations": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "InvocationModelErrors": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
    "ModelSetupTime": "Microseconds",
    "ConcurrentRequestsPerModel": "None",
    "ServerlessConcurrentExecutionsUtilization": "None",
}
STATISTICS = ("SampleCount", "Sum", "Minimum", "Maximum")
FLUSH_SECONDS = 5.0
# Prometheus histogram buckets for latencies, in microseconds (100 us .. 60 s).
LATENCY_BUCKETS_US = (
    100.0,
    250.0,
    500.0,
    1_000.0,
    2_500.0,
    5_000.0,
    10_000.0,
    25_000.0,
    50_000.0,
    100_000.0,
    250_000.0,
    500_000.0,
    1_000_000.0,
    2_500_000.0,
    10_000_000.0,
    60_000_000.0,
)


@dataclass(frozen=True)
class Datapoint:
    """One metric of one variant over one minute: a CloudWatch statistic set."""

    timestamp: datetime
    variant: str
    metric: str
    sample_count: float
    sum: float
    minimum: float
    maximum: float

    @property
    def average(self) -> float:
        return self.sum / self.sample_count if self.sample_count else math.nan

    @property
    def unit(self) -> str:
        return METRICS.get(self.metric, "None")

    def statistic(self, name: str) -> float:
        """``Average``, ``Sum``, ``SampleCount``, ``Minimum`` or ``Maximum``."""
        return {
            "Average": self.average,
            "Sum": self.sum,
            "SampleCount": self.sample_count,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }[name]


class _Set:
    """A statistic set being accumulated."""

    __slots__ = ("count", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value


class _Histogram:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS_US) + 1)
        self.count = 0
        self.total = 0.0

    def add(self, value: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS_US, value)] += 1
        self.count += 1
        self.total += value


class _Totals:
    """Cumulative figures of one endpoint variant in this process, for Prometheus."""

    __slots__ = ("errors4xx", "errors5xx", "in_flight", "invocations", "model", "overhead", "setup")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors4xx = 0
        self.errors5xx = 0
        self.in_flight = 0
        self.model = _Histogram()
        self.overhead = _Histogram()
        self.setup = _Histogram()


# (endpoint ARN, variant, metric, minute start in epoch seconds)
_Key = tuple[str, str, str, int]


class MetricsRecorder:
    """In-memory per-minute statistic sets, written to the metadata store in the
    background. Thread-safe; one per process and home (:func:`recorder`)."""

    def __init__(
        self,
        home: Home,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._home = home
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._sets: dict[_Key, _Set] = {}
        self._totals: dict[tuple[str, str], _Totals] = {}
        self._names: dict[str, str] = {}  # endpoint ARN -> endpoint name, for Prometheus
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flushing = threading.Lock()

    # ---- recording (hot path) -----------------------------------------------------
    def _add(self, arn: str, variant: str, metric: str, value: float, minute: int) -> None:
        key = (arn, variant, metric, minute)
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = _Set()
        found.add(value)

    def _total(self, arn: str, variant: str) -> _Totals:
        totals = self._totals.get((arn, variant))
        if totals is None:
            totals = self._totals[(arn, variant)] = _Totals()
        return totals

    def begin(self, endpoint: str, arn: str, variant: str) -> int:
        """A request is going to the variant's model: the concurrency it now has."""
        with self._lock:
            self._names.setdefault(arn, endpoint)
            totals = self._total(arn, variant)
            totals.in_flight += 1
            return totals.in_flight

    def abandon(self, arn: str, variant: str) -> None:
        """Undo :meth:`begin` for a request that reached no worker."""
        with self._lock:
            self._total(arn, variant).in_flight -= 1

    def invocation(
        self,
        arn: str,
        variant: str,
        *,
        status: int,
        model_us: float | None,
        overhead_us: float,
        concurrency: int,
        max_concurrency: int | None = None,
    ) -> None:
        """One finished invocation of a variant (ends what :meth:`begin` started).

        ``status`` is the model's HTTP status (0 when it did not answer in time): 4xx and
        5xx count as ``Invocation4XXErrors`` / ``Invocation5XXErrors`` (1 per request,
        else 0, so their Average is the error rate) and, with no answer at all, as
        ``InvocationModelErrors``. ``max_concurrency`` marks a serverless variant.
        """
        self._start()
        minute = int(self._clock()) // 60 * 60
        error4 = 1.0 if 400 <= status < 500 else 0.0
        error5 = 1.0 if status >= 500 or status == 0 else 0.0
        with self._lock:
            add = self._add
            add(arn, variant, "Invocations", 1.0, minute)
            add(arn, variant, "Invocation4XXErrors", error4, minute)
            add(arn, variant, "Invocation5XXErrors", error5, minute)
            add(arn, variant, "InvocationModelErrors", 0.0 if status == 200 else 1.0, minute)
            add(arn, variant, "OverheadLatency", overhead_us, minute)
            if max_concurrency:
                add(
                    arn,
                    variant,
                    "ServerlessConcurrentExecutionsUtilization",
                    concurrency / max_concurrency,
                    minute,
                )
            else:
                add(arn, variant, "ConcurrentRequestsPerModel", float(concurrency), minute)
            totals = self._total(arn, variant)
            totals.in_flight -= 1
            totals.invocations += 1
            totals.errors4xx += int(error4)
            totals.errors5xx += int(error5)
            totals.overhead.add(overhead_us)
            if model_us is not None:
                add(arn, variant, "ModelLatency", model_us, minute)
                totals.model.add(model_us)

    def observe(self, arn: str, variant: str, metric: str, value: float) -> None:
        """Any other metric of a variant, e.g. ``ModelSetupTime`` (microseconds)."""
        if metric not in METRICS:
            raise ValueError(f"Unknown endpoint metric {metric!r}; use one of {list(METRICS)}.")
        self._start()
        with self._lock:
            self._add(arn, variant, metric, float(value), int(self._clock()) // 60 * 60)
            if metric == "ModelSetupTime":
                self._total(arn, variant).setup.add(float(value))

    # ---- flushing -------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._flushing:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="sagebox-metrics", daemon=True)
            self._thread = thread
            thread.start()
            _at_exit(self)

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush(current=False)
            except Exception:  # never kill the thread: the next flush retries
                log.exception("writing endpoint metrics failed")

    def flush(self, *, current: bool = True) -> None:
        """Write what is held: finished minutes, and the current one when ``current``."""
        now_minute = int(self._clock()) // 60 * 60
        with self._lock:
            keys = [k for k in self._sets if current or k[3] < now_minute]
            taken = {k: self._sets.pop(k) for k in keys}
        if not taken:
            return
        by_arn: dict[str, list[MetricPoint]] = {}
        for (arn, variant, metric, minute), stats in taken.items():
            by_arn.setdefault(arn, []).extend(_points(variant, metric, minute, stats))
        from sagebox.errors import ResourceNotFound

        with self._flushing:
            for arn, points in by_arn.items():
                # an endpoint deleted meanwhile takes its metrics with it
                with contextlib.suppress(ResourceNotFound):
                    self._home.metadata.put_metrics(arn, points)

    def close(self) -> None:
        self._stop.set()
        self.flush()

    # ---- Prometheus -------------------------------------------------------------------
    def prometheus(self) -> str:
        """This process's cumulative figures in Prometheus' text exposition format."""
        with self._lock:
            rows = [
                (self._names.get(arn, arn.rsplit("/", 1)[-1]), variant, _copy(totals))
                for (arn, variant), totals in sorted(self._totals.items())
            ]
        return _exposition(rows)


def _copy(totals: _Totals) -> _Totals:
    copy = _Totals()
    copy.invocations, copy.errors4xx, copy.errors5xx = (
        totals.invocations,
        totals.errors4xx,
        totals.errors5xx,
    )
    copy.in_flight = totals.in_flight
    for name in ("model", "overhead", "setup"):
        source, target = getattr(totals, name), getattr(copy, name)
        target.buckets, target.count, target.total = (
            list(source.buckets),
            source.count,
            source.total,
        )
    return copy


def _points(variant: str, metric: str, minute: int, stats: _Set) -> list[MetricPoint]:
    from sagebox.store.metadata import MetricPoint

    when = datetime.fromtimestamp(minute, UTC)
    values = (float(stats.count), stats.total, stats.minimum, stats.maximum)
    return [
        MetricPoint(f"{variant}/{metric}:{statistic}", value, when)
        for statistic, value in zip(STATISTICS, values, strict=True)
    ]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _exposition(rows: Iterable[tuple[str, str, _Totals]]) -> str:
    counters = (
        ("sagebox_invocations_total", "InvokeEndpoint requests sent to a variant.", "invocations"),
        (
            "sagebox_invocation_4xx_errors_total",
            "Invocations answered with a 4xx status (model errors, throttling).",
            "errors4xx",
        ),
        (
            "sagebox_invocation_5xx_errors_total",
            "Invocations answered with a 5xx status or not in time.",
            "errors5xx",
        ),
    )
    histograms = (
        ("sagebox_model_latency_microseconds", "ModelLatency: time in the model.", "model"),
        (
            "sagebox_overhead_latency_microseconds",
            "OverheadLatency: request time outside the model.",
            "overhead",
        ),
        (
            "sagebox_model_setup_time_microseconds",
            "ModelSetupTime: cold start of a serverless worker.",
            "setup",
        ),
    )
    rows = list(rows)
    lines: list[str] = []
    for name, help_text, attribute in counters:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        for endpoint, variant, totals in rows:
            labels = f'endpoint="{_label(endpoint)}",variant="{_label(variant)}"'
            lines.append(f"{name}{{{labels}}} {getattr(totals, attribute)}")
    name = "sagebox_concurrent_requests"
    lines += [f"# HELP {name} Requests in flight to a variant now.", f"# TYPE {name} gauge"]
    for endpoint, variant, totals in rows:
        labels = f'endpoint="{_label(endpoint)}",variant="{_label(variant)}"'
        lines.append(f"{name}{{{labels}}} {totals.in_flight}")
    for name, help_text, attribute in histograms:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for endpoint, variant, totals in rows:
            histogram: _Histogram = getattr(totals, attribute)
            labels = f'endpoint="{_label(endpoint)}",variant="{_label(variant)}"'
            cumulative = 0
            for bound, count in zip(
                (*LATENCY_BUCKETS_US, math.inf), histogram.buckets, strict=True
            ):
                cumulative += count
                le = "+Inf" if bound == math.inf else f"{bound:g}"
                lines.append(f'{name}_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f"{name}_sum{{{labels}}} {histogram.total:g}")
            lines.append(f"{name}_count{{{labels}}} {histogram.count}")
    return "\n".join(lines) + "\n"


# ---- one recorder per process and home ----------------------------------------------

_recorders: dict[Path, MetricsRecorder] = {}
_recorders_lock = threading.Lock()


def recorder(home: Home) -> MetricsRecorder:
    """This process's recorder for ``home`` (made on first use)."""
    found = _recorders.get(home.path)
    if found is not None:
        return found
    with _recorders_lock:
        found = _recorders.get(home.path)
        if found is None:
            found = _recorders[home.path] = MetricsRecorder(home)
        return found


_open: weakref.WeakSet[MetricsRecorder] = weakref.WeakSet()


def _at_exit(instance: MetricsRecorder) -> None:
    """Flush ``instance`` when the process exits (its thread is a daemon)."""
    with _recorders_lock:
        if not _open_registered:
            atexit.register(_flush_all)
            _open_registered.append(True)
        _open.add(instance)


_open_registered: list[bool] = []


def _flush_all() -> None:
    for instance in list(_open):
        try:
            instance.close()
        except Exception:  # at exit: a store already gone is nothing to report
            log.debug("final metrics flush failed", exc_info=True)


# ---- reading --------------------------------------------------------------------------


def query(
    home: Home,
    endpoint_arn: str,
    *,
    variant: str | None = None,
    metric: str | None = None,
    since: datetime | None = None,
) -> list[Datapoint]:
    """The per-minute statistic sets of an endpoint, merged across writers, in time order.

    ``ResourceNotFound`` when the store has no resource with ``endpoint_arn``.
    """
    merged: dict[tuple[datetime, str, str], list[float]] = {}
    for point in home.metadata.get_metrics(endpoint_arn):
        head, _, statistic = point.name.rpartition(":")
        point_variant, _, point_metric = head.partition("/")
        if statistic not in STATISTICS or not point_metric:
            continue
        if (variant and point_variant != variant) or (metric and point_metric != metric):
            continue
        when = point.timestamp if point.timestamp.tzinfo else point.timestamp.replace(tzinfo=UTC)
        if since is not None and when < since:
            continue
        stats = merged.setdefault(
            (when, point_variant, point_metric), [0.0, 0.0, math.inf, -math.inf]
        )
        index = STATISTICS.index(statistic)
        if index < 2:
            stats[index] += point.value
        elif index == 2:
            stats[2] = min(stats[2], point.value)
        else:
            stats[3] = max(stats[3], point.value)
    return [
        Datapoint(when, v, m, *values)
        for (when, v, m), values in sorted(merged.items(), key=lambda item: item[0])
    ]
