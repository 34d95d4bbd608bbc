"""REST for the console: list filters and GeoJSON, hotline entry, detail with history, transitions (409/403/400),
allowed actions, grid lookup, the category tree, and who sees which case."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from city_gis.cases.workflow import perform
from tests.grid.tiny_city import LAT0, LON0, inside

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def client(user=None):
    c = APIClient()
    if user:
        c.force_authenticate(user)
    return c


def numbers(resp):
    body = resp.json()
    return {r["number"] for r in (body["results"] if "results" in body else body)}


@pytest.fixture
def cases(new_case, staff):
    """Three cases in the tiny city: reported (cell 0), dispatched to sanitation (cell 2), a public one (cell 3)."""
    reported = new_case(at=T0)
    dispatched = new_case(at=T0, cell=2, category="0104")
    for action, user, kw in (("accept", "operator", {}), ("register", "leader", {}), ("dispatch", "dispatcher", {})):
        dispatched = perform(dispatched, action, staff[user], at=T0, **kw)
    public = new_case(source="public", cell=3, at=T0)
    return {"reported": reported, "dispatched": dispatched, "public": public}


def test_anonymous_gets_401(cases):
    assert client().get("/api/v1/cases/").status_code == 401
    assert client().get("/api/v1/grid/lookup/?lon=100.0005&lat=30.0005").status_code == 401


def test_list_filters(cases, staff):
    c = client(staff["operator"])
    base = "/api/v1/cases/?district=999901"
    assert numbers(c.get(base)) == {x.number for x in cases.values()}
    assert numbers(c.get(base + "&state=dispatched")) == {cases["dispatched"].number}
    assert numbers(c.get(base + "&category=event:0104")) == {cases["dispatched"].number}
    assert numbers(c.get(base + "&department=sanitation")) == {cases["dispatched"].number}
    assert numbers(c.get(base + "&community=999901001002&source=public")) == {cases["public"].number}
    assert numbers(c.get(base + "&cell=99990100100101")) == {cases["reported"].number}
    assert numbers(c.get(base + "&light=red")) == {x.number for x in cases.values()}  # all deadlines in the past
    assert numbers(c.get(base + "&created_from=2026-11-25")) == set()
    assert numbers(c.get(base + f"&bbox={LON0},{LAT0},{LON0 + 0.0015},{LAT0 + 0.001}")) == {cases["reported"].number}


@pytest.mark.parametrize("query,field", [("state=bogus", "state"), ("light=blue", "light"),
                                         ("created_from=yesterday", "created_from"), ("bbox=1,2,3", "bbox"),
                                         ("category=9999", "category")])
def test_bad_filters_are_400_naming_the_parameter(cases, staff, query, field):
    resp = client(staff["operator"]).get(f"/api/v1/cases/?{query}")
    assert resp.status_code == 400 and field in resp.json()


def test_geojson_by_bbox(cases, staff):
    bbox = f"{LON0},{LAT0},{LON0 + 0.004},{LAT0 + 0.001}"
    for url in (f"/api/v1/cases/geojson/?bbox={bbox}", f"/api/v1/cases/?format=geojson&bbox={bbox}"):
        resp = client(staff["leader"]).get(url)
        assert resp.status_code == 200 and resp["Content-Type"].startswith("application/geo+json")
        fc = resp.json()
        assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
        f = next(f for f in fc["features"] if f["properties"]["number"] == cases["reported"].number)
        assert f["geometry"]["coordinates"] == pytest.approx(list(inside(0)))
        assert f["properties"]["light"] == "red"


def test_operator_enters_a_hotline_case(tiny_city, staff):
    lon, lat = inside(1)
    resp = client(staff["operator"]).post("/api/v1/cases/", {
        "category_code": "0102", "lon": lon, "lat": lat, "description": "市民来电：路口有垃圾",
        "contact": {"phone": "13800000000"}}, format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["source"] == "hotline" and body["state"] == "pending_verification"
    assert body["cell_code"] == "99990100100102" and body["history"][0]["action"] == "report"


@pytest.mark.parametrize("payload,field", [
    ({"category_code": "0102", "lon": 0, "lat": 0, "description": "x"}, "location"),
    ({"category_code": "0102", "lat": 30.0005, "description": "x"}, "lon"),
    ({"category_code": "nope", "lon": 100.0005, "lat": 30.0005, "description": "x"}, "category_code"),
    ({"category_code": "0102", "lon": 100.0005, "lat": 30.0005}, "description"),
])
def test_hotline_entry_validation_names_the_field(tiny_city, staff, payload, field):
    resp = client(staff["operator"]).post("/api/v1/cases/", payload, format="json")
    assert resp.status_code == 400 and field in resp.json()


def test_only_operators_enter_cases(tiny_city, staff):
    lon, lat = inside(1)
    resp = client(staff["handler"]).post("/api/v1/cases/", {"category_code": "0102", "lon": lon, "lat": lat,
                                                           "description": "x"}, format="json")
    assert resp.status_code == 403


def test_detail_has_history(cases, staff):
    body = client(staff["viewer"]).get(f"/api/v1/cases/{cases['dispatched'].pk}/").json()
    assert [h["action"] for h in body["history"]] == ["report", "accept", "register", "dispatch"]
    assert body["history"][-1]["department"] == "sanitation" and body["attachments"] == []


def test_transitions_200_409_403_400(cases, staff):
    url = f"/api/v1/cases/{cases['reported'].pk}/transitions/"
    assert client(staff["operator"]).post(url, {"action": "accept"}, format="json").status_code == 200
    resp = client(staff["operator"]).post(url, {"action": "accept"}, format="json")
    assert resp.status_code == 409 and "受理" in resp.json()["detail"]
    assert client(staff["dispatcher"]).post(url, {"action": "register"}, format="json").status_code == 403
    resp = client(staff["leader"]).post(url, {"action": "void"}, format="json")
    assert resp.status_code == 400 and "reason" in resp.json()
    resp = client(staff["leader"]).post(url, {"action": "void", "reason": "重复"}, format="json")
    assert resp.json()["state"] == "voided"
    assert client(staff["leader"]).post(url, {}, format="json").status_code == 400


def test_allowed_actions_for_the_current_user(cases, staff):
    url = f"/api/v1/cases/{cases['dispatched'].pk}/allowed_actions/"
    names = [a["name"] for a in client(staff["handler"]).get(url).json()]
    assert names == ["return", "request_extension", "request_suspend", "dispose"]
    dispose = client(staff["handler"]).get(url).json()[-1]
    assert dispose["label"] == "处置完毕" and dispose["fields"][0]["name"] == "result"
    assert [a["name"] for a in client(staff["viewer"]).get(url).json()] == []


def test_handlers_see_only_their_departments_cases(cases, staff):
    assert numbers(client(staff["handler"]).get("/api/v1/cases/")) >= {cases["dispatched"].number}
    assert cases["reported"].number not in numbers(client(staff["handler"]).get("/api/v1/cases/"))
    assert client(staff["other_handler"]).get(f"/api/v1/cases/{cases['dispatched'].pk}/").status_code == 404
    url = f"/api/v1/cases/{cases['dispatched'].pk}/transitions/"
    assert client(staff["other_handler"]).post(url, {"action": "dispose", "result": "x"}, format="json").status_code == 404


def test_inspectors_see_their_reports_and_tasks(cases, staff):
    mine = numbers(client(staff["inspector"]).get("/api/v1/cases/?district=999901"))
    assert mine == {cases["reported"].number, cases["dispatched"].number}
    assert numbers(client(staff["inspector2"]).get("/api/v1/cases/?district=999901")) == set()


def test_grid_lookup(tiny_city, staff):
    c = client(staff["inspector"])
    body = c.get(f"/api/v1/grid/lookup/?lon={inside(0)[0]}&lat={inside(0)[1]}").json()
    assert body["cell_code"] == "99990100100101" and body["address"] == "测试区 测试街道 东社区 测试路附近"
    resp = c.get("/api/v1/grid/lookup/?lon=0&lat=0")
    assert resp.status_code == 400 and "location" in resp.json()
    assert "lat" in c.get("/api/v1/grid/lookup/?lon=100").json()
    assert "lon" in c.get("/api/v1/grid/lookup/?lon=east&lat=30").json()


def test_category_tree(db, staff):
    tree = client(staff["inspector"]).get("/api/v1/categories/").json()
    events = {(n["kind"], n["big_code"]): n for n in tree}
    garbage = next(c for c in events[("event", "01")]["children"] if c["code"] == "0102")
    assert garbage["name_zh"] == "暴露垃圾" and garbage["default_department"] == "sanitation"
    assert events[("component", "01")]["big_name_zh"] == "公用设施"


def test_openapi_schema_builds(db, staff):
    resp = client(staff["operator"]).get("/api/schema/?format=json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert "/api/v1/cases/{id}/transitions/" in paths and "/api/v1/grid/lookup/" in paths
