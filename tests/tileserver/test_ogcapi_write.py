"""OGC API – Features Part 4 at /ogcapi/collections/{layer}/items (tileserver/ogcapi/writes.py): create, replace,
update and delete through layers.versions.apply_edits (a version each, feature history, tiles invalidated),
ETag / If-Match (stale 412, missing 428), writers by layers.access.can_write only, Basic never writes, invalid
features 400 naming the member with nothing written.

Through Django's test client; the fixture layers of conftest.tile_data (typed: land.test_parcels) and a generic
layer imported per test (land.test_ogc_edit).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import geopandas as gpd
import pytest
from django.test import Client
from shapely.geometry import box

from layers.models import FeatureHistory, GenericFeature, LandParcel, Layer, LayerVersion

from .test_ogcapi_core import PUBLIC, basic

pytestmark = pytest.mark.django_db

GENERIC = "land.test_ogc_edit"
X0, Y0 = 104.86, 26.60  # inside the city, away from the fixture parcels
ITEMS = f"/ogcapi/collections/{GENERIC}/items"


def square(x: float, y: float, size: float = 0.001) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size],
                                                [x, y]]]}


@pytest.fixture
def generic(tmp_path, tile_data) -> Layer:
    """A generic polygon layer of the land department with two features (code, name), version 1."""
    from layers.importer import LayerCreate, import_file

    frame = gpd.GeoDataFrame({"code": ["A", "B"], "name": ["甲", "乙"]},
                             geometry=[box(X0, Y0, X0 + 0.001, Y0 + 0.001),
                                       box(X0 + 0.002, Y0, X0 + 0.003, Y0 + 0.001)], crs="EPSG:4490")
    path = tmp_path / "edit.geojson"
    frame.to_file(path, driver="GeoJSON")
    import_file(str(path), GENERIC, create=LayerCreate(department="land", title_zh="编辑测试"))
    return Layer.objects.get(name=GENERIC)


def token(tile_data) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Token " + tile_data["token"]}


def planner_token() -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username="tiles_planner")
    return {"HTTP_AUTHORIZATION": "Token " + Token.objects.get_or_create(user=user)[0].key}


def send(client, method: str, url: str, body, headers: dict, content_type: str = "application/geo+json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method.lower())(url, data=data, content_type=content_type, **headers)


def ids(layer: Layer) -> dict[str, int]:
    return {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer)}


def versions(layer: Layer) -> list[tuple[int, str, int, int, int]]:
    return [(v.number, v.kind, v.rows_added, v.rows_changed, v.rows_removed)
            for v in LayerVersion.objects.filter(layer=layer).order_by("number")]


def get_etag(client, url: str, headers: dict) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:300]
    return response["ETag"]


def problem(response, status: int, parameter: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    data = json.loads(response.content)
    if parameter is not None:
        assert data.get("parameter") == parameter, data
    return data


# --- conformance ---------------------------------------------------------------------------------------------


def test_conformance_lists_part_4(client, tile_data):
    conforms = json.loads(client.get("/ogcapi/conformance").content)["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update" in conforms


def test_other_methods_are_405_with_the_allowed_ones(client, tile_data):
    response = client.put(f"/ogcapi/collections/{PUBLIC}/items", data="{}", content_type="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD, POST"
    response = client.post("/ogcapi/collections", data="{}", content_type="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


# --- happy paths ---------------------------------------------------------------------------------------------


def test_create_answers_201_with_location_and_etag_and_makes_a_version(client, generic, tile_data):
    response = send(client, "POST", ITEMS + "?comment=" + quote("新建"), {
        "type": "Feature", "geometry": square(X0 + 0.004, Y0), "properties": {"code": "C", "name": "丙"}},
        token(tile_data))
    assert response.status_code == 201, response.content[:500]
    fid = ids(generic)["C"]
    assert response["Location"] == f"http://testserver{ITEMS}/{fid}"
    assert response["ETag"] == '"2"'
    body = json.loads(response.content)
    assert body["id"] == fid and body["properties"] == {"code": "C", "name": "丙"}
    assert versions(generic) == [(1, "append", 2, 0, 0), (2, "edit", 1, 0, 0)]
    assert LayerVersion.objects.get(layer=generic, number=2).comment == "新建"
    assert get_etag(client, response["Location"], token(tile_data)) == '"2"'


def test_replace_update_delete_each_make_one_version(client, generic, tile_data):
    fid = ids(generic)["A"]
    url = f"{ITEMS}/{fid}"
    tag = get_etag(client, url, token(tile_data))
    assert tag == '"1"'
    # PUT: the whole feature; the attribute not given is gone
    response = send(client, "PUT", url, {"type": "Feature", "geometry": square(X0, Y0 + 0.002),
                                         "properties": {"code": "A"}}, {**token(tile_data), "HTTP_IF_MATCH": tag})
    assert response.status_code == 200, response.content[:500]
    assert response["ETag"] == '"2"'
    feature = GenericFeature.objects.get(pk=fid)
    assert feature.attributes == {"code": "A"}
    assert round(feature.geom.extent[1], 6) == Y0 + 0.002
    # PATCH: properties merge, geometry kept
    response = send(client, "PATCH", url, {"properties": {"name": "甲二"}},
                    {**token(tile_data), "HTTP_IF_MATCH": '"2"'}, "application/merge-patch+json")
    assert response.status_code == 200, response.content[:500]
    assert GenericFeature.objects.get(pk=fid).attributes == {"code": "A", "name": "甲二"}
    assert response["ETag"] == '"3"'
    # DELETE
    response = client.delete(url, **token(tile_data), HTTP_IF_MATCH='"3"')
    assert response.status_code == 204
    assert not GenericFeature.objects.filter(pk=fid).exists()
    assert versions(generic) == [(1, "append", 2, 0, 0), (2, "edit", 0, 1, 0), (3, "edit", 0, 1, 0),
                                 (4, "edit", 0, 0, 1)]
    assert FeatureHistory.objects.filter(layer=generic, feature_id=fid).count() == 3  # three states, all closed
    assert client.get(url, **token(tile_data)).status_code == 404


def test_typed_layer_patch_is_validated_by_the_model_and_versioned(client, tile_data):
    parcel = tile_data["public"]
    url = f"/ogcapi/collections/{PUBLIC}/items/{parcel.pk}"
    tag = get_etag(client, url, token(tile_data))
    assert tag == '"0"'  # not versioned yet: the first write makes the baseline
    response = send(client, "PATCH", url, {"properties": {"name": "改名宗地", "area_m2": 1200}},
                    {**token(tile_data), "HTTP_IF_MATCH": tag})
    assert response.status_code == 200, response.content[:500]
    parcel.refresh_from_db()
    assert (parcel.name, parcel.area_m2) == ("改名宗地", 1200.0)
    layer = Layer.objects.get(name=PUBLIC)
    assert versions(layer) == [(1, "baseline", 1, 0, 0), (2, "edit", 0, 1, 0)]
    assert response["ETag"] == '"2"'
    # a value the model refuses (max_length 6): 400 naming the property, nothing written
    response = send(client, "PATCH", url, {"properties": {"landuse_code": "1234567"}},
                    {**token(tile_data), "HTTP_IF_MATCH": '"2"'})
    problem(response, 400, "properties.landuse_code")
    assert LandParcel.objects.get(pk=parcel.pk).landuse_code == "0701"
    assert len(versions(layer)) == 2


def test_a_write_drops_the_tiles_of_its_extent(client, generic, tile_data, django_capture_on_commit_callbacks):
    from layers.signals import layer_changed

    seen = []

    def receiver(sender, layer, what, bbox=None, **kwargs):
        seen.append((layer.name, what, bbox))

    layer_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = send(client, "POST", ITEMS, {"type": "Feature", "geometry": square(X0 + 0.01, Y0),
                                                    "properties": {"code": "T"}}, token(tile_data))
    finally:
        layer_changed.disconnect(receiver)
    assert response.status_code == 201
    (name, what, bbox), = [s for s in seen if s[0] == GENERIC]
    assert what == "features"
    assert [round(c, 6) for c in bbox] == [round(c, 6) for c in (X0 + 0.01, Y0, X0 + 0.011, Y0 + 0.001)]


# --- concurrency ---------------------------------------------------------------------------------------------


def test_stale_if_match_is_412_with_the_current_etag_and_nothing_changes(client, generic, tile_data):
    fid = ids(generic)["B"]
    url = f"{ITEMS}/{fid}"
    response = send(client, "PATCH", url, {"properties": {"name": "乙二"}},
                    {**token(tile_data), "HTTP_IF_MATCH": '"1"'})
    assert response.status_code == 200
    for method in ("PUT", "PATCH"):
        response = send(client, method, url, {"type": "Feature", "geometry": square(X0, Y0),
                                              "properties": {"name": "旧"}},
                        {**token(tile_data), "HTTP_IF_MATCH": '"1"'})
        problem(response, 412, "If-Match")
        assert response["ETag"] == '"2"'
    problem(client.delete(url, **token(tile_data), HTTP_IF_MATCH='"1"'), 412)
    problem(client.delete(url, **token(tile_data), HTTP_IF_MATCH='W/"2"'), 412)  # weak tags never match
    assert GenericFeature.objects.get(pk=fid).attributes == {"code": "B", "name": "乙二"}
    assert len(versions(generic)) == 2


def test_if_match_is_required(client, generic, tile_data):
    url = f"{ITEMS}/{ids(generic)['A']}"
    problem(client.delete(url, **token(tile_data)), 428, "If-Match")
    problem(send(client, "PATCH", url, {"properties": {"name": "x"}}, token(tile_data)), 428, "If-Match")
    assert len(versions(generic)) == 1


# --- who may write -------------------------------------------------------------------------------------------


def test_another_department_is_403_and_nothing_changes(client, tile_data):
    parcel = tile_data["public"]
    url = f"/ogcapi/collections/{PUBLIC}/items/{parcel.pk}"
    assert client.get(url, **planner_token()).status_code == 200  # may read the public layer
    problem(send(client, "PATCH", url, {"properties": {"name": "别人改的"}},
                 {**planner_token(), "HTTP_IF_MATCH": '"0"'}), 403)
    problem(client.delete(url, **planner_token(), HTTP_IF_MATCH='"0"'), 403)
    problem(send(client, "POST", f"/ogcapi/collections/{PUBLIC}/items",
                 {"type": "Feature", "geometry": square(X0, Y0), "properties": {}}, planner_token()), 403)
    assert LandParcel.objects.get(pk=parcel.pk).name == "测试宗地一"
    assert not LayerVersion.objects.filter(layer__name=PUBLIC).exists()


def test_anonymous_is_401_with_a_token_challenge(client, generic, tile_data):
    response = send(client, "POST", ITEMS, {"type": "Feature", "geometry": square(X0, Y0), "properties": {}}, {})
    problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Token")
    assert GenericFeature.objects.filter(layer=generic).count() == 2


def test_basic_and_query_tokens_never_authenticate_writes(client, generic, tile_data):
    feature = {"type": "Feature", "geometry": square(X0 + 0.004, Y0), "properties": {"code": "C"}}
    response = send(client, "POST", ITEMS, feature, basic("tiles_land"))
    problem(response, 401)
    assert "Basic" not in response["WWW-Authenticate"]
    assert client.get(ITEMS, **basic("tiles_land")).status_code == 200  # reads still take Basic
    problem(send(client, "POST", ITEMS + "?token=" + tile_data["token"], feature, {}), 401, "token")
    assert GenericFeature.objects.filter(layer=generic).count() == 2


def test_a_session_writes_only_with_its_csrf_token(generic, tile_data):
    from django.contrib.auth import get_user_model

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.get(username="tiles_land"))
    feature = {"type": "Feature", "geometry": square(X0 + 0.004, Y0), "properties": {"code": "C"}}
    problem(send(browser, "POST", ITEMS, feature, {}), 403, "X-CSRFToken")
    assert GenericFeature.objects.filter(layer=generic).count() == 2
    browser.get("/map/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = send(browser, "POST", ITEMS, feature, {"HTTP_X_CSRFTOKEN": csrf})
    assert response.status_code == 201, response.content[:300]


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("feature", "parameter"), [
    ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 0.001, Y0 + 0.001],
                                                                         [X0 + 0.001, Y0], [X0, Y0 + 0.001],
                                                                         [X0, Y0]]]},
      "properties": {"code": "C"}}, "geometry"),  # self-intersecting bow tie
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [X0, Y0]}, "properties": {}}, "geometry"),
    ({"type": "Feature", "geometry": square(106.5, 26.0), "properties": {}}, "geometry"),  # outside the city
    ({"type": "Feature", "geometry": square(X0, Y0), "properties": {"colour": "red"}}, "properties.colour"),
    ({"type": "Feature", "geometry": square(X0, Y0), "properties": {"code": {"nested": 1}}}, "properties.code"),
    ({"type": "Feature", "properties": {}}, "geometry"),
    ({"type": "FeatureCollection", "features": []}, "type"),
    ({"type": "Feature", "id": 99, "geometry": square(X0, Y0), "properties": {}}, "id"),
])
def test_invalid_features_are_400_naming_the_member_and_nothing_is_written(client, generic, tile_data, feature,
                                                                           parameter):
    response = send(client, "POST", ITEMS, feature, token(tile_data))
    problem(response, 400, parameter)
    assert GenericFeature.objects.filter(layer=generic).count() == 2
    assert len(versions(generic)) == 1


def test_bodies_are_bounded_and_typed(client, generic, tile_data, settings):
    problem(send(client, "POST", ITEMS, "not json", token(tile_data)), 400, "body")
    problem(send(client, "POST", ITEMS, {"type": "Feature"}, token(tile_data), "text/plain"), 415, "Content-Type")
    settings.CITYGIS_API_BODY_MAX_BYTES = 1000
    big = {"type": "Feature", "geometry": square(X0, Y0), "properties": {"name": "x" * 2000}}
    problem(send(client, "POST", ITEMS, big, token(tile_data)), 413)
    assert GenericFeature.objects.filter(layer=generic).count() == 2


def test_unknown_features_are_404(client, generic, tile_data):
    problem(client.delete(f"{ITEMS}/999999999", **token(tile_data), HTTP_IF_MATCH='"1"'), 404)
    problem(client.delete(f"{ITEMS}/abc", **token(tile_data), HTTP_IF_MATCH='"1"'), 404)
    # a feature of another layer is not an item of this one
    other = tile_data["public"].pk
    problem(client.delete(f"{ITEMS}/{other}", **token(tile_data), HTTP_IF_MATCH='"0"'), 404)
    assert LandParcel.objects.filter(pk=other).exists()


def test_typed_put_needs_the_required_fields_and_resets_the_others(client, tile_data):
    parcel = tile_data["public"]
    url = f"/ogcapi/collections/{PUBLIC}/items/{parcel.pk}"
    geometry = square(104.820, 26.580, 0.01)
    response = send(client, "PUT", url, {"type": "Feature", "geometry": geometry, "properties": {"name": "只有名称"}},
                    {**token(tile_data), "HTTP_IF_MATCH": '"0"'})
    data = problem(response, 400, "properties")
    assert "parcel_code" in data["detail"] and "landuse_code" in data["detail"]
    response = send(client, "PUT", url, {"type": "Feature", "id": parcel.pk, "geometry": geometry, "properties": {
        "id": parcel.pk, "parcel_code": parcel.parcel_code, "landuse_code": "0601", "landuse_name": "工业用地"}},
        {**token(tile_data), "HTTP_IF_MATCH": '"0"'})
    assert response.status_code == 200, response.content[:500]
    parcel.refresh_from_db()
    assert (parcel.landuse_code, parcel.name, parcel.right_holder, parcel.area_m2) == ("0601", "", "", None)


def test_collections_say_whether_the_caller_may_write_them(client, generic, tile_data):
    def writable(headers):
        data = json.loads(client.get("/ogcapi/collections?f=json", **headers).content)
        return {c["id"]: c["writable"] for c in data["collections"] if c["id"] in (PUBLIC, GENERIC)}

    assert writable(token(tile_data)) == {PUBLIC: True, GENERIC: True}
    assert writable(planner_token()) == {PUBLIC: False, GENERIC: False}
    assert writable({}) == {PUBLIC: False}


def test_the_schema_follows_a_kind_changing_edit_and_survives_the_others(client, tmp_path, tile_data):
    """A generic collection's schema is cached per attribute set: an edit keeping every value's kind keeps it
    (no rescan of the layer), one putting text where integers were changes the property's type at once."""
    from layers.importer import LayerCreate, import_file

    frame = gpd.GeoDataFrame({"code": ["A", "B"], "floors": [3, 5]},
                             geometry=[box(X0, Y0, X0 + 0.001, Y0 + 0.001),
                                       box(X0 + 0.002, Y0, X0 + 0.003, Y0 + 0.001)], crs="EPSG:4490")
    path = tmp_path / "floors.geojson"
    frame.to_file(path, driver="GeoJSON")
    import_file(str(path), "land.ogc_floors", create=LayerCreate(department="land", title_zh="层数"))
    layer = Layer.objects.get(name="land.ogc_floors")
    url = "/ogcapi/collections/land.ogc_floors"
    feature = {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer)}["A"]

    def floors_type():
        response = client.get(f"{url}/queryables", **token(tile_data))
        assert response.status_code == 200, response.content[:300]
        return json.loads(response.content)["properties"]["floors"]["type"]

    assert floors_type() == "integer"
    stamp = Layer.objects.get(pk=layer.pk).attributes_changed_at
    for value, kind in ((4, "integer"), ("四层", "string")):
        etag = get_etag(client, f"{url}/items/{feature}", token(tile_data))
        response = send(client, "PATCH", f"{url}/items/{feature}", {"properties": {"floors": value}},
                        {**token(tile_data), "HTTP_IF_MATCH": etag}, "application/merge-patch+json")
        assert response.status_code == 200, response.content[:300]
        assert floors_type() == kind
        if value == 4:
            assert Layer.objects.get(pk=layer.pk).attributes_changed_at == stamp
    assert Layer.objects.get(pk=layer.pk).attributes_changed_at > stamp
