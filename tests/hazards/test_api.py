"""HTTP: POST /api/v1/hazards/readings/ (all or nothing, 400 naming the field), devices and alerts lists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from city_gis.hazards.models import Alert, Device

from .conftest import reading_count

pytestmark = pytest.mark.django_db
URL = "/api/v1/hazards/readings/"


@pytest.fixture
def as_user(client):
    def login(username: str):
        from city_gis.accounts.models import User

        client.force_login(User.objects.get(username=username))
        return client

    return login


def good(code: str, minutes_ago: float = 5, **values) -> dict:
    when = (timezone.localtime() - dt.timedelta(minutes=minutes_ago)).isoformat()
    return {"device": code, "observed_at": when, "values": values or {"rain_mm": 1.5}}


def test_a_gateway_posts_a_batch_and_a_repeat_is_a_duplicate(as_user, device):
    gauge = device("rain_gauge")
    body = {"readings": [good(gauge.code, 20), good(gauge.code, 10)]}
    client = as_user("hazard_gateway")
    r = client.post(URL, body, content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json() == {"received": 2, "inserted": 2, "duplicates": 0, "alerts_changed": 0}
    r = client.post(URL, body, content_type="application/json")
    assert r.json() == {"received": 2, "inserted": 0, "duplicates": 2, "alerts_changed": 0}
    assert reading_count(gauge.pk) == 2
    gauge.refresh_from_db()
    assert timezone.now() - gauge.last_reading_at < dt.timedelta(minutes=11)


def test_a_crossing_batch_reports_the_alert(as_user, device):
    gauge = device("rain_gauge")
    r = as_user("hazard_officer").post(URL, {"readings": [good(gauge.code, rain_mm=35.0)]},
                                       content_type="application/json")
    # 35 ≥ 30: rain_1h yellow; the 24 h and 72 h sums stay below their blue thresholds (50, 100)
    assert r.json()["alerts_changed"] == 1
    assert Alert.objects.get(hazard_point=gauge.hazard_point).rule == "rain_1h"


FUTURE = (timezone.localtime() + dt.timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r.update(device="NO-SUCH-DEVICE"), "readings[1].device"),
    (lambda r: r.update(values={"rain_mm": "4.2"}), "readings[1].values.rain_mm"),
    (lambda r: r.update(values={"rain_mm": True}), "readings[1].values.rain_mm"),
    (lambda r: r.update(values={"rain_mm": -0.1}), "readings[1].values.rain_mm"),
    (lambda r: r.update(values={"rain_mm": 1e9}), "readings[1].values.rain_mm"),
    (lambda r: r.update(values={"snow_mm": 1.0}), "readings[1].values.snow_mm"),
    (lambda r: r.update(values={"tilt_deg": 1.0}), "readings[1].values.tilt_deg"),
    (lambda r: r.update(values={}), "readings[1].values"),
    (lambda r: r.update(observed_at=FUTURE), "readings[1].observed_at"),
    (lambda r: r.update(observed_at="2026-07-12T03:10:00"), "readings[1].observed_at"),
    (lambda r: r.update(observed_at="yesterday"), "readings[1].observed_at"),
    (lambda r: r.update(observed_at="2000-01-01T00:00:00+08:00"), "readings[1].observed_at"),
    (lambda r: r.pop("observed_at"), "readings[1].observed_at"),
    (lambda r: r.update(note="x"), "readings[1].note"),
    (lambda r: r.update(note="x" * 5000), "readings[1]"),
])
def test_bad_input_is_400_naming_the_field_and_nothing_is_stored(as_user, device, mutate, field):
    gauge = device("rain_gauge")
    bad = good(gauge.code, 3)
    mutate(bad)
    r = as_user("hazard_gateway").post(URL, {"readings": [good(gauge.code, 8), bad]}, content_type="application/json")
    assert r.status_code == 400
    assert list(r.json()) == [field]
    assert reading_count(gauge.pk) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "readings"), ({"readings": []}, "readings"), ({"readings": "x"}, "readings"),
    ({"readings": [], "extra": 1}, "extra"), ([1, 2], "readings"),
])
def test_a_malformed_body_is_400(as_user, body, field):
    r = as_user("hazard_gateway").post(URL, body, content_type="application/json")
    assert r.status_code == 400 and list(r.json()) == [field]


def test_a_batch_above_the_limit_is_refused(as_user, device, settings):
    settings.CITYGIS_HAZARD_MAX_BATCH = 3
    gauge = device("rain_gauge")
    r = as_user("hazard_gateway").post(URL, {"readings": [good(gauge.code, m) for m in range(4)]},
                                       content_type="application/json")
    assert r.status_code == 400 and list(r.json()) == ["readings"]


@pytest.mark.parametrize("username", ["inspector1", "operator", "leader_view"])
def test_only_gateways_and_hazard_officers_post(as_user, device, username):
    r = as_user(username).post(URL, {"readings": [good(device("rain_gauge").code)]}, content_type="application/json")
    assert r.status_code == 403


def test_devices_list_filters_and_visibility(as_user, device):
    officer = as_user("hazard_officer")
    body = officer.get("/api/v1/hazards/devices/", {"type": "gnss", "limit": 500}).json()
    assert body["count"] == Device.objects.filter(type="gnss").count() > 0
    assert {d["type"] for d in body["results"]} == {"gnss"}
    assert officer.get("/api/v1/hazards/devices/", {"type": "radar"}).status_code == 400
    gauge = device("rain_gauge")
    detail = officer.get(f"/api/v1/hazards/devices/{gauge.code}/").json()
    assert (detail["code"], detail["hazard_point"]) == (gauge.code, gauge.hazard_point.code)


def test_a_monitor_sees_only_the_devices_of_own_points(as_user):
    from city_gis.hazards.models import MonitoredPoint

    mine = set(Device.objects.filter(hazard_point__monitoring__monitor__username="inspector1")
               .values_list("code", flat=True))
    assert mine and MonitoredPoint.objects.exclude(monitor__username="inspector1").exists()
    body = as_user("inspector1").get("/api/v1/hazards/devices/", {"limit": 500}).json()
    assert {d["code"] for d in body["results"]} == mine
    assert as_user("operator").get("/api/v1/hazards/devices/").json()["count"] == 0


def test_alerts_list_detail_and_acknowledge_with_audit_trail(as_user, device, put):
    gauge = device("rain_gauge")
    put(gauge, 5, rain_mm=35.0)
    alert = Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h")
    officer = as_user("hazard_officer")
    listed = officer.get("/api/v1/hazards/alerts/", {"open": "true", "level": "yellow"}).json()
    assert [a["id"] for a in listed["results"]] == [alert.pk]
    assert officer.get("/api/v1/hazards/alerts/", {"level": "red"}).json()["count"] == 0
    assert officer.get("/api/v1/hazards/alerts/", {"open": "maybe"}).status_code == 400
    r = officer.post(f"/api/v1/hazards/alerts/{alert.pk}/acknowledge/", {"note": "已通知监测员"},
                     content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert body["acknowledged_by"] == "hazard_officer"
    assert [(e["kind"], e["level"], e["actor"]) for e in body["events"]] == [
        ("created", "yellow", None), ("acknowledged", "yellow", "hazard_officer")]
    assert as_user("leader_view").post(f"/api/v1/hazards/alerts/{alert.pk}/acknowledge/", {},
                                       content_type="application/json").status_code == 403


@pytest.mark.parametrize(("url", "params", "field"), [
    ("/api/v1/hazards/alerts/", {"level": "purple"}, "level"),
    ("/api/v1/hazards/alerts/", {"open": "1"}, "open"),
    ("/api/v1/hazards/alerts/", {"hazard_point": "x" * 101}, "hazard_point"),
    ("/api/v1/hazards/alerts/", {"rule": "rain\x01"}, "rule"),
    ("/api/v1/hazards/devices/", {"type": "seismometer"}, "type"),
    ("/api/v1/hazards/devices/", {"status": "broken"}, "status"),
])
def test_a_bad_list_filter_is_400_naming_it(as_user, url, params, field):
    response = as_user("hazard_officer").get(url, params)
    assert response.status_code == 400 and field in response.json(), response.content[:300]
