"""The dispatch preview shows, for each urgency level, exactly the disposal deadline a real dispatch at the
same moment then sets (both go through city_gis.cases.deadlines.start_stage), and previewing changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

pytestmark = pytest.mark.django_db

# Moments that matter for a working-time calendar (weekday, local time): now, a Saturday night, a Thursday
# just before closing; the fixed ones in the coming week, so they come after every case's trail.
MOMENTS = [None, (5, dt.time(23, 30)), (3, dt.time(17, 55))]


@pytest.fixture
def registered_case(db):
    """A registered case of category 0301 (levels in working days and in clock hours), made by the test: which
    states the demo history leaves open depends on when it was built."""
    from django.contrib.gis.geos import Point

    from city_gis.accounts.models import User
    from city_gis.cases.services import create_case
    from city_gis.cases.workflow import perform
    from city_gis.grid.models import Cell

    spot = Cell.objects.filter(valid_to__isnull=True).order_by("code").first().geom.point_on_surface
    case = create_case(source="inspector", category_code="0301", location=Point(spot.x, spot.y, srid=4490),
                       description="监督员上报：井盖缺失", reporter=User.objects.get(username="inspector1"))
    case = perform(case, "accept", User.objects.get(username="operator"))
    case = perform(case, "register", User.objects.get(username="leader"))
    assert case.state == "registered"
    assert len({(lv["limit"], lv["unit"]) for lv in case.category.urgency_levels}) >= 2
    return case


def _at(moment: tuple[int, dt.time] | None) -> dt.datetime:
    now = timezone.localtime()
    if moment is None:
        return now
    weekday, time = moment
    day = now.date() + dt.timedelta(days=(weekday - now.weekday()) % 7 or 7)
    return timezone.make_aware(dt.datetime.combine(day, time))


def _snapshot(case_pk: int) -> tuple:
    from city_gis.cases.models import Case

    return tuple(Case.objects.filter(pk=case_pk).values_list(
        "state", "urgency", "department_id", "disposal_deadline", "stage_deadline", "stage_yellow_at",
        "updated_at").get())


@pytest.mark.parametrize("moment", MOMENTS, ids=["now", "saturday-night", "before-closing"])
def test_preview_deadline_equals_the_deadline_dispatch_sets(registered_case, moment):
    from city_gis.accounts.models import User
    from city_gis.cases.models import Case
    from city_gis.cases.workflow import perform
    from frontend.dispatch_preview import dispatch_preview

    case = registered_case
    dispatcher = User.objects.get(username="dispatcher")
    at = _at(moment)
    before = _snapshot(case.pk)

    preview = dispatch_preview(case.pk, dispatcher, now=at)

    assert _snapshot(case.pk) == before, "previewing changes nothing"
    assert [lv["code"] for lv in preview["urgency_levels"]] == [lv["code"] for lv in case.category.urgency_levels]
    for level in preview["urgency_levels"]:
        with transaction.atomic():
            dispatched = perform(Case.objects.get(pk=case.pk), "dispatch", dispatcher, at=at, urgency=level["code"],
                                 department=_disposal_department(case))
            assert level["deadline"] == dispatched.disposal_deadline.isoformat(), level["code"]
            assert Case.objects.get(pk=case.pk).disposal_deadline == dispatched.disposal_deadline
            transaction.set_rollback(True)  # the next level dispatches the same registered case again
    assert _snapshot(case.pk) == before


def _disposal_department(case) -> str:
    from city_gis.accounts.models import Department

    dept = case.category.default_department
    if dept is not None and dept.is_disposal_unit:
        return dept.code
    return Department.objects.filter(is_disposal_unit=True).order_by("code").values_list("code", flat=True)[0]


def test_preview_deadlines_differ_by_level_as_the_limits_do(registered_case):
    from city_gis.accounts.models import User
    from frontend.dispatch_preview import dispatch_preview

    case = registered_case
    preview = dispatch_preview(case.pk, User.objects.get(username="dispatcher"), now=timezone.now())
    deadlines = [lv["deadline"] for lv in preview["urgency_levels"]]
    limits = [(lv["limit"], lv["unit"]) for lv in preview["urgency_levels"]]
    assert len(set(deadlines)) == len(set(limits)), "one deadline per distinct limit"
