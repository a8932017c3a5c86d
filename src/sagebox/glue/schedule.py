"""Crawler schedules: AWS cron expressions, checked as Glue checks them.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, six fields, each a value,
a range ``a-b``, a list ``a,b``, ``*``, or a step ``a/n``; ``?`` in exactly one of the two
day fields, ``L``/``W`` in day-of-month, ``L``/``#`` in day-of-week, month and weekday
names (``JAN``, ``MON``). For example ``cron(15 12 * * ? *)`` is every day at 12:15 UTC.
``next_fire_time`` answers when an expression next fires; the Glue scheduler
(``sagebox.glue.scheduler``) uses it to start crawlers while ``sagebox server`` runs.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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


# ---- firing --------------------------------------------------------------------------
# How far ahead next_fire_time looks before it answers None (about five years).
_HORIZON_DAYS = 5 * 366


@dataclass(frozen=True)
class _Cron:
    """A parsed expression: plain fields as sets, the day fields as their items."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: tuple[str, ...]  # () when '?'
    day_of_week: tuple[str, ...]  # () when '?'


def _expand(item: str, index: int) -> set[int]:
    """The values one list item of a field stands for (``*``, ``a``, ``a-b``, with ``/n``)."""
    _, low, high, names = _FIELDS[index]
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text else 1
    bounds = [low, high] if base in ("*", "?") else base.split("-")
    # validate_schedule has checked every bound, so _value finds each one.
    first, last = (_known(_value(str(b), low, high, names)) for b in (bounds[0], bounds[-1]))
    if len(bounds) == 1 and step_text:  # a/n runs from a to the field's end
        last = high
    if first <= last:
        return set(range(first, last + 1, step))
    # A range that wraps, e.g. FRI-MON or 22-2: from first up to high, then low up to last.
    span = list(range(first, high + 1)) + list(range(low, last + 1))
    return set(span[::step])


def _known(value: int | None) -> int:
    if value is None:  # unreachable after validate_schedule
        raise ValueError("a cron field value was not checked before use")
    return value


def _plain(text: str, index: int) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _expand(item, index)
    return values


def _parse(expression: str) -> _Cron:
    fields = validate_schedule(expression)[len("cron(") : -1].split()
    dom, dow = fields[2], fields[4]
    return _Cron(
        minutes=tuple(sorted(_plain(fields[0], 0))),
        hours=tuple(sorted(_plain(fields[1], 1))),
        months=frozenset(_plain(fields[3], 3)),
        years=frozenset(_plain(fields[5], 5)),
        day_of_month=() if dom == "?" else tuple(i.upper() for i in dom.split(",")),
        day_of_week=() if dow == "?" else tuple(i.upper() for i in dow.split(",")),
    )


def _aws_weekday(day: date) -> int:
    """1 (SUN) to 7 (SAT), as AWS numbers days of the week."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, wanted: int) -> int | None:
    """``nW``: the weekday nearest day ``wanted``, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if wanted > last:
        return None
    weekday = date(year, month, wanted).weekday()  # Monday 0 .. Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd if it is the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before if it ends the month
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _month_day_matches(item: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    base = item.partition("/")[0]
    if base == "L":
        return day.day == last
    if base == "LW":
        return day.day == _nearest_weekday(day.year, day.month, last)
    if base.startswith("L-"):
        return day.day == last - int(base[2:])
    if base.endswith("W"):
        return day.day == _nearest_weekday(day.year, day.month, int(base[:-1]))
    return day.day in _expand(item, 2)


def _week_day_matches(item: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    base = item.partition("/")[0]
    if base == "L":  # the last day of the week: Saturday
        return weekday == 7
    if "#" in base:  # n#k: the k-th such weekday of the month
        name, _, nth = base.partition("#")
        return weekday == _value(name, 1, 7, _DAYS) and (day.day - 1) // 7 + 1 == int(nth)
    if base.endswith("L"):  # nL: the last such weekday of the month
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == _value(base[:-1], 1, 7, _DAYS) and day.day + 7 > last
    return weekday in _expand(item, 4)


def _day_matches(cron: _Cron, day: date) -> bool:
    if day.year not in cron.years or day.month not in cron.months:
        return False
    if cron.day_of_month:
        return any(_month_day_matches(item, day) for item in cron.day_of_month)
    return any(_week_day_matches(item, day) for item in cron.day_of_week)


def next_fire_time(expression: str, after: datetime) -> datetime | None:
    """The first minute strictly after ``after`` that ``expression`` matches, in UTC.

    A naive ``after`` is read as UTC; the answer is always timezone-aware UTC. None when
    nothing matches within about five years (e.g. ``cron(0 0 1 1 ? 2020)`` after 2020).
    """
    cron = _parse(expression)
    if after.tzinfo is not None:
        after = after.astimezone(UTC).replace(tzinfo=None)
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.date()
    for _ in range(_HORIZON_DAYS):
        if day.year > _FIELDS[5][2]:
            return None
        if _day_matches(cron, day):
            earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
            for hour in cron.hours:
                for minute in cron.minutes:
                    if (hour, minute) >= earliest:
                        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        day += timedelta(days=1)
    return None
