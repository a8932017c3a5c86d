"""The tuning report's charts, as base64 PNGs drawn with matplotlib from a TuningReport.

Figures are ``matplotlib.figure.Figure`` objects rendered by Agg, never pyplot, so the
caller's pyplot state and backend are left alone (as in ``sagebox.evaluation.plots``).
Each function returns None when there is nothing to draw.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

from sagebox.tuning._base import ParameterRange
from sagebox.tuning.analysis import TrialRow, TuningReport
from sagebox.tuning.ranges import effective_scaling, from_unit, parse_value, to_unit

# status -> (legend label, colour, marker)
KINDS: dict[str, tuple[str, str, str]] = {
    "Completed": ("completed", "#2f6fa8", "o"),
    "StoppedEarly": ("stopped early", "#c0392b", "v"),
    "Stopped": ("stopped", "#d9822b", "s"),
    "Failed": ("failed (no objective)", "#7b8794", "X"),
    "InProgress": ("running", "#9aa5b1", "o"),
}
BEST = "#27ae60"


def _figure(width: float = 5.6, height: float = 3.9) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.subplots()


def png(figure: Any) -> str:
    """The figure as a base64 PNG (for a ``data:image/png;base64,`` URI)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _kind(trial: TrialRow) -> str:
    if trial.status in ("InProgress", "Stopping"):
        return "InProgress"
    if trial.objective is None:
        return "Failed"
    if trial.stopped_early:
        return "StoppedEarly"
    return "Stopped" if trial.status == "Stopped" else "Completed"


def _style(axes: Any, title: str, xlabel: str, ylabel: str) -> None:
    axes.set_title(title, fontsize=11)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)


def _trial_axis(axes: Any, report: TuningReport) -> None:
    """Every trial's number on the x axis, in whole numbers."""
    from matplotlib.ticker import MaxNLocator

    numbers = [t.number for t in report.trials]
    axes.set_xlim(min(numbers) - 0.6, max(numbers) + 0.6)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finite(trials: Sequence[TrialRow]) -> list[TrialRow]:
    return [t for t in trials if t.objective is not None and math.isfinite(t.objective)]


def objective_by_trial(report: TuningReport) -> str | None:
    """Each trial's objective against its number, coloured by how it ended; the best starred.
    Trials without an objective are crosses along the bottom edge."""
    if not report.trials:
        return None
    figure, axes = _figure()
    for kind, (label, colour, marker) in KINDS.items():
        group = [t for t in report.trials if _kind(t) == kind]
        if not group:
            continue
        if kind == "Failed" or (kind == "InProgress" and all(t.objective is None for t in group)):
            axes.scatter(
                [t.number for t in group],
                [0.03] * len(group),
                transform=axes.get_xaxis_transform(),
                color=colour,
                marker=marker,
                s=50,
                label=label,
                zorder=3,
            )
            continue
        shown = _finite(group)
        axes.scatter(
            [t.number for t in shown],
            [t.objective for t in shown],
            color=colour,
            marker=marker,
            s=42,
            label=label,
            zorder=3,
        )
    best = report.best
    if best is not None and best.objective is not None:
        axes.scatter(
            [best.number],
            [best.objective],
            marker="*",
            s=260,
            facecolor="none",
            edgecolor=BEST,
            linewidths=1.6,
            label=f"best (trial {best.number})",
            zorder=4,
        )
    axes.margins(y=0.1)
    _trial_axis(axes, report)
    _style(axes, "Objective by trial", "trial", report.metric)
    axes.legend(fontsize=8, loc="best")
    return png(figure)


def best_so_far(report: TuningReport) -> str | None:
    """The best objective after each trial (in launch order), over every trial's value."""
    finished = _finite(report.trials)
    if not finished:
        return None
    figure, axes = _figure()
    better = max if report.maximize else min
    xs: list[int] = []
    best: list[float] = []
    for trial in finished:
        assert trial.objective is not None
        xs.append(trial.number)
        best.append(trial.objective if not best else better(best[-1], trial.objective))
    axes.scatter(
        xs, [t.objective for t in finished], color="#9aa5b1", s=20, label="trial", zorder=2
    )
    axes.step(
        xs,
        best,
        where="post",
        color=BEST,
        linewidth=2,
        marker="o",
        markersize=3,
        label="best so far",
        zorder=3,
    )
    axes.margins(y=0.1)
    _trial_axis(axes, report)
    _style(axes, "Best objective so far", "trial", report.metric)
    axes.legend(fontsize=8, loc="best")
    return png(figure)


def importance(report: TuningReport) -> str | None:
    """Horizontal bars: each hyperparameter's share of the objective's variance."""
    found = [i for i in report.importances if i.values]
    if not found:
        return None
    bars = [
        (f"{name} ({i.definition})" if i.definition else name, value)
        for i in found
        for name, value in i.values.items()
    ]
    bars.reverse()  # largest at the top
    figure, axes = _figure(height=max(2.2, 0.9 + 0.42 * len(bars)))
    axes.barh([b[0] for b in bars], [b[1] for b in bars], color="#2f6fa8")
    for y, (_, value) in enumerate(bars):
        axes.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    axes.set_xlim(0, max(1.0, max(b[1] for b in bars) * 1.15))
    _style(axes, "Parameter importance (fANOVA)", "share of the objective's variance", "")
    axes.grid(alpha=0.3, axis="x")
    axes.grid(False, axis="y")
    return png(figure)


