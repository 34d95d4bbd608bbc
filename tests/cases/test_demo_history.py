"""The demo history (built by the session fixture through the workflow engine) is a consistent audit trail,
and the engine's batched backfill mode writes exactly what the normal mode writes."""

import datetime as dt

from django.db.models import Count

from city_gis.cases.models import Case, CaseHistory
from city_gis.cases.workflow import backfill, perform

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_demo_history_is_a_consistent_trail_for_every_case(db):
    cases = {c.pk: c for c in Case.objects.all()}
    assert len(cases) >= 50
    trails: dict[int, list[CaseHistory]] = {}
    for h in CaseHistory.objects.order_by("case_id", "seq"):
        trails.setdefault(h.case_id, []).append(h)
    assert set(trails) == set(cases)
    for pk, trail in trails.items():
        assert [h.seq for h in trail] == list(range(1, len(trail) + 1))
        assert trail[0].action == "report" and trail[0].from_state == ""
        for prev, h in zip(trail, trail[1:], strict=False):
            assert h.from_state == prev.to_state, (cases[pk].number, h.action)
            assert h.at >= prev.at - dt.timedelta(seconds=1) or h.action == "merge_in"
        assert trail[-1].to_state == cases[pk].state


def test_demo_history_has_the_variety_of_real_work(db):
    actions = dict(CaseHistory.objects.values_list("action").annotate(n=Count("id")))
    for action in ("report", "accept", "register", "dispatch", "dispose", "check_passed", "close"):
        assert actions.get(action, 0) > 0, action
    assert Case.objects.exclude(state__in=["closed", "rejected", "voided", "merged"]).exists()


def _walk(case, staff):
    case = perform(case, "accept", staff["operator"], at=T0 + dt.timedelta(minutes=1))
    case = perform(case, "register", staff["leader"], at=T0 + dt.timedelta(minutes=2))
    case = perform(case, "dispatch", staff["dispatcher"], at=T0 + dt.timedelta(minutes=3))
    case = perform(case, "dispose", staff["handler"], result="完成", at=T0 + dt.timedelta(days=3))
    case = perform(case, "check_passed", staff["inspector"], at=T0 + dt.timedelta(days=3, minutes=5))
    return perform(case, "close", staff["leader"], at=T0 + dt.timedelta(days=3, minutes=9))


def test_backfill_mode_writes_what_normal_mode_writes(new_case, staff):
    normal = _walk(new_case(at=T0), staff)
    with backfill():
        batched = _walk(new_case(at=T0, cell=1), staff)
    batched.refresh_from_db()
    fields = ["seq", "action", "from_state", "to_state", "actor", "at", "due_at", "on_time", "deadline",
              "disposal_deadline", "department", "data"]
    assert list(batched.history.values_list(*fields)) == list(normal.history.values_list(*fields))
    assert (batched.state, batched.close_type, batched.closed_at) == ("closed", "overdue", normal.closed_at)
