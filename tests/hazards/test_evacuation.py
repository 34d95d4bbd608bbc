"""Evacuation plans (city_gis/hazards/evacuation.py): road distance by pgRouting, shelter capacity, routes, access.

A crafted place east of the demo city (EPSG:4544 metres from ORIGIN, no demo feature near):

    N (capacity 15) at (1000, 310) — on the northern road, 290 m from the buildings as the crow flies
    ══════════ road (0,300) → (1000,300)
    ║ road (0,0) → (0,300)
    ══════════════════════════════════════ road (0,0) → (2000,0)
            [B1 10 p.] [zone + point] [B2 20 p.]        E (capacity 12) at (1400, 10)

By road E is the nearer for both buildings (B2 ≈ 365 m, B1 ≈ 515 m; N ≈ 2.3–2.4 km round the west).
Greedy: B2 (nearest) fills E with 12 and sends 8 to N; B1 sends 7 to N (now full); 3 people stay unassigned.
"""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.utils import timezone

from city_gis.hazards import evacuation
from city_gis.hazards.alerts import Change
from city_gis.hazards.models import Alert
from layers.models import Building, HazardPoint, HazardZone, Road, Shelter

pytestmark = pytest.mark.django_db
ORIGIN = (495000.0, 2950000.0)


def geom(wkt_local: str, kind: str) -> GEOSGeometry:
    """A geometry given in metres from ORIGIN (EPSG:4544), as stored (EPSG:4490)."""
    import re

    def shift(m: re.Match) -> str:
        return f"{float(m.group(1)) + ORIGIN[0]} {float(m.group(2)) + ORIGIN[1]}"

    g = GEOSGeometry(re.sub(r"(-?[\d.]+) (-?[\d.]+)", shift, f"{kind}{wkt_local}"), srid=4544)
    g.transform(4490)
    return g


def square(x0: float, y0: float, w: float, h: float) -> str:
    return f"((({x0} {y0}, {x0 + w} {y0}, {x0 + w} {y0 + h}, {x0} {y0 + h}, {x0} {y0})))"


@pytest.fixture
def place(db):
    Road.objects.create(grade="branch", geom=geom("((0 0, 2000 0))", "MULTILINESTRING"))
    Road.objects.create(grade="branch", geom=geom("((0 0, 0 300, 1000 300))", "MULTILINESTRING"))
    HazardZone.objects.create(kind="landslide", risk_level="high",
                              geom=geom("(((900 10, 1100 10, 1100 80, 900 80, 900 10)))", "MULTIPOLYGON"))
    point = HazardPoint.objects.create(code="EVACTEST0001", kind="landslide", risk_level="high",
                                       geom=geom("(1000 50)", "POINT"))
    # 19.5 m × 20 m = 390 m² per floor: 1 floor → ceil(390/40) = 10 people, 2 floors → ceil(780/40) = 20
    b1 = Building.objects.create(floors=1, geom=geom(square(920, 20, 19.5, 20), "MULTIPOLYGON"))
    b2 = Building.objects.create(floors=2, geom=geom(square(1060, 20, 19.5, 20), "MULTIPOLYGON"))
    outside = Building.objects.create(floors=5, geom=geom(square(1500, 20, 19.5, 20), "MULTIPOLYGON"))
    east = Shelter.objects.create(name="东避难所", capacity=12, geom=geom("(1400 10)", "POINT"))
    north = Shelter.objects.create(name="北避难所", capacity=15, geom=geom("(1000 310)", "POINT"))
    now = timezone.now()
    alert = Alert.objects.create(hazard_point=point, rule="rain_1h", level=3, value=55.0, threshold=50.0,
                                 rules_version="test", opened_at=now, last_exceeded_at=now)
    return {"alert": alert, "b1": b1, "b2": b2, "outside": outside, "east": east, "north": north, "point": point}


def rows(plan_id: int) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute("SELECT building_id, shelter_id, people FROM hazards_evacuationassignment WHERE plan_id = %s "
                    "ORDER BY id", [plan_id])
        return cur.fetchall()


def test_people_go_to_the_nearest_shelter_by_road_and_overflow_to_the_next(place):
    plan_id = evacuation.build_plan(place["alert"])
    b1, b2, east, north = place["b1"].pk, place["b2"].pk, place["east"].pk, place["north"].pk
    assert rows(plan_id) == [(b2, east, 12), (b2, north, 8), (b1, north, 7), (b1, None, 3)]
    data = evacuation.plan_data(plan_id)
    assert (data["buildings"], data["people_total"], data["people_assigned"], data["people_unassigned"]) == \
        (2, 30, 27, 3)
    assert data["zone_source"] == "hazard_zone" and data["auto"] is False and data["alert_level"] == "orange"
    assert {s["id"]: (s["assigned"], s["capacity"]) for s in data["shelters"]} == {east: (12, 12), north: (15, 15)}
    by = {(a["building"], a["shelter"]): a["distance_m"] for a in data["assignments"]}
    assert 340 < by[(b2, east)] < 400
    assert 2200 < by[(b1, north)] < 2350 and 2350 < by[(b2, north)] < 2500


