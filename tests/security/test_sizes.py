"""Every size is bounded: list pages (one pagination policy), text fields (serializer, workflow and database).

Observation 10 of issue 9: `?limit=1000000` on /api/v1/cases/ answered 15 MB in 6 s; a 1 MB transition note
was kept forever in the append-only history.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from city_gis.accounts.models import User
from city_gis.api_pagination import BoundedLimitOffsetPagination
from city_gis.cases.models import Case, CaseHistory, State

pytestmark = pytest.mark.django_db

# Every paginated list of the API and a demo user allowed to read it.
PAGINATED_LISTS = {"/api/v1/cases/": "operator", "/api/v1/tasks/": "inspector1", "/api/v1/jobs/": "admin",
                   "/api/v1/reviews/": "planner", "/api/v1/hazards/devices/": "hazard_officer",
                   "/api/v1/hazards/alerts/": "hazard_officer", "/api/v1/hazards/warnings/": "hazard_officer"}
MEGABYTE_NOTE = "x" * 1_000_000


def as_user(username: str) -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.get(username=username))
    return c


def test_the_one_pagination_class_is_the_default():
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_PAGINATION_CLASS is BoundedLimitOffsetPagination


def test_every_paginated_list_of_the_schema_is_in_this_table():
    """A new list endpoint shows up here, so it gets the size checks below (or a reason not to)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paginated = {path for path, ops in schema["paths"].items() for method, op in ops.items()
                 if method == "get" and "{" not in path
                 and any(p.get("name") == "limit" and p.get("in") == "query" for p in op.get("parameters", []))}
    assert paginated == set(PAGINATED_LISTS)


@pytest.mark.parametrize("url,username", PAGINATED_LISTS.items())
@pytest.mark.parametrize("query,param", [
    ({"limit": "1000000"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": "99999999999999999999"}, "offset"), ({"offset": "-5"}, "offset"), ({"offset": "1e3"}, "offset"),
])
def test_page_beyond_the_bounds_is_400_naming_the_parameter(url, username, query, param):
    r = as_user(username).get(url, query)
    assert r.status_code == 400, (url, query, r.content[:300])
    assert param in r.json()


@pytest.mark.parametrize("url,username", PAGINATED_LISTS.items())
def test_pages_are_bounded_by_the_setting(url, username, settings):
    settings.CITYGIS_API_MAX_PAGE_SIZE = 2
    c = as_user(username)
    assert c.get(url, {"limit": "3"}).status_code == 400
    r = c.get(url, {"limit": "2"})
    assert r.status_code == 200 and len(r.json()["results"]) <= 2
    r = c.get(url)  # no limit: the default page size, itself never above the maximum
    assert r.status_code == 200 and len(r.json()["results"]) <= 2


def test_the_maximum_page_is_answered_within_its_bound():
    r = as_user("operator").get("/api/v1/cases/", {"limit": "500"})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == min(500, body["count"])


@pytest.fixture
def reported(reported_case):
    return reported_case


def test_a_megabyte_note_is_refused_on_the_console_api(reported):
    before = CaseHistory.objects.count()
    r = as_user("operator").post(f"/api/v1/cases/{reported.pk}/transitions/",
                                 {"action": "accept", "note": MEGABYTE_NOTE}, format="json")
    assert r.status_code == 400 and "note" in r.json()
    assert CaseHistory.objects.count() == before


def test_a_megabyte_note_is_refused_by_the_workflow_itself(reported):
    """Every other path (console pages, mobile page, CLI) goes through workflow.perform: the same 400."""
    from django.core.exceptions import ValidationError

    from city_gis.cases import workflow

    before = CaseHistory.objects.count()
    with pytest.raises(ValidationError) as exc:
        workflow.perform(reported, "accept", User.objects.get(username="operator"), note=MEGABYTE_NOTE)
    assert "note" in exc.value.message_dict
    assert CaseHistory.objects.count() == before


def test_a_megabyte_result_is_refused_on_the_field_api():
    case = Case.objects.filter(state=State.DISPATCHED, department__isnull=False).select_related("department").first()
    client = as_user(f"dept_{case.department.code}")
    before = CaseHistory.objects.count()
    r = client.post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "dispose", "result": MEGABYTE_NOTE},
                    format="json")
    assert r.status_code == 400 and "result" in r.json()
    assert CaseHistory.objects.count() == before


def test_the_database_keeps_the_text_limits(reported):
    """The backstop for writers that skip the API (admin, SQL-minded scripts): CHECK constraints."""
    last = CaseHistory.objects.filter(case=reported).order_by("-seq").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseHistory(case=reported, seq=last.seq + 1, action="accept", to_state="accepted", at=last.at,
                    note="x" * 2001).save(force_insert=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=reported.pk).update(description="x" * 4001)


@pytest.mark.parametrize("url,username,body,field", [
    ("/api/v1/reports/", "inspector1", {"description": "x" * 2001}, "description"),
    ("/api/v1/reports/", "inspector1", {"category": "0102\x00"}, "category"),
    ("/api/v1/reports/", "inspector1", {"description": "路边\x1b垃圾"}, "description"),
    ("/api/v1/cases/", "operator", {"description": "x" * 4001}, "description"),
])
def test_text_fields_of_the_create_endpoints_are_bounded(url, username, body, field):
    import uuid

    some = Case.objects.order_by("pk").first()
    base = {"client_uuid": str(uuid.uuid4()), "category": "0102", "category_code": "0102",
            "location": {"type": "Point", "coordinates": [some.location.x, some.location.y]},
            "lon": some.location.x, "lat": some.location.y, "description": "路边垃圾"}
    before = Case.objects.count()
    r = as_user(username).post(url, {**base, **body}, format="json")
    assert r.status_code == 400, r.content[:300]
    assert field in r.json()
    assert Case.objects.count() == before


@pytest.mark.parametrize("url,username", [
    ("/api/v1/cases/", "operator"), ("/api/v1/cases/{reported}/transitions/", "operator"),
    ("/api/v1/reports/", "inspector1"), ("/open311/v2/requests.json", None),
])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_small_body_endpoints_refuse_big_bodies_with_413(reported, settings, url, username, content_type):
    """JSON/form bodies of these endpoints are bounded (CITYGIS_API_BODY_MAX_BYTES), far below the 80 MB upload limit."""
    settings.CITYGIS_API_BODY_MAX_BYTES = 10_000
    client = as_user(username) if username else APIClient()
    body = ('{"description": "%s"}' % ("x" * 20_000)) if content_type == "application/json" else "description=" + "x" * 20_000
    before = Case.objects.count(), CaseHistory.objects.count()
    r = client.generic("POST", url.format(reported=reported.pk), body, content_type=content_type)
    assert r.status_code == 413, r.content[:300]
    assert (Case.objects.count(), CaseHistory.objects.count()) == before
