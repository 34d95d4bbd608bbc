"""Working-time arithmetic on the Chinese calendar: holidays are skipped, adjusted weekend days are worked."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from city_gis.cases import calendar

TZ = ZoneInfo("Asia/Shanghai")


def t(*args):
    return dt.datetime(*args, tzinfo=TZ)


def test_working_minutes_stop_at_lunch_and_evening():
    assert calendar.add_working_minutes(t(2026, 11, 24, 11, 50), 20) == t(2026, 11, 24, 14, 10)
    assert calendar.add_working_minutes(t(2026, 11, 24, 17, 25), 10) == t(2026, 11, 25, 8, 35)
    assert calendar.add_working_minutes(t(2026, 11, 24, 20, 0), 10) == t(2026, 11, 25, 8, 40)


def test_national_day_holiday_is_skipped_and_the_adjusted_saturday_is_worked():
    # 2026-09-30 (Wed) is the last working day before 国庆 (10-01 … 10-07 off); Sat 10-10 is a worked day.
    assert not calendar.is_workday(dt.date(2026, 10, 1))
    assert calendar.is_workday(dt.date(2026, 10, 10))
    # 1 working day from Wed 09-30 16:00 → Thu 10-08 16:00, the first working day after the holiday.
    assert calendar.add_limit(t(2026, 9, 30, 16, 0), 1, "working_days") == t(2026, 10, 8, 16, 0)
    # From Fri 10-09 16:00, one working day lands on the worked Saturday 10-10.
    assert calendar.add_limit(t(2026, 10, 9, 16, 0), 1, "working_days") == t(2026, 10, 10, 16, 0)
    # 5 working hours from Fri 10-09 15:00 → 2.5 h that day, 2.5 h on Saturday morning.
    assert calendar.add_limit(t(2026, 10, 9, 15, 0), 5, "working_hours") == t(2026, 10, 10, 11, 0)


def test_spring_festival_2026_and_its_worked_saturdays():
    assert calendar.is_workday(dt.date(2026, 2, 14))  # Saturday worked before 春节
    assert not calendar.is_workday(dt.date(2026, 2, 16))
    # Sat 02-14 17:00 + 1 working hour → 0.5 h that day, then the holiday until Tue 02-24.
    assert calendar.add_limit(t(2026, 2, 14, 17, 0), 1, "working_hours") == t(2026, 2, 24, 9, 0)


def test_clock_units_ignore_the_calendar():
    assert calendar.add_limit(t(2026, 10, 1, 23, 0), 2, "hours") == t(2026, 10, 2, 1, 0)
    assert calendar.add_limit(t(2026, 10, 1, 23, 0), 30, "minutes") == t(2026, 10, 1, 23, 30)


def test_working_minutes_between_inverts_adding():
    start = t(2026, 9, 30, 10, 0)
    end = calendar.add_limit(start, 3, "working_days")
    assert calendar.working_minutes_between(start, end) == pytest.approx(3 * 420)
    assert calendar.working_minutes_between(end, start) == 0


def test_yellow_when_less_than_a_fifth_is_left():
    deadline, yellow = calendar.deadline_and_yellow(t(2026, 11, 24, 9, 0), 5, "working_hours")
    assert deadline == t(2026, 11, 24, 16, 0)
    assert yellow == t(2026, 11, 24, 15, 0)  # 4 of 5 working hours used


def test_working_hours_are_configuration(settings):
    settings.CITYGIS_WORKING_HOURS = "09:00-17:00"
    assert calendar.day_minutes() == 480
    assert calendar.add_working_minutes(t(2026, 11, 24, 16, 30), 60) == t(2026, 11, 25, 9, 30)


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        calendar.add_limit(t(2026, 11, 24, 9, 0), 1, "fortnights")
