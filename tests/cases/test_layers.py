"""cases.open / cases.closed: registered, live (not cached), styled by light; the view computes the light
against now() exactly as the API does."""

import datetime as dt

from django.db import connection
from django.utils import timezone

from city_gis.cases.models import Case
from layers.models import Layer


def test_case_layers_are_registered_live_and_internal(db):
    open_layer = Layer.objects.get(name="cases.open")
    assert (open_layer.source_table, open_layer.cacheable, open_layer.classification) == ("cases_open_v", False, "internal")
    assert open_layer.style["classify_by"] == "light"
    assert [c["value"] for c in open_layer.style["classes"]] == ["green", "yellow", "red"]
    assert Layer.objects.get(name="cases.closed").source_table == "cases_closed_v"


def test_view_light_matches_the_api_light(new_case, staff):
    fresh = new_case()  # deadlines from now: green
    old = new_case(at=timezone.now() - dt.timedelta(days=3), cell=1)  # long overdue: red
    with connection.cursor() as cur:
        cur.execute("SELECT id, light FROM cases_open_v WHERE id IN (%s, %s)", [fresh.pk, old.pk])
        lights = dict(cur.fetchall())
    annotated = dict(Case.objects.with_light().filter(pk__in=[fresh.pk, old.pk]).values_list("pk", "light_now"))
    assert lights == annotated == {fresh.pk: "green", old.pk: "red"}
    assert fresh.light == "green" and old.light == "red"


def test_closed_cases_leave_the_open_view(new_case, staff):
    from city_gis.cases.workflow import perform

    case = perform(new_case(), "reject", staff["operator"], reason="无效")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_open_v WHERE id = %s", [case.pk])
        assert cur.fetchone()[0] == 0
