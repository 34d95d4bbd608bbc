"""/emergency/ (the geohazard duty page): who opens it, the device readings endpoint behind its chart, the
printable per-community evacuation list, and in a real browser an orange alert in the list with its colour,
acknowledged, a device chart, the plan's routes on the map; the console's new-alert banner."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from .conftest import require_backend


def _login(client, username: str):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username=username))


def _gauge(n: int = 0):
    from city_gis.hazards.models import Device

    return Device.objects.filter(type="rain_gauge", status="active").select_related("hazard_point").order_by("code")[n]


def _put(device, when: dt.datetime, **values):
    from city_gis.hazards.ingest import store
    from city_gis.hazards.validation import Reading

    return store([Reading(device.pk, when, values)])


def _orange(device, now: dt.datetime | None = None):
    """Rain of 51 mm within an hour on the gauge (orange, through the one ingestion path); the open alert."""
    from city_gis.hazards.models import Alert

    now = now or timezone.now()
    for minutes, mm in ((40, 21.0), (30, 10.0), (20, 20.0)):
        _put(device, now - dt.timedelta(minutes=minutes), rain_mm=mm)
    return Alert.objects.get(hazard_point=device.hazard_point, rule="rain_1h", closed_at=None)


@pytest.mark.django_db
@pytest.mark.parametrize("username, status", [
    ("hazard_officer", 200), ("admin", 200), ("leader", 200), ("leader_view", 200), ("dept_geohazard", 200),
    ("dispatcher", 403), ("inspector1", 403), ("planner", 403), ("dept_sanitation", 403)])
def test_the_duty_side_opens_the_emergency_page(client, username, status):
    _login(client, username)
    response = client.get("/emergency/")
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "frontend/js/emergency.js" in body and "vendor/chartjs/chart.umd.js" in body
        assert 'href="/emergency/"' in body  # the menu entry


@pytest.mark.django_db
def test_hazard_officers_land_on_the_emergency_page(client):
    _login(client, "hazard_officer")
    assert client.get("/")["Location"] == "/emergency/"


@pytest.mark.django_db
def test_the_menu_offers_the_page_only_to_the_duty_side(client):
    _login(client, "dispatcher")
    assert 'href="/emergency/"' not in client.get("/console/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/emergency/", "/emergency/alerts/1/evacuation-list/"])
def test_anonymous_visitors_log_in_first(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_the_console_config_carries_the_alert_flag_only_for_those_who_see_alerts(client):
    _login(client, "leader")
    assert '"hazardAlerts"' in client.get("/console/").content.decode()
    _login(client, "dispatcher")
    assert '"hazardAlerts"' not in client.get("/console/").content.decode()


# --- GET /api/v1/hazards/devices/{code}/readings/ ---------------------------------------------------------------

@pytest.mark.django_db
def test_readings_default_to_the_last_72_hours_oldest_first(client):
    gauge = _gauge()
    now = timezone.now()
    for hours, mm in ((80, 1.0), (50, 2.0), (2, 3.0)):
        _put(gauge, now - dt.timedelta(hours=hours), rain_mm=mm)
    _login(client, "hazard_officer")
    body = client.get(f"/api/v1/hazards/devices/{gauge.code}/readings/").json()
    mine = [r["values"]["rain_mm"] for r in body["readings"] if r["values"].get("rain_mm") in (1.0, 2.0, 3.0)]
    assert mine[-2:] == [2.0, 3.0] and 1.0 not in mine
    assert body["device"] == gauge.code and body["truncated"] is False and body["count"] == len(body["readings"])
    stamps = [r["observed_at"] for r in body["readings"]]
    assert stamps == sorted(stamps)
    since = (now - dt.timedelta(hours=90)).isoformat()
    until = (now - dt.timedelta(hours=40)).isoformat()
    body = client.get(f"/api/v1/hazards/devices/{gauge.code}/readings/", {"since": since, "until": until}).json()
    values = [r["values"].get("rain_mm") for r in body["readings"]]
    assert 1.0 in values and 2.0 in values and 3.0 not in values


@pytest.mark.django_db
def test_readings_are_bounded_in_rows(client, monkeypatch):
    from city_gis.hazards import readings

    gauge = _gauge()
    now = timezone.now()
    for minutes in (30, 20, 10):
        _put(gauge, now - dt.timedelta(minutes=minutes), rain_mm=0.5)
    monkeypatch.setattr(readings, "READINGS_MAX_ROWS", 2)
    _login(client, "hazard_officer")
    body = client.get(f"/api/v1/hazards/devices/{gauge.code}/readings/").json()
    assert body["truncated"] is True and body["count"] == 2
    newest = max(dt.datetime.fromisoformat(r["observed_at"]) for r in body["readings"])
    assert abs((newest - (now - dt.timedelta(minutes=10))).total_seconds()) < 1


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [
    ({"since": "yesterday"}, "since"),
    ({"until": "0001-01-01T00:00:00Z"}, "until"),
    ({"until": "2026-13-40T00:00:00Z"}, "until"),
    ({"since": "2026-06-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "since"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "since"),  # more than 31 days
])
def test_bad_windows_are_400_naming_the_field(client, query, field):
    _login(client, "hazard_officer")
    response = client.get(f"/api/v1/hazards/devices/{_gauge().code}/readings/", query)
    assert response.status_code == 400 and field in response.json()


@pytest.mark.django_db
def test_readings_follow_who_sees_the_device(client, user_factory):
    from city_gis.hazards.models import MonitoredPoint

    gauge = _gauge()
    url = f"/api/v1/hazards/devices/{gauge.code}/readings/"
    _login(client, "dispatcher")
    assert client.get(url).status_code == 404
    monitor = MonitoredPoint.objects.get(hazard_point=gauge.hazard_point).monitor
    client.force_login(monitor)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code in (401, 403)


def test_the_schema_documents_the_readings_action(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    op = schema["paths"]["/api/v1/hazards/devices/{code}/readings/"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"code", "since", "until"}
    assert {"200", "400"} <= set(op["responses"])


# --- the printable list -------------------------------------------------------------------------------------------

def _planned_alert():
    """An orange alert on a demo point whose automatic plan has routed assignments (demo gauges in turn)."""
    from city_gis.hazards import evacuation

    for n in range(12):
        alert = _orange(_gauge(n))
        plan_id = evacuation.latest_plan_id(alert)
        if plan_id and any(a["route"] for a in evacuation.plan_data(plan_id)["assignments"]):
            return alert, evacuation.plan_data(plan_id)
    pytest.fail("no demo hazard point among the first 12 gauges has a routed evacuation plan")


@pytest.mark.django_db
def test_the_printable_list_groups_the_plan_by_community(client):
    alert, plan = _planned_alert()
    _login(client, "hazard_officer")
    response = client.get(f"/emergency/alerts/{alert.pk}/evacuation-list/")
    assert response.status_code == 200
    html = response.content.decode()
    assert alert.hazard_point.name in html and "window.print()" in html
    for a in plan["assignments"]:
        assert f"<td>{a['building']}</td>" in html
        if a["community_code"]:
            assert f'data-community="{a["community_code"]}"' in html and a["community_name"] in html
        if a["shelter_name"]:
            assert a["shelter_name"] in html
    assert html.count('class="community"') == len({a["community_code"] for a in plan["assignments"]})
    _login(client, "dispatcher")
    assert client.get(f"/emergency/alerts/{alert.pk}/evacuation-list/").status_code == 403


@pytest.mark.django_db
def test_the_printable_list_is_404_without_a_plan(client):
    from city_gis.hazards.models import Alert

    gauge = _gauge()
    now = timezone.now()
    alert = Alert.objects.create(hazard_point=gauge.hazard_point, rule="test_rule", level=2, rules_version="t",
                                 opened_at=now, last_exceeded_at=now)
    _login(client, "hazard_officer")
    assert client.get(f"/emergency/alerts/{alert.pk}/evacuation-list/").status_code == 404
    assert client.get("/emergency/alerts/999999999/evacuation-list/").status_code == 404


def test_community_list_groups_and_orders():
    from city_gis.hazards.evacuation import community_list

    plan = {"assignments": [
        {"community_code": "", "community_name": "", "people": 3, "building": 9},
        {"community_code": "B", "community_name": "乙", "people": 2, "building": 2},
        {"community_code": "A", "community_name": "甲", "people": 5, "building": 1},
        {"community_code": "B", "community_name": "乙", "people": 4, "building": 3}]}
    groups = community_list(plan)
    assert [(g["code"], g["people"], len(g["rows"])) for g in groups] == [("A", 5, 1), ("B", 6, 2), ("", 3, 1)]


# --- in a real browser ----------------------------------------------------------------------------------------------

@pytest.fixture
def committed_alerts(committed, django_db_blocker):
    """Readings, alerts (with their plans and patrols) the browser test commits: removed after it."""
    from city_gis.hazards.models import Alert, Device

    with django_db_blocker.unblock():
        before = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        seen = dict(Device.objects.values_list("pk", "last_reading_at"))
        started = timezone.now() - dt.timedelta(hours=2)
        yield
        Alert.objects.filter(pk__gt=before).delete()
        with connection.cursor() as cur:
            cur.execute("DELETE FROM hazards_reading WHERE received_at >= %s", [started])
        for pk, at in seen.items():
            Device.objects.filter(pk=pk).update(last_reading_at=at)


@pytest.mark.browser
def test_an_officer_sees_an_orange_alert_acknowledges_it_and_sees_chart_and_routes(open_as, committed_alerts,
                                                                                  django_db_blocker):
    require_backend("/api/v1/hazards/alerts/", "/api/v1/hazards/devices/X1/readings/")
    with django_db_blocker.unblock():
        alert, plan = _planned_alert()
        device_code = _gauge(0).code if alert.hazard_point_id == _gauge(0).hazard_point_id else None
        device_code = device_code or alert.hazard_point.devices.filter(type="rain_gauge").first().code
    page, probe = open_as("hazard_officer", "/emergency/")
    item = page.locator(f"#em-alerts li[data-alert='{alert.pk}']")
    item.wait_for(timeout=30_000)
    assert item.get_attribute("data-level") == "orange"
    colour = item.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert colour == "rgb(245, 128, 37)"
    first = page.locator("#em-alerts li[data-alert]").first  # orange or above leads the list
    assert first.get_attribute("data-level") in ("orange", "red")
    item.locator("button[data-ack]").click()
    page.wait_for_selector(f"#em-alerts li[data-alert='{alert.pk}'] .em-acked", timeout=15_000)
    with django_db_blocker.unblock():
        alert.refresh_from_db()
        assert alert.acknowledged_by.username == "hazard_officer"
    # the plan: summary, print link, routes drawn as Leaflet polylines
    page.locator(f"#em-alerts li[data-alert='{alert.pk}'] b").click()
    page.wait_for_selector("#em-plan-summary", timeout=15_000)
    assert str(plan["people_total"]) in page.inner_text("#em-plan-summary")
    assert page.get_attribute("#em-print", "href") == f"/emergency/alerts/{alert.pk}/evacuation-list/"
    assert page.locator("#em-map path.em-route").count() > 0
    # the device chart. The map's WMS renders (cold, slow on a loaded test machine) would hold the browser's few
    # connections to the test server ahead of the readings call: they are not what this step tests
    page.route(re.compile(r"/ows\?"), lambda route: route.abort())
    page.evaluate(f"""(() => {{ const m = window.CityGIS.emergencyMap; let hit = null;
        m.eachLayer((l) => {{ if (l.cgDevice === {device_code!r}) hit = l; }}); hit.fire('click'); }})()""")
    try:
        page.wait_for_function(f"document.getElementById('em-chart').dataset.device === {device_code!r}",
                               timeout=60_000)  # queued behind the WMS tiles of the new view
    except Exception:
        pytest.fail(f"no chart: {page.inner_text('#em-device')!r} {probe.errors}")
    points = page.evaluate("window.CityGIS.emergencyChart.data.datasets[0].data.filter((v) => v != null).length")
    assert points >= 3
    assert not [e for e in probe.errors if "favicon" not in e and "/ows?" not in e], probe.errors


@pytest.mark.browser
def test_the_console_shows_a_new_alert_banner(open_as, committed_alerts, django_db_blocker):
    require_backend("/api/v1/hazards/alerts/")
    with django_db_blocker.unblock():
        alert = _orange(_gauge(0))
    page, probe = open_as("leader", "/console/")
    banner = page.locator("#hazard-alert-banner")
    banner.wait_for(state="visible", timeout=20_000)
    assert alert.hazard_point.name in banner.inner_text() and "新预警" in banner.inner_text()
    assert banner.locator("a").get_attribute("href") == "/emergency/"
    banner.locator("[data-dismiss]").click()
    assert banner.is_hidden()
    assert not [e for e in probe.errors if "favicon" not in e], probe.errors
