"""Evaluation periods: day, ISO week, month, quarter, year or an explicit date range, in local time.

A period is half-open [start, end) on local (Asia/Shanghai) midnights, so adjacent periods never overlap.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings


class PeriodError(ValueError):
    """A period string or date range that cannot be understood; `field` names the parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date  # first day
    end: dt.date  # day after the last

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), self.tz)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days


# The period forms parse_period reads, tried in order; the API's OpenAPI `pattern` for period parameters is
# their union (city_gis/evaluation/api.py), so the schema and the parser accept the same strings.
PERIOD_PATTERNS = [
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})-[Qq]([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-[Ww](\d{1,2})$"), "week"),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), "month"),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "day"),
]


# Years a period may fall in: far outside any case history, and far from date.max (9999-12-31), so that
# "day after the last" can always be computed (no OverflowError → 500 on `end=9999-12-31`).
MIN_YEAR, MAX_YEAR = 1900, 2999


def _check_year(year: int, field: str, value: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(field, f"{value!r}: year must be between {MIN_YEAR} and {MAX_YEAR}")


def _month_start(year: int, month: int) -> dt.date:
    return dt.date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(value: str, field: str = "period") -> Period:
    """`2026` year, `2026-Q4` quarter, `2026-W44` ISO week, `2026-10` month, `2026-10-05` day."""
    value = (value or "").strip()
    for pattern, kind in PERIOD_PATTERNS:
        m = pattern.match(value)
        if not m:
            continue
        nums = [int(x) for x in m.groups()]
        _check_year(nums[0], field, value)
        try:
            if kind == "year":
                return Period(value, dt.date(nums[0], 1, 1), dt.date(nums[0] + 1, 1, 1))
            if kind == "quarter":
                start = dt.date(nums[0], 3 * nums[1] - 2, 1)
                return Period(value, start, _month_start(nums[0], 3 * nums[1] + 1))
            if kind == "week":
                start = dt.date.fromisocalendar(nums[0], nums[1], 1)
                return Period(value, start, start + dt.timedelta(days=7))
            if kind == "month":
                start = dt.date(nums[0], nums[1], 1)
                return Period(value, start, _month_start(nums[0], nums[1] + 1))
            day = dt.date(*nums)
            return Period(value, day, day + dt.timedelta(days=1))
        except (ValueError, OverflowError) as exc:
            raise PeriodError(field, f"{value!r} is not a valid {kind}: {exc}") from exc
    raise PeriodError(field, f"{value!r} is not a period (use 2026, 2026-Q4, 2026-W44, 2026-10 or 2026-10-05)")


def parse_date(value: str, field: str) -> dt.date:
    text = (value or "").strip()
    # fromisoformat also takes 20261005 and 2026-W44-1; the API promises YYYY-MM-DD only.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise PeriodError(field, f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise PeriodError(field, f"{value!r} is not a date (YYYY-MM-DD)") from exc
    _check_year(day.year, field, value)
    return day


def date_range(start: str, end: str) -> Period:
    """Inclusive local date range `start`..`end` (both YYYY-MM-DD)."""
    s, e = parse_date(start, "start"), parse_date(end, "end")
    if e < s:
        raise PeriodError("end", f"{end} is before start {start}")
    return Period(f"{s.isoformat()}~{e.isoformat()}", s, e + dt.timedelta(days=1))


def resolve_period(period: str | None = None, start: str | None = None, end: str | None = None) -> Period:
    """A period from either `period` or both `start` and `end`; default: the current month."""
    if period and (start or end):
        raise PeriodError("period", "give either period or start/end, not both")
    if period:
        return parse_period(period)
    if start or end:
        if not start:
            raise PeriodError("start", "required with end")
        if not end:
            raise PeriodError("end", "required with start")
        return date_range(start, end)
    return current_month()


def current_month(today: dt.date | None = None) -> Period:
    from django.utils import timezone

    today = today or timezone.localdate()
    return parse_period(f"{today.year:04d}-{today.month:02d}")
