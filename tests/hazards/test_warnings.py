"""Meteorological area warnings: every hazard point inside is raised while the warning is valid, to the highest
level covering it; cancelled or expired, its points' alerts close; bad input is 400 naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from city_gis.hazards import warnings
from city_gis.hazards.models import Alert
from layers.models import HazardPoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/hazards/warnings/"


def box(points, pad: float = 1e-4) -> dict:
    xs, ys = [p.geom.x for p in points], [p.geom.y for p in points]
    x0, y0, x1, y1 = min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def body(area: dict, level: str = "yellow", hours: float = 24, start_hours: float = -1) -> dict:
    now = timezone.localtime()
    return {"level": level, "area": area, "valid_from": (now + dt.timedelta(hours=start_hours)).isoformat(),
            "valid_to": (now + dt.timedelta(hours=start_hours + hours)).isoformat(), "issuer": "六盘水市气象局"}


@pytest.fixture
def officer(client):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username="hazard_officer"))
    return client


def inside(area: dict) -> set[str]:
    import json

    from django.contrib.gis.geos import GEOSGeometry

    geom = GEOSGeometry(json.dumps(area))
    geom.srid = 4490
    return {p.code for p in HazardPoint.objects.filter(geom__coveredby=geom)}


def area_alerts() -> dict[str, tuple[str, str]]:
    return {a.hazard_point.code: (a.level_name, a.close_reason) for a in
            Alert.objects.filter(rule="area_warning").select_related("hazard_point")}


def test_issuing_raises_every_point_inside_and_only_those(officer):
    points = list(HazardPoint.objects.order_by("geom")[:3])
    area = box(points)
    r = officer.post(URL, body(area), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["active"] is True and r.json()["level"] == "yellow"
    codes = inside(area)
    assert {p.code for p in points} <= codes
    assert area_alerts() == {c: ("yellow", "") for c in codes}


def test_a_higher_warning_escalates_and_cancelling_it_keeps_the_lower_one(officer):
    points = list(HazardPoint.objects.order_by("code")[:2])
    low = officer.post(URL, body(box(points)), content_type="application/json").json()
    high = officer.post(URL, body(box(points[:1], 1e-5), level="red"), content_type="application/json").json()
    alerts = area_alerts()
    assert alerts[points[0].code] == ("red", "")
    assert officer.post(f"{URL}{high['id']}/cancel/").status_code == 200
    assert area_alerts()[points[0].code] == ("red", "")  # never lowered while open: the yellow one still covers it
    officer.post(f"{URL}{low['id']}/cancel/")
    ended = area_alerts()
    assert (ended[points[0].code], ended[points[1].code]) == (("red", "warning_ended"), ("yellow", "warning_ended"))
    trail = [e.kind for e in Alert.objects.get(rule="area_warning", hazard_point=points[0]).events.all()]
    assert trail == ["created", "escalated", "closed"]


def test_a_warning_starts_and_ends_on_time(officer):
    points = list(HazardPoint.objects.order_by("code")[:1])
    officer.post(URL, body(box(points), start_hours=2, hours=3), content_type="application/json")
    assert area_alerts() == {}  # not valid yet
    warnings.apply(timezone.now() + dt.timedelta(hours=2, minutes=1))
    assert area_alerts()[points[0].code] == ("yellow", "")
    warnings.apply(timezone.now() + dt.timedelta(hours=5, minutes=1))
    assert area_alerts()[points[0].code] == ("yellow", "warning_ended")


SQUARE = {"type": "Polygon", "coordinates": [[[104.8, 26.5], [104.9, 26.5], [104.9, 26.6], [104.8, 26.6], [104.8, 26.5]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[104.8, 26.5], [104.9, 26.6], [104.9, 26.5], [104.8, 26.6], [104.8, 26.5]]]}


@pytest.mark.parametrize(("change", "field"), [
    ({"level": "green"}, "level"),
    ({"level": ["red"]}, "level"),
    ({"area": None}, "area"),
    ({"area": {"type": "Point", "coordinates": [104.8, 26.5]}}, "area"),
    ({"area": BOWTIE}, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[500, 26.5], [501, 26.5], [501, 27], [500, 26.5]]]}}, "area"),
    ({"area": {"type": "Polygon", "coordinates": "x"}}, "area"),
    ({"valid_from": "tomorrow"}, "valid_from"),
    ({"valid_to": "2026-07-12T03:10:00"}, "valid_to"),
    ({"valid_to": "2000-01-01T00:00:00+08:00"}, "valid_to"),
    ({"issuer": "x" * 101}, "issuer"),
    ({"note": "a\x00b"}, "note"),
    ({"extra": 1}, "extra"),
])
def test_bad_input_is_400_naming_the_field_and_nothing_is_stored(officer, change, field):
    from city_gis.hazards.models import AreaWarning

    r = officer.post(URL, {**body(SQUARE), **change}, content_type="application/json")
    assert r.status_code == 400 and list(r.json()) == [field], r.content
    assert not AreaWarning.objects.exists()


def test_validity_longer_than_a_week_is_refused(officer):
    r = officer.post(URL, body(SQUARE, hours=24 * 8), content_type="application/json")
    assert r.status_code == 400 and list(r.json()) == ["valid_to"]


@pytest.mark.parametrize("username", ["inspector1", "leader_view", "hazard_gateway"])
def test_only_hazard_officers_issue(client, username):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username=username))
    assert client.post(URL, body(SQUARE), content_type="application/json").status_code == 403
