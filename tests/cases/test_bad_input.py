"""Bad input to the cases API answers 400 naming the parameter — never 500 — and changes nothing.

Table-driven over the list filters (both the JSON list and the GeoJSON action), the transition body and the
hotline entry. Every refused request leaves the count of cases and of history rows as it was. Runs on the demo
city (operator, dispatcher and their cases).
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from city_gis.accounts.models import User
from city_gis.cases.models import Case, CaseHistory, State

pytestmark = pytest.mark.django_db

LIST_URLS = ["/api/v1/cases/", "/api/v1/cases/geojson/"]

# (parameter, bad value): each must be refused with 400 naming the parameter.
BAD_FILTERS = [
    ("bbox", "nan,nan,nan,nan"),
    ("bbox", "inf,0,1,1"),
    ("bbox", "1,2,3"),
    ("bbox", "a,b,c,d"),
    ("bbox", "5,5,1,1"),
    ("bbox", "0,0,200,10"),
    ("created_from", "2026-02-30"),
    ("created_to", "2026-13-01"),
    ("created_from", "yesterday"),
    ("created_from", "2026-01-01\x00"),
    ("district", "\x00"),
    ("street", "52\x0002"),
    ("community", "\x01"),
    ("cell", "\x00"),
    ("source", "\x00"),
    ("department", "sanitation\x00"),
    ("state", "\x00"),
    ("category", "\x00"),
    ("light", "\x00"),
    ("district", "5" * 501),
    ("cell", ",".join(["1"] * 101)),
]
BAD_PAGES = [
    ("limit", "1000000"),
    ("limit", "501"),
    ("limit", "abc"),
    ("limit", "-1"),
    ("limit", "0"),
    ("limit", "１０"),  # full-width digits: int() would take them, the API does not
    ("offset", "99999999999999999999"),
    ("offset", "1000001"),
    ("offset", "-1"),
    ("offset", "x"),
]


def counts() -> tuple[int, int]:
    return Case.objects.count(), CaseHistory.objects.count()


def as_user(username: str) -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.get(username=username))
    return c


@pytest.mark.parametrize("url", LIST_URLS)
@pytest.mark.parametrize("param,value", BAD_FILTERS)
def test_bad_filter_is_400_naming_it(url, param, value):
    r = as_user("operator").get(url, {param: value})
    assert r.status_code == 400, (param, value, r.content[:300])
    assert param in r.json()


@pytest.mark.parametrize("param,value", BAD_PAGES)
def test_bad_page_is_400_naming_it(param, value):
    r = as_user("operator").get("/api/v1/cases/", {param: value})
    assert r.status_code == 400, (param, value, r.content[:300])
    assert param in r.json()


def test_largest_page_is_answered():
    r = as_user("operator").get("/api/v1/cases/", {"limit": "500", "offset": "1000000"})
    assert r.status_code == 200 and r.json()["results"] == []


@pytest.fixture
def reported(reported_case):
    """A case in state `reported`, visible to the operator."""
    return reported_case


TOO_LONG = "长" * 2001
BAD_TRANSITIONS = [
    ({"action": "accept", "note": TOO_LONG}, "note"),
    ({"action": "accept", "note": "a\x01b"}, "note"),
    ({"action": "accept", "note": "a\x00b"}, "note"),
    ({"action": "accept", "note": {"a": 1}}, "note"),
    ({"action": "accept", "note": ["a"]}, "note"),
    ({"action": "reject", "reason": TOO_LONG}, "reason"),
    ({"action": "reject"}, "reason"),
    ({"action": "merge", "into": "9" * 30}, "into"),
    ({"action": "merge", "into": "\x00"}, "into"),
    ({"action": "merge", "into": "99999999999999"}, "into"),
    ({"action": "bogus"}, "action"),
    ({"action": "a" * 41}, "action"),
    ({"action": ["accept"]}, "action"),
    ({}, "action"),
]


@pytest.mark.parametrize("body,field", BAD_TRANSITIONS)
def test_bad_transition_is_400_and_changes_nothing(reported, body, field):
    before = counts()
    r = as_user("operator").post(f"/api/v1/cases/{reported.pk}/transitions/", body, format="json")
    assert r.status_code == 400, (body, r.content[:300])
    assert field in r.json()
    assert counts() == before
    assert Case.objects.get(pk=reported.pk).state == State.REPORTED


def test_body_keys_never_become_keyword_arguments(reported):
    """`user`, `case` and `at` in the body were splatted into workflow.perform(): a 500, or a backdated entry."""
    started = timezone.now()
    body = {"action": "accept", "note": "ok", "user": "admin", "case": 1, "at": "2020-01-01T00:00:00+08:00"}
    r = as_user("operator").post(f"/api/v1/cases/{reported.pk}/transitions/", body, format="json")
    assert r.status_code == 200, r.content[:300]
    entry = CaseHistory.objects.filter(case=reported).order_by("-seq").first()
    assert (entry.action, entry.note, entry.actor.username) == ("accept", "ok", "operator")
    assert entry.at >= started


def test_the_note_limit_is_inclusive(reported):
    r = as_user("operator").post(f"/api/v1/cases/{reported.pk}/transitions/",
                                 {"action": "accept", "note": "长" * 2000}, format="json")
    assert r.status_code == 200


BAD_ENTRIES = [
    ({"description": "x" * 4001}, "description"),
    ({"description": "a\x01"}, "description"),
    ({"category_code": "\x00"}, "category_code"),
    ({"category_code": "01" * 11}, "category_code"),
    ({"lon": "nan"}, "lon"),
    ({"lat": "inf"}, "lat"),
    ({"urgency": "u" * 21}, "urgency"),
    ({"contact": {f"k{i}": "v" for i in range(11)}}, "contact"),
    ({"contact": {"phone": "1" * 201}}, "contact"),
    ({"contact": {"phone": "\x07"}}, "contact"),
]


@pytest.mark.parametrize("change,field", BAD_ENTRIES)
def test_bad_hotline_entry_is_400_and_creates_nothing(change, field):
    some = Case.objects.order_by("pk").first()
    body = {"category_code": "0102", "lon": some.location.x, "lat": some.location.y, "description": "市民来电", **change}
    before = counts()
    r = as_user("operator").post("/api/v1/cases/", body, format="json")
    assert r.status_code == 400, (change, r.content[:300])
    assert field in r.json()
    assert counts() == before


@pytest.mark.parametrize("param,value", [("lon", "nan"), ("lat", "inf"), ("lon", "1e400"), ("lat", "91"),
                                         ("lon", "abc"), ("lat", "")])
def test_grid_lookup_bad_coordinates_are_400(param, value):
    query = {"lon": "104.83", "lat": "26.59", param: value}
    r = as_user("operator").get("/api/v1/grid/lookup/", query)
    assert r.status_code == 400, (param, value, r.content[:300])
    assert param in r.json()
