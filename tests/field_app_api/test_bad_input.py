"""A sweep of hostile values over the field API and Open311: each is a 400 naming the parameter, never a 500.

Found by this sweep (issue 9, obs. 15): `since=2026-02-30T…` on /api/v1/sync/ and `end_date=0001-01-01…` on
Open311 requests (the default 90-day window underflowed datetime.min) answered 500; an `observed_at` in year 1
was accepted.
"""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from city_gis.accounts.models import User
from city_gis.cases.models import Case, CaseHistory
from field_app_api.models import ApiKey

pytestmark = pytest.mark.django_db


def as_user(username: str | None) -> APIClient:
    c = APIClient()
    if username:
        c.force_authenticate(User.objects.get(username=username))
    return c


def named(response, param: str) -> bool:
    """The 400 body names `param`: DRF's {field: […]} or Open311's [{"code", "description": "field: …"}]."""
    body = response.json()
    if isinstance(body, list):
        return any(e["description"].startswith(f"{param}:") for e in body)
    return param in body


GETS = [
    ("inspector1", "/api/v1/tasks/", {"lon": "nan", "lat": "nan"}, "lon"),
    ("inspector1", "/api/v1/tasks/", {"lon": "1e999", "lat": "1"}, "lon"),
    ("inspector1", "/api/v1/tasks/", {"lon": "104\x00", "lat": "26"}, "lon"),
    ("inspector1", "/api/v1/tasks/", {"lon": "104"}, "lat"),
    ("inspector1", "/api/v1/sync/", {"since": "2026-02-30T00:00:00"}, "since"),
    ("inspector1", "/api/v1/sync/", {"since": "\x00"}, "since"),
    ("inspector1", "/api/v1/sync/", {"since": "99999-01-01"}, "since"),
    (None, "/open311/v2/requests.json", {"start_date": "2026-02-30T00:00:00Z"}, "start_date"),
    (None, "/open311/v2/requests.json", {"end_date": "0001-01-01T00:00:00Z"}, "end_date"),
    (None, "/open311/v2/requests.json", {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
     "start_date"),
    (None, "/open311/v2/requests.json", {"service_request_id": "\x00"}, "service_request_id"),
    (None, "/open311/v2/requests.json", {"service_code": "\x00,\x01"}, "service_code"),
    (None, "/open311/v2/requests.json", {"service_code": "x" * 600}, "service_code"),
    (None, "/open311/v2/requests.json", {"status": "\x00"}, "status"),
]


@pytest.mark.parametrize("username,url,query,param", GETS)
def test_bad_query_is_400_naming_it(username, url, query, param):
    r = as_user(username).get(url, query)
    assert r.status_code == 400, (url, query, r.content[:300])
    assert named(r, param)


def _report(area, **over) -> dict:
    loc = {"type": "Point", "coordinates": [area["lon"], area["lat"]]}
    return {"client_uuid": str(uuid.uuid4()), "category": "0102", "location": loc, "description": "路边垃圾", **over}


REPORTS = [
    ({"location": {"type": "Point", "coordinates": ["nan", "nan"]}}, "location"),
    ({"location": "not json"}, "location"),
    ({"client_uuid": "\x00"}, "client_uuid"),
    ({"observed_at": "9999-12-31T23:59:59+14:00"}, "observed_at"),
    ({"observed_at": "0001-01-01T00:00:00-14:00"}, "observed_at"),
    ({"urgency": "\x00"}, "urgency"),
    ({"category": "component:\x00"}, "category"),
    ({"category": {"a": 1}}, "category"),
]


@pytest.mark.parametrize("change,param", REPORTS)
def test_bad_report_is_400_naming_it_and_stores_nothing(field_area, change, param):
    before = Case.objects.count(), CaseHistory.objects.count()
    r = as_user("inspector1").post("/api/v1/reports/", _report(field_area, **change), format="json")
    assert r.status_code == 400, (change, r.content[:300])
    assert named(r, param)
    assert (Case.objects.count(), CaseHistory.objects.count()) == before


def test_report_with_an_infinite_coordinate_in_raw_json_is_400(field_area):
    body = json.dumps(_report(field_area)).replace(json.dumps(field_area["lon"]), "1e400")
    r = as_user("inspector1").post("/api/v1/reports/", body, content_type="application/json")
    assert r.status_code == 400 and named(r, "location")


OPEN311_POSTS = [
    ({"lat": "nan", "long": "nan"}, "lat"),
    ({"lat": "inf", "long": "1"}, "lat"),
    ({"lat": "1e400", "long": "1"}, "lat"),
    ({"lat": None, "long": None, "address_string": "\x00"}, "address_string"),
    ({"service_code": "\x00"}, "service_code"),
    ({"email": "a@b.c\x00"}, "email"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"api_key": "\x00"}, "api_key"),
]


@pytest.mark.parametrize("change,param", OPEN311_POSTS)
def test_bad_open311_post_is_400_naming_it(field_area, change, param):
    data = {"api_key": ApiKey.issue("sweep")[1], "service_code": "0102", "lat": field_area["lat"],
            "long": field_area["lon"], "description": "x", **change}
    before = Case.objects.count()
    r = APIClient().post("/open311/v2/requests.json", {k: v for k, v in data.items() if v is not None})
    assert r.status_code == 400, (change, r.content[:300])
    assert named(r, param)
    assert Case.objects.count() == before