def _unit(r: ParameterRange, text: str) -> float | None:
    """Where a value sits on its axis, 0 to 1, on the range's scale."""
    if r.kind == "Categorical":
        if text not in r.values:
            return None
        return r.values.index(text) / max(1, len(r.values) - 1)
    try:
        value = parse_value(r, text)
    except Exception:
        return None
    assert not isinstance(value, str)
    try:
        return min(1.0, max(0.0, to_unit(r, float(value))))
    except ValueError:  # a log of a value outside the range
        return None


def _ticks(r: ParameterRange) -> list[tuple[float, str]]:
    if r.kind == "Categorical":
        return [(_unit(r, v) or 0.0, v if len(v) <= 12 else v[:11] + "…") for v in r.values]
    quarters = (0.0, 0.25, 0.5, 0.75, 1.0)
    if r.kind == "Integer":  # each integer once, at its own place on the axis
        assert r.min_value is not None and r.max_value is not None
        low, high = int(r.min_value), int(r.max_value)
        whole = (
            range(low, high + 1) if high - low <= 6 else {int(from_unit(r, u)) for u in quarters}
        )
        return [(to_unit(r, v), str(v)) for v in sorted(whole)]
    return [(u, f"{from_unit(r, u):.3g}") for u in quarters]


def parallel_coordinates(report: TuningReport, definition: str) -> str | None:
    """One line per trial across the tuned hyperparameters' axes (each on its search
    scale: log where the range is Logarithmic) to the objective, coloured by objective."""
    ranges = list(report.ranges.get(definition, ()))
    trials = [t for t in _finite(report.trials) if t.definition == definition]
    if not ranges or not trials:
        return None
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    values = [t.objective for t in trials if t.objective is not None]
    low, high = min(values), max(values)
    norm = Normalize(low, high if high > low else low + 1)
    cmap = colormaps["viridis" if report.maximize else "viridis_r"]  # bright = better
    axes_count = len(ranges) + 1
    figure, axes = _figure(width=max(5.6, 1.25 * axes_count + 2.4), height=4.2)
    for trial in sorted(trials, key=lambda t: (t.objective or 0) * (1 if report.maximize else -1)):
        assert trial.objective is not None
        ys = [_unit(r, trial.hyperparameters.get(r.name, "")) for r in ranges]
        ys.append(norm(trial.objective) if high > low else 0.5)
        points = [(x, y) for x, y in enumerate(ys) if y is not None]
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=cmap(norm(trial.objective)),
            linewidth=2.6 if trial.name == report.best_name else 1.3,
            alpha=0.9,
            marker="o",
            markersize=3,
            zorder=2,
        )
    label_style = {
        "fontsize": 7,
        "va": "center",
        "color": "#1f2933",
        "zorder": 5,
        "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    }
    for x, r in enumerate(ranges):
        axes.axvline(x, color="#52606d", linewidth=0.8, zorder=1)
        for u, label in _ticks(r):
            axes.text(x + 0.04, u, label, **label_style)
    axes.axvline(len(ranges), color="#52606d", linewidth=0.8, zorder=1)
    for u in (0.0, 0.5, 1.0) if high > low else (0.5,):
        shown = low + u * (high - low)
        axes.text(len(ranges) + 0.04, u, f"{shown:.4g}", **label_style)
    names = [_axis_label(r) for r in ranges] + [report.metric]
    axes.set_xticks(range(axes_count), names, fontsize=8)
    axes.set_xlim(-0.2, axes_count - 0.5)
    axes.set_ylim(-0.05, 1.05)
    axes.set_yticks([])
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    if high > low:  # one value needs no scale
        from matplotlib.cm import ScalarMappable

        bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, pad=0.01)
        bar.set_label(report.metric, fontsize=8)
    title = "Parallel coordinates" + (f" ({definition})" if definition else "")
    axes.set_title(title, fontsize=11)
    return png(figure)


def _axis_label(r: ParameterRange) -> str:
    scaling = effective_scaling(r)
    if scaling == "Logarithmic":
        return f"{r.name}\n(log)"
    if scaling == "ReverseLogarithmic":
        return f"{r.name}\n(reverse log)"
    return r.name


def curves(report: TuningReport) -> str | None:
    """Every trial's objective metric as it was emitted (one value per epoch or round);
    trials stopped early in red, the best in green."""
    drawn = [t for t in report.trials if t.curve]
    if not drawn:
        return None
    figure, axes = _figure()
    seen: set[str] = set()
    for trial in sorted(drawn, key=lambda t: (t.name == report.best_name, t.stopped_early)):
        if trial.name == report.best_name:
            colour, width, label = BEST, 2.4, f"best (trial {trial.number})"
        elif trial.stopped_early:
            colour, width, label = KINDS["StoppedEarly"][1], 1.8, "stopped early"
        else:
            colour, width, label = "#7b8794", 1.1, "other trials"
        steps = range(1, len(trial.curve) + 1)
        axes.plot(
            steps,
            trial.curve,
            color=colour,
            linewidth=width,
            alpha=0.95 if colour != "#7b8794" else 0.6,
            marker="o" if len(trial.curve) <= 30 else None,
            markersize=2.5,
            label=None if label in seen else label,
        )
        if trial.stopped_early:
            axes.plot(len(trial.curve), trial.curve[-1], marker="x", color=colour, markersize=7)
        seen.add(label)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(axes, "Objective while training", "epoch / round (emitted value)", report.metric)
    axes.legend(fontsize=8, loc="best")
    return png(figure)
