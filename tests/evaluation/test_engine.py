"""Figures of the fixed March-2031 history (see conftest.py) match the hand-computed values, level by level."""

from __future__ import annotations

import datetime as dt

import pytest

from city_gis.evaluation.engine import drilldown, evaluate
from city_gis.evaluation.periods import parse_period

from .conftest import C1, C2, TZ

pytestmark = pytest.mark.django_db


def by_unit(level, period):
    return {r.unit: r for r in evaluate(level, period)}


def test_cells(world, march):
    cells = by_unit("cell", march)
    c1, c2 = cells[C1], cells[C2]
    # C1: registered in March 1, 2, 6 (8 was registered in February); inspector-found 1 and 6
    assert c1.counts["registered"] == (3, 3)
    assert c1.counts["report_rate"] == (2, 3)
    # due: 1, 2, 6 disposed in March, 8 disposed on March 1; all closed; on time 1, 6, 8
    assert c1.counts["closing_rate"] == (4, 4)
    assert c1.counts["on_time_closing_rate"] == (3, 4)
    assert c1.case_density == pytest.approx(300.0)  # 3 cases / 0.01 km²
    assert c1.volume_score == 40
    assert c1.score == pytest.approx(8 + 20 * 2 / 3 + 30 + 30 * 0.75, abs=0.01)
    assert c1.grade == "C"
    # C2: registered 3 and 5; due only 3 (undisposed, deadline 03-20 passed); 5 is due in April
    assert c2.counts["registered"] == (2, 2)
    assert c2.rates["report_rate"] == 1.0
    assert c2.counts["closing_rate"] == (0, 1)
    assert c2.score == pytest.approx(28.0) and c2.grade == "E"


@pytest.mark.parametrize("level,code", [("community", C1[:12]), ("street", C1[:9]), ("district", C1[:6])])
def test_areas_above_cells_sum_their_cells(world, march, level, code):
    r = by_unit(level, march)[code]
    assert r.counts["registered"] == (5, 5)
    assert r.counts["report_rate"] == (4, 5)
    assert r.counts["closing_rate"] == (4, 5)
    assert r.counts["on_time_closing_rate"] == (3, 5)
    assert r.volume_score == 60
    assert r.score == pytest.approx(12 + 16 + 24 + 18) and r.grade == "C"


def test_departments(world, march):
    deps = by_unit("department", march)
    x, y = deps["evaltest_x"], deps["evaltest_y"]
    # X holds 1, 2, 3 (re-dispatched to X after Y returned it) and 8
    assert x.counts["due"] == (4, 4)
    assert x.rates == {"closing_rate": 0.75, "on_time_disposal_rate": 0.5, "rework_rate": 0.25, "overdue_rate": 0.5}
    assert x.score == pytest.approx(4 + 22.5 + 15 + 22.5) and x.grade == "C"
    # Y: only 6 is due (3 was returned, 5 is due in April)
    assert y.counts["due"] == (1, 1)
    assert y.rates == {"closing_rate": 1.0, "on_time_disposal_rate": 1.0, "rework_rate": 0.0, "overdue_rate": 0.0}
    assert y.score == pytest.approx(94.0) and y.grade == "A"


def test_inspectors(world, march):
    people = by_unit("inspector", march)
    a, b = people["insp_a"], people["insp_b"]
    assert a.counts["effective_report_rate"] == (5, 5)  # 1, 3, 5, 6, 7 (self-handled, closed)
    assert a.rates["on_time_verify_rate"] is None
    assert a.counts["on_time_check_rate"] == (4, 5)  # 1, 2 (failed), 2 (late), 6, 8
    assert a.counts["miss_rate"] == (2, 7)  # 2 (public) and 4 (insp_b) in insp_a's cells
    assert a.score == pytest.approx(40 + 20 * 5 / 7 + 20 + 16, abs=0.01) and a.grade == "A"
    assert b.counts["effective_report_rate"] == (0, 1)
    assert b.counts["on_time_verify_rate"] == (0, 1)
    assert b.rates["miss_rate"] is None  # no responsibility area
    assert b.score == pytest.approx(40.0) and b.grade == "D"