def test_capacity_is_never_exceeded(place):
    place["east"].capacity = 1
    place["east"].save()
    plan_id = evacuation.build_plan(place["alert"])
    with connection.cursor() as cur:
        cur.execute("""SELECT s.id, s.capacity, sum(a.people) FROM hazards_evacuationassignment a
                       JOIN layers_shelter s ON s.id = a.shelter_id WHERE a.plan_id = %s GROUP BY s.id""", [plan_id])
        loads = cur.fetchall()
    assert loads and all(load <= cap for _sid, cap, load in loads)
    assert evacuation.plan_data(plan_id)["people_unassigned"] == 30 - 16


def test_routes_follow_the_roads_from_the_building_to_the_shelter(place):
    plan_id = evacuation.build_plan(place["alert"])
    with connection.cursor() as cur:
        cur.execute("""
            SELECT a.building_id, a.shelter_id, a.distance_m,
                   ST_Distance(ST_Transform(ST_StartPoint(a.route), 4544),
                               ST_Transform(ST_PointOnSurface(b.geom), 4544)),
                   ST_Distance(ST_Transform(ST_EndPoint(a.route), 4544), ST_Transform(s.geom, 4544)),
                   ST_Length(ST_Transform(a.route, 4544)),
                   ST_Y(ST_Transform(ST_PointN(a.route, (ST_NPoints(a.route) + 1) / 2), 4544)) - %s
            FROM hazards_evacuationassignment a JOIN layers_building b ON b.id = a.building_id
            JOIN layers_shelter s ON s.id = a.shelter_id WHERE a.plan_id = %s""", [ORIGIN[1], plan_id])
        routes = cur.fetchall()
        cur.execute("SELECT count(*) FROM hazards_evacuationassignment WHERE plan_id = %s AND shelter_id IS NULL "
                    "AND route IS NOT NULL", [plan_id])
        assert cur.fetchone()[0] == 0
    assert len(routes) == 3
    for _b, _s, distance, start_gap, end_gap, length, _mid_y in routes:
        assert start_gap < 0.01 and end_gap < 0.01
        assert length == pytest.approx(distance, abs=0.5)  # the route is the distance that ranked the shelter


def test_an_orange_alert_makes_a_plan_by_itself_once(place):
    alert = place["alert"]
    change = Change(alert.pk, "created", 3, alert.hazard_point_id, alert.rule)
    evacuation.on_alert_changes([change])
    evacuation.on_alert_changes([change])
    with connection.cursor() as cur:
        cur.execute("SELECT auto, created_by_id, people_total FROM hazards_evacuationplan WHERE alert_id = %s",
                    [alert.pk])
        assert cur.fetchall() == [(True, None, 30)]
    evacuation.on_alert_changes([Change(alert.pk, "escalated", 4, alert.hazard_point_id, alert.rule)])
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM hazards_evacuationplan WHERE alert_id = %s", [alert.pk])
        assert cur.fetchone()[0] == 2  # red is a new plan


def test_yellow_and_closed_alerts_get_no_plan(place):
    alert = place["alert"]
    alert.level = 2
    with pytest.raises(evacuation.EvacuationError) as exc:
        evacuation.build_plan(alert)
    assert exc.value.field == "alert"
    evacuation.on_alert_changes([Change(alert.pk, "created", 2, alert.hazard_point_id, alert.rule)])
    assert evacuation.latest_plan_id(alert) is None


def test_topology_is_rebuilt_only_when_the_roads_change(place):
    first = evacuation.ensure_topology()
    again = evacuation.ensure_topology()
    assert again["rebuilt"] is False and again["edges"] == first["edges"]
    Road.objects.create(grade="branch", geom=geom("((2000 0, 2100 0))", "MULTILINESTRING"))
    assert evacuation.ensure_topology()["edges"] == first["edges"] + 4  # 100 m in 25 m pieces


# --- HTTP ---------------------------------------------------------------------------------------------------
def url(alert) -> str:
    return f"/api/v1/hazards/alerts/{alert.pk}/evacuation-plan/"


def test_a_hazard_officer_makes_a_plan_and_the_duty_side_reads_it(place, client, user_factory):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username="hazard_officer"))
    assert client.get(url(place["alert"])).status_code == 404  # none yet
    r = client.post(url(place["alert"]))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["created_by"] == "hazard_officer" and body["people_unassigned"] == 3
    route = next(a["route"] for a in body["assignments"] if a["shelter"] == place["east"].pk)
    assert route["type"] == "LineString"
    leader = user_factory("evac_leader_view", roles=["leader_view"])
    client.force_login(leader)
    r = client.get(url(place["alert"]))
    assert r.status_code == 200 and r.json()["id"] == body["id"]
    assert client.post(url(place["alert"])).status_code == 403  # read-only role


def test_others_do_not_see_plans(place, client, user_factory):
    client.force_login(user_factory("evac_clerk", roles=[]))
    evacuation.build_plan(place["alert"])
    assert client.get(url(place["alert"])).status_code == 404
    assert client.post(url(place["alert"])).status_code == 404
    client.logout()
    assert client.get(url(place["alert"])).status_code in (401, 403)


def test_a_yellow_alert_is_refused_naming_the_field(place, client):
    from city_gis.accounts.models import User

    Alert.objects.filter(pk=place["alert"].pk).update(level=2)
    client.force_login(User.objects.get(username="hazard_officer"))
    r = client.post(url(place["alert"]))
    assert r.status_code == 400 and "alert" in r.json()
