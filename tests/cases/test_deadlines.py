"""Stage deadlines: each state runs its stage's limit on the working calendar; yellow when 20 % is left."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from city_gis.cases import deadlines
from city_gis.cases.models import Case, State

TZ = ZoneInfo("Asia/Shanghai")
# Wednesday 2 December 2026, 11:55 — five working minutes before the lunch break (12:00–14:00).
BEFORE_LUNCH = dt.datetime(2026, 12, 2, 11, 55, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _fresh_limits():
    deadlines.clear_cache()
    yield
    deadlines.clear_cache()


def test_set_deadline_turns_yellow_when_a_fifth_of_the_span_is_left():
    case = Case()
    start = dt.datetime(2026, 12, 2, 9, 0, tzinfo=TZ)
    deadlines.set_deadline(case, start, start + dt.timedelta(hours=10))
    assert (case.stage_started_at, case.stage_deadline) == (start, start + dt.timedelta(hours=10))
    assert case.stage_yellow_at == start + dt.timedelta(hours=8)


def test_set_deadline_in_the_past_is_yellow_at_once():
    case = Case()
    start = dt.datetime(2026, 12, 2, 9, 0, tzinfo=TZ)
    deadlines.set_deadline(case, start, start - dt.timedelta(hours=1))
    assert case.stage_yellow_at == case.stage_deadline


@pytest.mark.django_db
def test_registered_case_runs_the_ten_working_minute_dispatch_limit_across_lunch():
    case = Case(state=State.REGISTERED)
    deadlines.start_stage(case, BEFORE_LUNCH)
    assert deadlines.stage_limit("dispatch") == (10.0, "working_minutes")
    # 5 minutes before 12:00, the other 5 after the break at 14:00; yellow after 8 working minutes.
    assert case.stage_deadline == dt.datetime(2026, 12, 2, 14, 5, tzinfo=TZ)
    assert case.stage_yellow_at == dt.datetime(2026, 12, 2, 14, 3, tzinfo=TZ)
    assert case.stage_started_at == BEFORE_LUNCH


@pytest.mark.django_db
def test_verification_runs_thirty_clock_minutes_through_lunch():
    case = Case(state=State.PENDING_VERIFICATION)
    deadlines.start_stage(case, BEFORE_LUNCH)
    assert case.stage_deadline == BEFORE_LUNCH + dt.timedelta(minutes=30)
    assert case.stage_yellow_at == BEFORE_LUNCH + dt.timedelta(minutes=24)


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.CLOSED, State.SUSPENDED, State.REJECTED])
def test_a_state_without_a_stage_clears_the_running_deadline(state):
    case = Case(state=state, stage_started_at=BEFORE_LUNCH, stage_deadline=BEFORE_LUNCH, stage_yellow_at=BEFORE_LUNCH)
    deadlines.start_stage(case, BEFORE_LUNCH)
    assert (case.stage_started_at, case.stage_yellow_at, case.stage_deadline) == (None, None, None)


def test_an_unknown_stage_is_an_error_naming_it(db):
    with pytest.raises(KeyError, match="inspection"):
        deadlines.stage_limit("inspection")
