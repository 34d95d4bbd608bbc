"""Working time on the Chinese working calendar (holidays and worked weekend days from `chinesecalendar`).

Working hours come from `settings.CITYGIS_WORKING_HOURS` ("08:30-12:00,14:00-17:30" by default).
Units of a time limit:
  minutes, hours             — natural (clock) time;
  working_minutes, working_hours — time counted only inside working hours on working days;
  working_days               — N × the length of one working day, counted in working time.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings

UNITS = ("minutes", "hours", "working_minutes", "working_hours", "working_days")


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@lru_cache(maxsize=8)
def _parse_hours(spec: str) -> tuple[tuple[dt.time, dt.time], ...]:
    periods = []
    for part in spec.split(","):
        start, end = (dt.time.fromisoformat(x.strip()) for x in part.split("-"))
        if end <= start:
            raise ValueError(f"CITYGIS_WORKING_HOURS: period {part!r} ends before it starts")
        periods.append((start, end))
    return tuple(sorted(periods))


def working_periods() -> tuple[tuple[dt.time, dt.time], ...]:
    """The configured daily working periods."""
    return _parse_hours(settings.CITYGIS_WORKING_HOURS)


def day_minutes() -> float:
    """Length of one working day in minutes (420 with the default hours)."""
    return sum(
        (dt.datetime.combine(dt.date.min, e) - dt.datetime.combine(dt.date.min, s)).total_seconds() / 60
        for s, e in working_periods()
    )


@lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> bool:
    """True on Chinese working days (worked weekend days included, public holidays excluded)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # year not covered by the package: plain Monday–Friday
        return day.weekday() < 5


def _periods_on(day: dt.date, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    if not is_workday(day):
        return []
    return [(dt.datetime.combine(day, s, tz), dt.datetime.combine(day, e, tz)) for s, e in working_periods()]


def add_working_minutes(start: dt.datetime, minutes: float) -> dt.datetime:
    """The moment `minutes` of working time after `start` (aware datetime in, aware datetime out)."""
    tz = _tz()
    cur = start.astimezone(tz)
    remaining = dt.timedelta(minutes=minutes)
    day = cur.date()
    for _ in range(3660):  # ten years of calendar days is a safe bound
        for p_start, p_end in _periods_on(day, tz):
            if cur >= p_end:
                continue
            begin = max(cur, p_start)
            if begin + remaining <= p_end:
                return begin + remaining
            remaining -= p_end - begin
            cur = p_end
        day += dt.timedelta(days=1)
        cur = max(cur, dt.datetime.combine(day, dt.time.min, tz))
    raise ValueError("working-time limit too large")


def working_minutes_between(start: dt.datetime, end: dt.datetime) -> float:
    """Working minutes from `start` to `end` (0 if end <= start)."""
    if end <= start:
        return 0.0
    tz = _tz()
    start, end = start.astimezone(tz), end.astimezone(tz)
    total = dt.timedelta()
    day = start.date()
    while day <= end.date():
        for p_start, p_end in _periods_on(day, tz):
            lo, hi = max(start, p_start), min(end, p_end)
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds() / 60


def to_minutes(limit: float, unit: str) -> tuple[float, bool]:
    """(minutes, counted in working time?) of a limit in `unit`."""
    if unit == "minutes":
        return float(limit), False
    if unit == "hours":
        return float(limit) * 60, False
    if unit == "working_minutes":
        return float(limit), True
    if unit == "working_hours":
        return float(limit) * 60, True
    if unit == "working_days":
        return float(limit) * day_minutes(), True
    raise ValueError(f"unknown time-limit unit {unit!r}; expected one of {', '.join(UNITS)}")


def add_limit(start: dt.datetime, limit: float, unit: str) -> dt.datetime:
    """Deadline of a limit (`limit` `unit`) starting at `start`."""
    minutes, working = to_minutes(limit, unit)
    if working:
        return add_working_minutes(start, minutes)
    return start + dt.timedelta(minutes=minutes)


def deadline_and_yellow(start: dt.datetime, limit: float, unit: str, yellow_share: float = 0.2) -> tuple[dt.datetime, dt.datetime]:
    """(deadline, moment the light turns yellow = when less than `yellow_share` of the limit is left)."""
    minutes, working = to_minutes(limit, unit)
    if working:
        return add_working_minutes(start, minutes), add_working_minutes(start, minutes * (1 - yellow_share))
    return start + dt.timedelta(minutes=minutes), start + dt.timedelta(minutes=minutes * (1 - yellow_share))
