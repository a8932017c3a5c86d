"""Crawler schedules: AWS cron expressions, checked as Glue checks them.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, six fields, each a value,
a range ``a-b``, a list ``a,b``, ``*``, or a step ``a/n``; ``?`` in exactly one of the two
day fields, ``L``/``W`` in day-of-month, ``L``/``#`` in day-of-week, month and weekday
names (``JAN``, ``MON``). For example ``cron(15 12 * * ? *)`` is every day at 12:15 UTC.
"""

from __future__ import annotations

import re

from sagebox.glue.errors import InvalidInput

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# name, low, high, names
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("Minutes", 0, 59, []),
    ("Hours", 0, 23, []),
    ("Day-of-month", 1, 31, []),
    ("Month", 1, 12, _MONTHS),
    ("Day-of-week", 1, 7, _DAYS),
    ("Year", 1970, 2199, []),
)
_EXAMPLE = "cron(15 12 * * ? *) (every day at 12:15 UTC)"


def _error(expression: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"The Schedule {expression!r} is not a valid cron expression: {why}. Use "
        f"cron(Minutes Hours Day-of-month Month Day-of-week Year), e.g. {_EXAMPLE}."
    )


def _value(text: str, low: int, high: int, names: list[str]) -> int | None:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + 1
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def _check_field(expression: str, index: int, text: str) -> None:
    name, low, high, names = _FIELDS[index]
    for item in text.split(","):
        base, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            raise _error(expression, f"{name} step {step!r} must be a positive number")
        if base == "*" or (base == "?" and index in (2, 4)):
            continue
        if index == 2 and re.fullmatch(r"L|LW|\d{1,2}W|L-\d{1,2}", base):
            continue
        if index == 4 and re.fullmatch(r"(\d|[A-Za-z]{3})(L|#[1-5])|L", base):
            continue
        bounds = base.split("-") if base.count("-") == 1 else [base]
        if not all(_value(b, low, high, names) is not None for b in bounds):
            raise _error(
                expression,
                f"{name} {item!r} must be within {low}-{high}{' or a name' * bool(names)}",
            )


def validate_schedule(expression: str) -> str:
    """``expression`` when it is a valid AWS cron expression; InvalidInput otherwise."""
    match = re.fullmatch(r"\s*cron\((.*)\)\s*", expression)
    if match is None:
        raise _error(expression, "it must be written cron(...)")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise _error(expression, f"it has {len(fields)} fields, not 6")
    for index, text in enumerate(fields):
        _check_field(expression, index, text)
    if (fields[2] == "?") == (fields[4] == "?"):
        raise _error(expression, "exactly one of Day-of-month and Day-of-week must be '?'")
    return expression.strip()
