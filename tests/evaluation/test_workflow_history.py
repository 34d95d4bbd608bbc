"""The evaluation reads histories written by the real workflow engine (city_gis.cases.workflow), not only the
hand-built rows of conftest.py: one case walked with explicit times in March 2026, a rework included."""

from __future__ import annotations

import datetime as dt

import pytest

from city_gis.evaluation.engine import drilldown, evaluate
from city_gis.evaluation.periods import parse_period

from .conftest import TZ, _user

pytestmark = pytest.mark.django_db


def test_a_case_walked_through_the_engine_is_counted(db):
    from city_gis.cases.models import Category
    from city_gis.cases.services import create_case
    from city_gis.cases.workflow import perform
    from city_gis.grid.models import Cell

    cell = Cell.objects.filter(valid_to__isnull=True).order_by("code").first()
    category = Category.objects.filter(default_department__isnull=False, urgency_levels__0__isnull=False).first()
    assert cell is not None and category is not None, "the test demo city has grid cells and categories"
    dept = category.default_department
    inspector = _user("wf_insp", ["inspector"])
    op, lead, disp = _user("wf_op", ["operator"]), _user("wf_lead", ["leader"]), _user("wf_disp", ["dispatcher"])
    handler = _user("wf_hand", ["handler"], dept.code)
    t = dt.datetime(2026, 3, 10, 9, 0, tzinfo=TZ)  # a Tuesday, working time
    at = lambda minutes: t + dt.timedelta(minutes=minutes)  # noqa: E731
    point = cell.geom.point_on_surface
    case = create_case(source="inspector", category_code=category.code, location=point, description="评价流程测试",
                       reporter=inspector, at=t)
    perform(case, "accept", op, at=at(3))
    perform(case, "register", lead, at=at(6))
    perform(case, "dispatch", disp, at=at(9), department=dept.code)
    perform(case, "dispose", handler, at=at(60), result="已处理")
    perform(case, "check_failed", inspector, at=at(70), reason="未清理干净")
    perform(case, "dispose", handler, at=at(90), result="已再次处理")
    perform(case, "check_passed", inspector, at=at(100))
    perform(case, "close", lead, at=at(103))

    march = parse_period("2026-03")
    d = {r.unit: r for r in evaluate("department", march)}[dept.code]
    assert d.counts["due"] == (1, 1)
    assert d.counts["closing_rate"] == (1, 1)
    assert d.counts["on_time_disposal_rate"] == (1, 1)
    assert d.counts["rework_rate"] == (1, 1)
    c = {r.unit: r for r in evaluate("cell", march)}[case.cell_code]
    assert c.counts["registered"] == (1, 1) and c.counts["report_rate"] == (1, 1)
    i = {r.unit: r for r in evaluate("inspector", march)}["wf_insp"]
    assert i.counts["effective_report_rate"] == (1, 1) and i.counts["on_time_check_rate"] == (2, 2)
    assert {r.unit: r for r in evaluate("dispatcher", march)}["wf_disp"].counts["accurate_dispatch_rate"] == (1, 1)
    lead_row = {r.unit: r for r in evaluate("leader", march)}["wf_lead"]
    assert lead_row.counts["on_time_close_rate"] == (1, 1) and lead_row.counts["accurate_register_rate"] == (1, 1)
    assert [r.number for r in drilldown("department", dept.code, "rework_rate", march)] == [case.number]
