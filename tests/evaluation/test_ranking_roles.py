"""Rankings of people rank only the holders of the level's role (User.has_role): an operator (受理员) who
registered a hotline report is not an inspector, a dispatcher who registered a case is not a leader."""

from __future__ import annotations

import pytest

from city_gis.evaluation.config import get_config
from city_gis.evaluation.engine import evaluate, get_level, raw_counts

from .conftest import TZ, m

pytestmark = pytest.mark.django_db


def _add_case(world, n: int, steps: list[tuple]) -> None:
    """A case on C1 like the scenario's; steps: (at, action, from, to, actor key)."""
    from city_gis.cases.models import Case, CaseHistory

    like = world.cases[1]
    c = Case.objects.create(
        number=f"EVT{n:06d}", source="hotline", category=like.category, category_version="test",
        location=like.location, cell=like.cell, cell_code=like.cell_code, community_code=like.community_code,
        street_code=like.street_code, district_code=like.district_code, description=f"排名测试 {n}",
        observed_at=steps[0][0], created_at=steps[0][0], state=steps[-1][3], updated_at=steps[-1][0])
    for seq, (at, action, frm, to, actor) in enumerate(steps, 1):
        CaseHistory(case=c, seq=seq, action=action, from_state=frm, to_state=to, actor=world.users[actor], at=at,
                    on_time=True if seq > 1 else None, due_at=at if seq > 1 else None,
                    data={}).save(force_insert=True)


@pytest.fixture
def outsiders(world):
    import datetime as dt

    t = dt.datetime(2031, 3, 12, 9, 0, tzinfo=TZ)
    _add_case(world, 9, [(t, "report", "", "reported", "op"),
                         (t + m(5), "accept", "reported", "accepted", "op"),
                         (t + m(10), "register", "accepted", "registered", "disp")])
    return world


@pytest.mark.parametrize(("level", "outsider", "members"), [
    ("inspector", "op", {"insp_a", "insp_b"}),
    ("leader", "disp", {"lead"}),
])
def test_people_outside_the_role_are_not_ranked(outsiders, march, level, outsider, members):
    user = outsiders.users[outsider]
    counted = raw_counts(get_level(level), march, get_config())
    assert str(user.pk) in counted, "the outsider did do this level's work in the period"
    ranked = {r.unit for r in evaluate(level, march)}
    assert user.username not in ranked
    assert {outsiders.users[k].username for k in members} <= ranked
    assert all(outsiders.users[k].has_role(get_level(level).role) for k in members)
