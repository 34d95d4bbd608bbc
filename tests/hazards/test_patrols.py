"""Patrol tasks: an alert reaching yellow puts one task on the monitor's /m/ task list (GET /api/v1/tasks/), an
escalation does not add another, only the monitor sees and completes it, and the result (normal / deformation /
evacuate, with photos) goes to the alert's audit trail — `evacuate` raises the alert to red."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from city_gis.accounts.models import Role, User
from city_gis.grid.geocode import OutsideManagedArea, geocode
from city_gis.hazards.models import Alert, Device, Patrol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_as(db):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user: User) -> APIClient:
        c = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return make


@pytest.fixture
def gauge(db) -> Device:
    """A demo rain gauge whose hazard point has a monitor and lies in the managed area (it can become a case)."""
    for d in Device.objects.filter(type="rain_gauge", hazard_point__monitoring__monitor__isnull=False) \
            .select_related("hazard_point").order_by("code"):
        try:
            geocode(d.hazard_point.geom.x, d.hazard_point.geom.y)
        except OutsideManagedArea:
            continue
        return d
    pytest.skip("no demo hazard point inside the managed area")


def monitor_of(device: Device) -> User:
    return device.hazard_point.monitoring.monitor


def other_inspector(device: Device) -> User:
    return User.objects.filter(roles__contains=[Role.INSPECTOR]).exclude(pk=monitor_of(device).pk).order_by("pk")[0]


def tasks(client) -> list[dict]:
    r = client.get("/api/v1/tasks/", {"limit": 500})
    assert r.status_code == 200
    return r.json()["results"]


def patrol_tasks(client) -> list[dict]:
    return [t for t in tasks(client) if t["category"] == "0705"]


def rain_alert(device: Device) -> Alert:
    return Alert.objects.get(hazard_point=device.hazard_point, rule="rain_1h", closed_at=None)


def jpeg() -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(buf, "JPEG")
    return SimpleUploadedFile("slope.jpg", buf.getvalue(), "image/jpeg")


def test_blue_makes_no_patrol_yellow_makes_exactly_one_and_escalation_no_other(gauge, put, client_as):
    t0 = timezone.now() - dt.timedelta(minutes=50)
    put(gauge, t0, rain_mm=21.0)  # blue
    assert rain_alert(gauge).level_name == "blue" and not Patrol.objects.filter(hazard_point=gauge.hazard_point)
    put(gauge, t0 + dt.timedelta(minutes=10), rain_mm=10.0)  # 31: yellow
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    assert (patrol.alert, patrol.monitor, patrol.completed_at) == (rain_alert(gauge), monitor_of(gauge), None)
    put(gauge, t0 + dt.timedelta(minutes=20), rain_mm=20.0)  # 51: orange
    assert rain_alert(gauge).level_name == "orange"
    assert Patrol.objects.filter(hazard_point=gauge.hazard_point).count() == 1
    [task] = patrol_tasks(client_as(monitor_of(gauge)))
    assert (task["id"], task["kind"], task["state"]) == (patrol.case_id, "verify", "pending_verification")
    assert task["patrol_results"] == ["normal", "deformation", "evacuate"]
    assert set(task["actions"]) == {"verify_confirmed", "verify_not_found"}
    assert task["location"]["coordinates"] == pytest.approx([gauge.hazard_point.geom.x, gauge.hazard_point.geom.y])
    assert task["category_name"] == "地质灾害巡查"


def test_evacuate_raises_the_alert_to_red_and_writes_the_patrol_to_its_trail(gauge, put, client_as):
    put(gauge, 10, rain_mm=35.0)  # yellow at once
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    monitor = monitor_of(gauge)
    r = client_as(monitor).post(f"/api/v1/tasks/{patrol.case_id}/complete/",
                                {"action": "verify_confirmed", "patrol_result": "evacuate", "note": "后缘裂缝扩大",
                                 "photos": [jpeg()]}, format="multipart")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "reported" and len(r.json()["photos"]) == 1
    alert = rain_alert(gauge)
    assert alert.level_name == "red"
    kinds = [(e.kind, e.level, e.actor_id, e.note) for e in alert.events.order_by("at", "pk")]
    assert kinds[-2:] == [("patrol", 2, monitor.pk, "evacuate: 后缘裂缝扩大"),
                          ("escalated", 4, monitor.pk, "patrol: evacuate")]
    patrol.refresh_from_db()
    assert patrol.result == "evacuate" and patrol.completed_at is not None
    assert patrol_tasks(client_as(monitor)) == []  # done


def test_normal_ends_the_task_and_keeps_the_level(gauge, put, client_as):
    put(gauge, 10, rain_mm=35.0)
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    r = client_as(monitor_of(gauge)).post(f"/api/v1/tasks/{patrol.case_id}/complete/",
                                          {"action": "verify_not_found", "patrol_result": "normal"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    alert = rain_alert(gauge)
    assert alert.level_name == "yellow"
    assert alert.events.order_by("at", "pk").last().kind == "patrol"
    assert alert.events.order_by("at", "pk").last().note == "normal"


def test_without_a_result_the_action_stands_for_one_deformation_here(gauge, put, client_as):
    put(gauge, 10, rain_mm=35.0)  # as the /m/ page sends it today: the workflow action only
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    r = client_as(monitor_of(gauge)).post(f"/api/v1/tasks/{patrol.case_id}/complete/",
                                          {"action": "verify_confirmed", "note": "挡墙鼓胀"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "reported"
    patrol.refresh_from_db()
    assert patrol.result == "deformation"
    alert = rain_alert(gauge)
    assert alert.level_name == "yellow"
    assert alert.events.order_by("at", "pk").last().note == "deformation: 挡墙鼓胀"


def test_a_result_must_match_the_action(gauge, put, client_as):
    put(gauge, 10, rain_mm=35.0)
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    c = client_as(monitor_of(gauge))
    url = f"/api/v1/tasks/{patrol.case_id}/complete/"
    r = c.post(url, {"action": "verify_not_found", "patrol_result": "evacuate"}, format="json")
    assert r.status_code == 400 and "action" in r.json()
    r = c.post(url, {"action": "verify_not_found", "patrol_result": "landslide"}, format="json")
    assert r.status_code == 400 and "patrol_result" in r.json()
    patrol.refresh_from_db()
    assert patrol.completed_at is None and not rain_alert(gauge).events.filter(kind="patrol").exists()


def test_another_inspector_neither_sees_nor_completes_the_patrol(gauge, put, client_as):
    put(gauge, 10, rain_mm=35.0)
    patrol = Patrol.objects.get(hazard_point=gauge.hazard_point)
    other = client_as(other_inspector(gauge))
    assert patrol.case_id not in [t["id"] for t in tasks(other)]
    r = other.post(f"/api/v1/tasks/{patrol.case_id}/complete/",
                   {"action": "verify_confirmed", "patrol_result": "evacuate"}, format="json")
    assert r.status_code == 404
    assert rain_alert(gauge).level_name == "yellow"


def test_a_result_on_an_ordinary_task_is_refused(client_as, gauge):
    from django.contrib.gis.geos import Point

    from city_gis.cases import services

    p = gauge.hazard_point.geom
    case = services.create_case(source="public", category_code="0102", location=Point(p.x, p.y, srid=4490),
                                description="市民反映", reporter=None)
    case.assignee = monitor_of(gauge)
    case.save(update_fields=["assignee"])
    r = client_as(monitor_of(gauge)).post(f"/api/v1/tasks/{case.pk}/complete/",
                                          {"action": "verify_not_found", "patrol_result": "normal"}, format="json")
    assert r.status_code == 400 and "patrol_result" in r.json()
