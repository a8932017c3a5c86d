"""Small inline SVG charts, written by hand: no JavaScript, no external files.

Every label passes through :func:`html.escape`, so column names and values from the data
cannot inject markup into the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

ACCENT = "#3b6ea8"
MUTED = "#9aa5b1"


def sparkline(
    counts: Sequence[float],
    labels: Sequence[str] | None = None,
    *,
    width: int = 140,
    height: int = 30,
    color: str = ACCENT,
) -> str:
    """A bar sparkline of ``counts``; each bar's tooltip shows its label and count."""
    if not counts:
        return ""
    peak = max(counts) or 1
    gap = 1 if len(counts) < width / 3 else 0
    bar = width / len(counts)
    parts = []
    for i, count in enumerate(counts):
        h = 0 if count <= 0 else max(1.0, (height - 1) * count / peak)
        label = labels[i] if labels is not None and i < len(labels) else str(i)
        parts.append(
            f'<rect x="{i * bar:.2f}" y="{height - h:.2f}" width="{max(bar - gap, 0.5):.2f}" '
            f'height="{h:.2f}" fill="{color}"><title>{escape(label)}: {_count(count)}'
            "</title></rect>"
        )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="distribution">{"".join(parts)}'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{MUTED}" '
        'stroke-width="1"/></svg>'
    )


def hbars(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 640,
    label_width: int = 260,
    bar_height: int = 18,
    value_format: str = "{:.3f}",
    color: str = ACCENT,
    maximum: float | None = None,
) -> str:
    """A horizontal bar chart: one labelled bar per ``(label, value)``."""
    if not items:
        return ""
    peak = maximum if maximum is not None else max(v for _, v in items) or 1.0
    room = width - label_width - 70
    row = bar_height + 6
    height = row * len(items) + 4
    parts = []
    for i, (label, value) in enumerate(items):
        y = 2 + i * row
        length = max(0.0, room * value / peak) if peak > 0 else 0.0
        shown = label if len(label) <= 40 else label[:38] + "…"
        text = escape(value_format.format(value))
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height - 5}" text-anchor="end" '
            f'class="lbl">{escape(shown)}<title>{escape(label)}</title></text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.2f}" height="{bar_height}" '
            f'rx="2" fill="{color}"><title>{escape(label)}: {text}</title></rect>'
            f'<text x="{label_width + length + 6:.2f}" y="{y + bar_height - 5}" class="val">'
            f"{text}</text>"
        )
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img">{"".join(parts)}</svg>'
    )


def meter(share: float, *, width: int = 70, color: str = "#d9822b") -> str:
    """A thin bar filled to ``share`` (0..1), e.g. a column's missing share."""
    share = min(max(share, 0.0), 1.0)
    return (
        f'<svg class="meter" width="{width}" height="8" viewBox="0 0 {width} 8" role="img">'
        f'<rect width="{width}" height="8" rx="2" fill="#eef1f4"/>'
        f'<rect width="{width * share:.2f}" height="8" rx="2" fill="{color}"/></svg>'
    )


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"
