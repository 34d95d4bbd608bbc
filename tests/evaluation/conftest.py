"""A fixed, hand-built history in March 2031, on units of its own (district 999901), so figures are exact.

Rows are inserted directly (the workflow engine would compute on_time from the working calendar; here the
flags are part of the specification). Cases (T = 2031-03-10 09:00 +08:00):

  1 C1 inspector insp_a → accept → register ✓ → dispatch X ✓ → dispose ✓ → check ✓ (insp_a) → close ✓ normal
  2 C1 public → verify insp_b ✗ → accept → register ✗ → dispatch X ✓ → dispose ✗ → check_failed ✓ (rework)
       → dispose ✗ → check ✗ (insp_a) → close ✓ overdue
  3 C2 inspector insp_a → accept → register ✓ → dispatch Y ✓ → return → dispatch X ✓ (deadline 03-20), open
  4 C2 inspector insp_b → reject
  5 C2 inspector insp_a → accept → register ✓ → dispatch Y ✓ (deadline 04-05), open
  6 C1 inspector insp_a → accept → register ✓ → dispatch Y ✗ → dispose ✓ → check ✓ (insp_a) → close ✗ error
  7 C1 self-handled insp_a → review (op) → closed
  8 C1 inspector insp_a, February: register + dispatch X (deadline 03-02); March: dispose ✓, check ✓, close ✓
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

TZ = ZoneInfo("Asia/Shanghai")
T = dt.datetime(2031, 3, 10, 9, 0, tzinfo=TZ)
C1, C2 = "99990100100101", "99990100100102"


def m(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


@dataclass
class World:
    users: dict
    depts: dict
    cases: dict  # number in the scenario → Case


def _square(x: float, y: float, d: float = 0.001) -> Polygon:
    return Polygon(((x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)), srid=4490)


def _user(username: str, roles: list[str], department: str = "urban"):
    """A user without a password (tests authenticate them directly; hashing passwords is slow)."""
    from city_gis.accounts.models import Department, User

    user = User(username=username, roles=roles, department=Department.objects.get(code=department))
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture
def world(db) -> World:
    from city_gis.accounts.models import Department
    from city_gis.cases.models import Case, CaseHistory, Category
    from city_gis.grid.models import Cell, Community, District, ResponsibilityArea, Street

    x0, y0 = 104.2, 25.9  # west of the demo city, outside its units
    district = District.objects.create(code="999901", name="评价测试区", area_m2=20000,
                                       geom=MultiPolygon(_square(x0, y0, 0.002)))
    street = Street.objects.create(code="999901001", name="评价测试街道", district=district, area_m2=20000,
                                   geom=MultiPolygon(_square(x0, y0, 0.002)))
    community = Community.objects.create(code="999901001001", name="评价测试社区", street=street, area_m2=20000,
                                         geom=MultiPolygon(_square(x0, y0, 0.002)))
    cells = {
        code: Cell.objects.create(code=code, community=community, area_m2=10000, valid_from=dt.date(2030, 1, 1),
                                  geom=_square(x0 + i * 0.001, y0))
        for i, code in enumerate((C1, C2))
    }
    depts = {k: Department.objects.create(code=f"evaltest_{k}", name_zh=f"评价测试部门{k}") for k in "xy"}
    users = {
        "insp_a": _user("insp_a", ["inspector"]),
        "insp_b": _user("insp_b", ["inspector"]),
        "op": _user("eval_op", ["operator"]),
        "lead": _user("eval_lead", ["leader"]),
        "disp": _user("eval_disp", ["dispatcher"]),
        "hx": _user("eval_hx", ["handler"], "evaltest_x"),
        "hy": _user("eval_hy", ["handler"], "evaltest_y"),
    }
    area = ResponsibilityArea.objects.create(name="评价测试责任网格", inspector=users["insp_a"])
    area.cells.set(cells.values())
    category = Category.objects.create(kind="event", code="9901", big_code="99", big_name_zh="测试",
                                       name_zh="评价测试事件", version="test",
                                       urgency_levels=[{"code": "normal", "name_zh": "一般", "limit": 1,
                                                        "unit": "working_days"}])
    cases: dict = {}

    def case(n: int, cell: str, source: str, steps: list[tuple]) -> None:
        """steps: (minutes after start, action, from, to, actor key|None, on_time, dept key|None,
        disposal_deadline|None, data)"""
        start = steps[0][0]
        c = Case.objects.create(
            number=f"EVT{n:06d}", source=source, category=category, category_version="test",
            location=Point(x0 + 0.0005, y0 + 0.0005, srid=4490), cell=cells[cell], cell_code=cell,
            community_code=cell[:12], street_code=cell[:9], district_code=cell[:6], description=f"评价测试 {n}",
            observed_at=start, created_at=start, state=steps[-1][3], updated_at=steps[-1][0],
        )
        for seq, (at, action, frm, to, actor, on_time, dept, deadline, data) in enumerate(steps, 1):
            CaseHistory(case=c, seq=seq, action=action, from_state=frm, to_state=to,
                        actor=users[actor] if actor else None, at=at, on_time=on_time,
                        due_at=at if on_time is not None else None,
                        department=depts[dept] if dept else None, disposal_deadline=deadline,
                        data=data or {}).save(force_insert=True)
        cases[n] = c

    d1, d2, d3, d5 = T + dt.timedelta(days=1), T + dt.timedelta(days=2), dt.datetime(2031, 3, 20, 17, tzinfo=TZ), \
        dt.datetime(2031, 4, 5, 17, tzinfo=TZ)
    case(1, C1, "inspector", [
        (T, "report", "", "reported", "insp_a", None, None, None, None),
        (T + m(5), "accept", "reported", "accepted", "op", True, None, None, None),
        (T + m(10), "register", "accepted", "registered", "lead", True, None, None, None),
        (T + m(15), "dispatch", "registered", "dispatched", "disp", True, "x", d1, None),
        (T + m(180), "dispose", "dispatched", "disposed", "hx", True, "x", d1, None),
        (T + m(200), "check_passed", "disposed", "checked", "insp_a", True, "x", d1, None),
        (T + m(205), "close", "checked", "closed", "lead", True, "x", d1, {"close_type": "normal"}),
    ])
    day = dt.timedelta(days=1)
    case(2, C1, "public", [
        (T, "report", "", "pending_verification", None, None, None, None, None),
        (T + m(40), "verify_confirmed", "pending_verification", "reported", "insp_b", False, None, None, None),
        (T + m(45), "accept", "reported", "accepted", "op", True, None, None, None),
        (T + m(50), "register", "accepted", "registered", "lead", False, None, None, None),
        (T + m(55), "dispatch", "registered", "dispatched", "disp", True, "x", d2, None),
        (T + 3 * day, "dispose", "dispatched", "disposed", "hx", False, "x", d2, None),
        (T + 3 * day + m(20), "check_failed", "disposed", "dispatched", "insp_a", True, "x", d2, None),
        (T + 4 * day, "dispose", "dispatched", "disposed", "hx", False, "x", d2, None),
        (T + 4 * day + m(60), "check_passed", "disposed", "checked", "insp_a", False, "x", d2, None),
        (T + 4 * day + m(65), "close", "checked", "closed", "lead", True, "x", d2, {"close_type": "overdue"}),
    ])
    case(3, C2, "inspector", [
        (T, "report", "", "reported", "insp_a", None, None, None, None),
        (T + m(5), "accept", "reported", "accepted", "op", True, None, None, None),
        (T + m(10), "register", "accepted", "registered", "lead", True, None, None, None),
        (T + m(15), "dispatch", "registered", "dispatched", "disp", True, "y", d1, None),
        (T + m(60), "return", "dispatched", "registered", "hy", True, None, d1, None),
        (T + m(65), "dispatch", "registered", "dispatched", "disp", True, "x", d3, None),
    ])
    case(4, C2, "inspector", [
        (T, "report", "", "reported", "insp_b", None, None, None, None),
        (T + m(5), "reject", "reported", "rejected", "op", True, None, None, None),
    ])
    case(5, C2, "inspector", [
        (T, "report", "", "reported", "insp_a", None, None, None, None),
        (T + m(5), "accept", "reported", "accepted", "op", True, None, None, None),
        (T + m(10), "register", "accepted", "registered", "lead", True, None, None, None),
        (T + m(15), "dispatch", "registered", "dispatched", "disp", True, "y", d5, None),
    ])
    case(6, C1, "inspector", [
        (T, "report", "", "reported", "insp_a", None, None, None, None),
        (T + m(5), "accept", "reported", "accepted", "op", True, None, None, None),
        (T + m(10), "register", "accepted", "registered", "lead", True, None, None, None),
        (T + m(40), "dispatch", "registered", "dispatched", "disp", False, "y", d1, None),
        (T + m(300), "dispose", "dispatched", "disposed", "hy", True, "y", d1, None),
        (T + m(320), "check_passed", "disposed", "checked", "insp_a", True, "y", d1, None),
        (T + m(400), "close", "checked", "closed", "lead", False, "y", d1, {"close_type": "error"}),
    ])
    case(7, C1, "self_handled", [
        (T, "report", "", "self_handled", "insp_a", None, None, None, None),
        (T + m(30), "review_self_handled", "self_handled", "closed", "op", True, None, None,
         {"close_type": "self_handled"}),
    ])
    f = dt.datetime(2031, 2, 27, 10, tzinfo=TZ)
    d8 = dt.datetime(2031, 3, 2, 17, tzinfo=TZ)
    case(8, C1, "inspector", [
        (f, "report", "", "reported", "insp_a", None, None, None, None),
        (f + m(5), "accept", "reported", "accepted", "op", True, None, None, None),
        (f + m(10), "register", "accepted", "registered", "lead", True, None, None, None),
        (f + m(15), "dispatch", "registered", "dispatched", "disp", True, "x", d8, None),
        (dt.datetime(2031, 3, 1, 10, tzinfo=TZ), "dispose", "dispatched", "disposed", "hx", True, "x", d8, None),
        (dt.datetime(2031, 3, 1, 10, 20, tzinfo=TZ), "check_passed", "disposed", "checked", "insp_a", True, "x", d8,
         None),
        (dt.datetime(2031, 3, 2, 9, tzinfo=TZ), "close", "checked", "closed", "lead", True, "x", d8,
         {"close_type": "normal"}),
    ])
    return World(users, depts, cases)


@pytest.fixture
def march():
    from city_gis.evaluation.periods import parse_period

    return parse_period("2031-03")
