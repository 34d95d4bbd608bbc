"""The traffic light has one definition (SQL function citygis_case_light, migration 0004): the map view
`cases_open_v`, the ORM annotation `with_light()`, `Case.light_at()` and the API all give the same answer.

Rule (docs/workflow.md): red once now > stage_deadline, yellow from stage_yellow_at (less than 20 % left),
else green; none when there is no running deadline (suspended) and for terminal cases.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from city_gis.cases.models import Case, State

H = dt.timedelta(hours=1)

# name: (state, yellow_at - now, deadline - now, expected light); None = the column is NULL.
TABLE = {
    "no_deadline": (State.SUSPENDED, None, None, None),
    "before_yellow": (State.DISPATCHED, +1 * H, +2 * H, "green"),
    "after_yellow": (State.DISPATCHED, -1 * H, +1 * H, "yellow"),
    "overdue": (State.DISPATCHED, -2 * H, -1 * H, "red"),
    "no_yellow_moment": (State.REPORTED, None, +1 * H, "green"),
    "closed_with_stale_deadline": (State.CLOSED, -2 * H, -1 * H, None),
}


@pytest.fixture
def table_cases(new_case) -> dict[str, Case]:
    now = timezone.now()
    out = {}
    for name, (state, yellow, deadline, _) in TABLE.items():
        case = new_case()
        Case.objects.filter(pk=case.pk).update(
            state=state, stage_yellow_at=now + yellow if yellow is not None else None,
            stage_deadline=now + deadline if deadline is not None else None)
        out[name] = Case.objects.get(pk=case.pk)
    return out


def _view_lights(ids: list[int]) -> dict[int, str | None]:
    with connection.cursor() as cur:
        cur.execute("SELECT id, light FROM cases_open_v WHERE id = ANY(%s)", [ids])
        return dict(cur.fetchall())


def test_view_orm_and_instance_agree_on_every_row_of_the_table(table_cases):
    ids = {case.pk: name for name, case in table_cases.items()}
    expected = {name: row[3] for name, row in TABLE.items()}

    annotated = dict(Case.objects.with_light().filter(pk__in=ids).values_list("pk", "light_now"))
    assert {ids[pk]: light for pk, light in annotated.items()} == expected
    assert {name: case.light_at() for name, case in table_cases.items()} == expected
    assert {name: case.light for name, case in table_cases.items()} == expected  # not annotated: light_at()

    # The map view holds open cases only; for each of them it says what the ORM says.
    view = _view_lights(list(ids))
    assert {ids[pk]: light for pk, light in view.items()} == {
        name: light for name, light in expected.items() if TABLE[name][0] != State.CLOSED}


def test_a_suspended_case_has_no_light_on_the_map_either(table_cases):
    """Before migration 0004 the view said 'green' here while the API said none."""
    case = table_cases["no_deadline"]
    assert _view_lights([case.pk]) == {case.pk: None}


@pytest.mark.parametrize("light", ["green", "yellow", "red"])
def test_filtering_by_light_selects_exactly_the_rows_with_that_light(table_cases, light):
    ids = [c.pk for c in table_cases.values()]
    chosen = set(Case.objects.filter(pk__in=ids).with_light_value(light).values_list("pk", flat=True))
    assert chosen == {table_cases[name].pk for name, row in TABLE.items() if row[3] == light}


def test_light_at_a_given_moment_follows_the_same_thresholds(table_cases):
    case = table_cases["before_yellow"]
    assert case.light_at(case.stage_yellow_at - dt.timedelta(seconds=1)) == "green"
    assert case.light_at(case.stage_yellow_at) == "yellow"  # yellow from the moment itself
    assert case.light_at(case.stage_deadline) == "yellow"  # red only once past the deadline
    assert case.light_at(case.stage_deadline + dt.timedelta(seconds=1)) == "red"
