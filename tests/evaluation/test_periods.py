"""Periods are half-open local-date ranges; bad input names the parameter."""

from __future__ import annotations

import datetime as dt

import pytest

from city_gis.evaluation.periods import PeriodError, parse_period, resolve_period


@pytest.mark.parametrize("text,start,end", [
    ("2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ("2026-Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
    ("2026-W44", dt.date(2026, 10, 26), dt.date(2026, 11, 2)),
    ("2026-10", dt.date(2026, 10, 1), dt.date(2026, 11, 1)),
    ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
    ("2026-10-05", dt.date(2026, 10, 5), dt.date(2026, 10, 6)),
])
def test_period_kinds(text, start, end):
    p = parse_period(text)
    assert (p.start, p.end, p.label) == (start, end, text)
    assert p.start_at.utcoffset() == dt.timedelta(hours=8)


def test_date_range_is_inclusive_of_its_last_day():
    p = resolve_period(start="2026-10-01", end="2026-10-15")
    assert (p.start, p.end, p.days) == (dt.date(2026, 10, 1), dt.date(2026, 10, 16), 15)


@pytest.mark.parametrize("kwargs,field", [
    ({"period": "2026-13"}, "period"), ({"period": "last month"}, "period"),
    ({"start": "2026-10-01"}, "end"), ({"end": "2026-10-01"}, "start"),
    ({"start": "2026-10-31", "end": "2026-10-01"}, "end"), ({"start": "yesterday", "end": "2026-10-01"}, "start"),
    ({"period": "2026-10", "start": "2026-10-01"}, "period"),
])
def test_bad_periods_name_the_parameter(kwargs, field):
    with pytest.raises(PeriodError) as exc:
        resolve_period(**kwargs)
    assert exc.value.field == field