def test_dispatcher(world, march):
    d = by_unit("dispatcher", march)["eval_disp"]
    assert d.counts["dispatched"] == (6, 6)
    assert d.counts["on_time_dispatch_rate"] == (5, 6)  # 6 was late
    assert d.counts["accurate_dispatch_rate"] == (5, 6)  # the first dispatch of 3 was returned
    assert d.score == pytest.approx(8 + 40 * 5 / 6 * 2, abs=0.01) and d.grade == "C"


def test_shift_leader(world, march):
    lead = by_unit("leader", march)["eval_lead"]
    assert lead.counts["on_time_register_rate"] == (4, 5)  # 1, 2 (late), 3, 5, 6
    assert lead.counts["accurate_register_rate"] == (4, 5)  # 6 closed as registered in error
    assert lead.counts["on_time_close_rate"] == (3, 4)  # 1, 2, 6 (late), 8
    assert lead.score == pytest.approx(20 + 32 + 26.25) and lead.grade == "B"


def test_rates_and_scores_stay_in_range(world, march):
    for level in ("cell", "community", "department", "inspector", "dispatcher", "leader"):
        for r in evaluate(level, march):
            assert all(v is None or 0 <= v <= 1 for v in r.rates.values())
            assert 0 <= r.score <= 100


def test_drilldown_lists_exactly_the_cases_counted(world, march):
    rows = drilldown("department", "evaltest_x", "closing_rate", march)
    numbers = {w: world.cases[w].number for w in world.cases}
    assert sorted(r.number for r in rows) == sorted(numbers[n] for n in (1, 2, 3, 8))
    assert sorted(r.number for r in rows if r.in_numerator) == sorted(numbers[n] for n in (1, 2, 8))
    miss = drilldown("inspector", "insp_a", "miss_rate", march)
    assert sorted(r.number for r in miss if r.in_numerator) == sorted(numbers[n] for n in (2, 4))


def test_drilldown_agrees_with_every_figure(world, march):
    for level in ("cell", "department", "inspector", "dispatcher", "leader"):
        for r in evaluate(level, march):
            for name, (num, den) in r.counts.items():
                rows = drilldown(level, r.unit, name, march)
                assert (sum(x.in_numerator for x in rows), len(rows)) == (num, den), (level, r.unit, name)


def test_recomputing_gives_the_same_numbers_even_after_later_activity(world, march):
    from city_gis.cases.models import CaseHistory

    before = {lv: [x.as_dict() for x in evaluate(lv, march)] for lv in ("cell", "department", "dispatcher")}
    assert before == {lv: [x.as_dict() for x in evaluate(lv, march)] for lv in before}
    # April: case 3 is finally disposed; March's figures must not move
    CaseHistory(case=world.cases[3], seq=7, action="dispose", from_state="dispatched", to_state="disposed",
                actor=world.users["hx"], at=dt.datetime(2031, 4, 2, 10, tzinfo=TZ), on_time=False,
                department=world.depts["x"], disposal_deadline=dt.datetime(2031, 3, 20, 17, tzinfo=TZ)
                ).save(force_insert=True)
    assert before == {lv: [x.as_dict() for x in evaluate(lv, march)] for lv in before}
    april = by_unit("department", parse_period("2031-04"))["evaltest_x"]
    assert april.counts["on_time_disposal_rate"] == (0, 1)


def test_a_period_made_of_days_adds_up_to_the_week(world):
    week = by_unit("dispatcher", parse_period("2031-W11"))["eval_disp"]  # 2031-03-10 … 03-16
    assert week.counts["dispatched"] == (6, 6)
    days = [by_unit("dispatcher", parse_period(f"2031-03-{d:02d}")).get("eval_disp") for d in range(10, 17)]
    assert sum(x.counts["dispatched"][1] for x in days if x) == 6
