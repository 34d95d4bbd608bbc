"""Layer versions: every import, edit and rollback is a numbered version with its counts; the feature history
answers "the layer as of version n" and "what changed from m to n"; the REST endpoints behind layers.access."""

from __future__ import annotations

import geopandas as gpd
import pytest
from django.db import connection
from shapely.geometry import box

from layers.importer import LayerCreate, LayerImportError, import_file
from layers.models import FeatureHistory, GenericFeature, LandParcel, Layer, LayerVersion
from layers.versions import (
    EditConflict,
    VersionError,
    apply_edits,
    current_versions,
    diff,
    rollback,
    state_at,
)

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db


def frame(rows: list[tuple[str, str, int]]) -> gpd.GeoDataFrame:
    """Squares at column `i` with attributes code/name: [(code, name, i), …]."""
    geoms = [box(LON0 + i * 0.002, LAT0, LON0 + i * 0.002 + 0.001, LAT0 + 0.001) for _c, _n, i in rows]
    return gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [r[1] for r in rows]}, geometry=geoms,
                            crs="EPSG:4490")


def write(tmp_path, rows, name="data") -> str:
    path = tmp_path / f"{name}.geojson"
    frame(rows).to_file(path, driver="GeoJSON")
    return str(path)


V1 = [("A", "甲", 0), ("B", "乙", 1), ("C", "丙", 2)]
V2 = [("D", "丁", 3), ("E", "戊", 4)]
# replace: A unchanged, B renamed, C moved, D and E gone, F new
V3 = [("A", "甲", 0), ("B", "乙二", 1), ("C", "丙", 7), ("F", "己", 5)]


def features(layer: Layer) -> dict[str, dict]:
    """The layer's live features by code: {code: {"name", "bounds"}}."""
    return {f.attributes["code"]: {"name": f.attributes["name"], "bounds": tuple(round(c, 6) for c in f.geom.extent)}
            for f in GenericFeature.objects.filter(layer=layer)}


def as_of(layer: Layer, n: int) -> dict[str, dict]:
    matched, page = state_at(layer, n, limit=None)
    assert matched == len(page)
    out = {}
    for f in page:
        xs = [p[0] for p in f["geometry"]["coordinates"][0]]
        ys = [p[1] for p in f["geometry"]["coordinates"][0]]
        out[f["properties"]["code"]] = {"name": f["properties"]["name"],
                                        "bounds": tuple(round(c, 6) for c in (min(xs), min(ys), max(xs), max(ys)))}
    return out


@pytest.fixture
def layer_v3(tmp_path) -> Layer:
    """land.lyt_versions after an import (v1), an append (v2) and a replace keyed on `code` (v3)."""
    import_file(write(tmp_path, V1, "v1"), "land.lyt_versions", create=LayerCreate(department="land", title_zh="版本"),
                comment="首次导入")
    import_file(write(tmp_path, V2, "v2"), "land.lyt_versions", mode="append")
    import_file(write(tmp_path, V3, "v3"), "land.lyt_versions", mode="replace", key="code")
    return Layer.objects.get(name="land.lyt_versions")


def test_import_append_replace_make_versions_with_their_counts(layer_v3):
    versions = list(LayerVersion.objects.filter(layer=layer_v3).order_by("number"))
    assert [(v.number, v.kind, v.rows_added, v.rows_changed, v.rows_removed, v.feature_count) for v in versions] == [
        (1, "append", 3, 0, 0, 3), (2, "append", 2, 0, 0, 5), (3, "replace", 1, 2, 2, 4)]
    assert versions[0].comment == "首次导入"
    # v3 touched the moved and the new squares, the removed ones and the renamed one
    assert versions[2].extent.extent == pytest.approx((LON0 + 0.002, LAT0, LON0 + 0.015, LAT0 + 0.001))


def test_replace_keeps_the_ids_of_features_matched_by_key(layer_v3):
    first = {f["properties"]["code"]: f["id"] for f in state_at(layer_v3, 1, limit=None)[1]}
    now = {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer_v3)}
    assert {c: now[c] for c in "ABC"} == first


def test_state_as_of_a_version_is_the_layer_then(layer_v3):
    assert as_of(layer_v3, 1) == {
        "A": {"name": "甲", "bounds": (LON0, LAT0, LON0 + 0.001, LAT0 + 0.001)},
        "B": {"name": "乙", "bounds": (LON0 + 0.002, LAT0, LON0 + 0.003, LAT0 + 0.001)},
        "C": {"name": "丙", "bounds": (LON0 + 0.004, LAT0, LON0 + 0.005, LAT0 + 0.001)},
    }
    assert set(as_of(layer_v3, 2)) == {"A", "B", "C", "D", "E"}
    assert as_of(layer_v3, 3) == features(layer_v3)


def test_diff_lists_added_changed_and_removed_features(layer_v3):
    d = diff(layer_v3, 1, 3, limit=None)
    assert d.counts == {"added": 1, "changed": 2, "removed": 0}
    assert [f["properties"]["code"] for f in d.features["added"]] == ["F"]
    assert sorted((f["properties"]["code"], f["properties"]["name"]) for f in d.features["changed"]) == [
        ("B", "乙二"), ("C", "丙")]
    d23 = diff(layer_v3, 2, 3, limit=None)
    assert d23.counts == {"added": 1, "changed": 2, "removed": 2}
    assert sorted(f["properties"]["code"] for f in d23.features["removed"]) == ["D", "E"]
    assert diff(layer_v3, 3, 3).counts == {"added": 0, "changed": 0, "removed": 0}
    page = diff(layer_v3, 2, 3, limit=1, offset=1)
    assert [len(page.features[k]) for k in ("added", "changed", "removed")] == [0, 1, 1]
    with pytest.raises(VersionError) as err:
        diff(layer_v3, 3, 1)
    assert err.value.field == "from"


def test_rollback_makes_a_new_version_equal_to_the_old_one(layer_v3):
    version = rollback(layer_v3, None, 1, "撤销替换")
    assert (version.number, version.kind, version.restores, version.comment) == (4, "rollback", 1, "撤销替换")
    assert (version.rows_added, version.rows_changed, version.rows_removed) == (0, 2, 1)
    assert features(layer_v3) == as_of(layer_v3, 1) == as_of(layer_v3, 4)
    assert sorted(f["id"] for f in state_at(layer_v3, 4, limit=None)[1]) == sorted(
        f["id"] for f in state_at(layer_v3, 1, limit=None)[1])
    assert Layer.objects.get(pk=layer_v3.pk).feature_count == 3
    assert diff(layer_v3, 1, 4).counts == {"added": 0, "changed": 0, "removed": 0}


def test_a_failed_import_leaves_no_version_and_no_rows(layer_v3, tmp_path):
    bad = frame([("X", "x", 0)])
    bad.loc[1] = ["Y", "y", None]  # an empty geometry: a rejected row aborts the import
    path = tmp_path / "bad.geojson"
    bad.to_file(path, driver="GeoJSON")
    before = (features(layer_v3), FeatureHistory.objects.filter(layer=layer_v3).count())
    with pytest.raises(LayerImportError):
        import_file(str(path), "land.lyt_versions", mode="replace")
    assert LayerVersion.objects.filter(layer=layer_v3).count() == 3
    assert (features(layer_v3), FeatureHistory.objects.filter(layer=layer_v3).count()) == before


def test_a_replace_without_key_keeps_identical_features(tmp_path):
    import_file(write(tmp_path, V1, "a"), "land.lyt_nokey", create=LayerCreate(department="land", title_zh="无键"))
    layer = Layer.objects.get(name="land.lyt_nokey")
    import_file(write(tmp_path, [("A", "甲", 0), ("B", "乙二", 1), ("C", "丙", 2)], "b"), "land.lyt_nokey",
                mode="replace")
    v2 = LayerVersion.objects.get(layer=layer, number=2)
    # without a key a renamed feature is a different feature: removed + added; the others are unchanged
    assert (v2.rows_added, v2.rows_changed, v2.rows_removed) == (1, 0, 1)


def test_a_typed_replace_matches_on_the_unique_code_and_rolls_back(test_parcels_layer, parcels, tmp_path):
    parcels.iloc[:2].to_file(tmp_path / "p.geojson", driver="GeoJSON")
    import_file(str(tmp_path / "p.geojson"), "land.lyt_parcels")  # v1: the first import of the layer
    changed = parcels.copy()
    changed.loc[0, "landuse_name"] = "改了"
    changed.to_file(tmp_path / "q.geojson", driver="GeoJSON")
    report = import_file(str(tmp_path / "q.geojson"), "land.lyt_parcels", mode="replace")
    # replace matched on the unique parcel_code: T-001 changed, T-002 unchanged, T-003 new
    assert (report.version, report.rows_added, report.rows_changed, report.rows_removed) == (2, 1, 1, 0)
    old = state_at(test_parcels_layer, 1, limit=None)[1]
    assert sorted(f["properties"]["parcel_code"] for f in old) == ["T-001", "T-002"]
    assert {f["properties"]["landuse_name"] for f in old if f["properties"]["parcel_code"] == "T-001"} == {"城镇住宅用地"}
    rollback(test_parcels_layer, None, 1)
    assert sorted(LandParcel.objects.filter(parcel_code__startswith="T-").values_list("parcel_code", "landuse_name")) == [
        ("T-001", "城镇住宅用地"), ("T-002", "商业服务业设施用地")]


def test_demo_layer_rows_become_a_baseline_version(tmp_path):
    layer = Layer.objects.get(name="land.parcels")
    count = LandParcel.objects.count()
    one = LandParcel.objects.order_by("pk").first()
    version = apply_edits(layer, None, [{"op": "update", "id": one.pk, "properties": {"right_holder": "新权利人"}}],
                          "更正权利人")
    baseline = LayerVersion.objects.get(layer=layer, number=1)
    assert (baseline.kind, baseline.rows_added, baseline.feature_count) == ("baseline", count, count)
    assert (version.number, version.rows_changed, version.rows_added, version.rows_removed) == (2, 1, 0, 0)


# --- edit sessions ---------------------------------------------------------------------------------------------
SQUARE = {"type": "Polygon", "coordinates": [[[LON0, LAT0 + 0.01], [LON0 + 0.001, LAT0 + 0.01],
                                              [LON0 + 0.001, LAT0 + 0.011], [LON0, LAT0 + 0.011],
                                              [LON0, LAT0 + 0.01]]]}


def test_apply_edits_inserts_updates_and_deletes_as_one_version(layer_v3):
    ids = {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer_v3)}
    seen = current_versions(layer_v3, [ids["A"], ids["B"]])
    assert seen == {ids["A"]: 1, ids["B"]: 3}
    version = apply_edits(layer_v3, None, [
        {"op": "insert", "geometry": SQUARE, "properties": {"code": "G", "name": "庚"}},
        {"op": "update", "id": ids["A"], "properties": {"name": "甲二"}},
        {"op": "delete", "id": ids["B"]},
    ], "编辑", expected_versions=seen)
    assert (version.number, version.kind, version.rows_added, version.rows_changed, version.rows_removed) == (
        4, "edit", 1, 1, 1)
    assert {c: f["name"] for c, f in features(layer_v3).items()} == {"A": "甲二", "C": "丙", "F": "己", "G": "庚"}
    assert current_versions(layer_v3, [ids["A"]]) == {ids["A"]: 4}


def test_apply_edits_refuses_a_stale_copy_and_writes_nothing(layer_v3):
    ids = {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer_v3)}
    before = features(layer_v3)
    with pytest.raises(EditConflict) as err:
        apply_edits(layer_v3, None, [{"op": "delete", "id": ids["C"]}, {"op": "update", "id": ids["B"],
                                     "properties": {"name": "x"}}], expected_versions={ids["B"]: 1})
    assert (err.value.feature_id, err.value.expected, err.value.current, err.value.field) == (
        ids["B"], 1, 3, "expected_versions")
    assert features(layer_v3) == before and LayerVersion.objects.filter(layer=layer_v3).count() == 3


@pytest.mark.parametrize(("edit", "field"), [
    ({"op": "move"}, "edits[1].op"),
    ({"op": "update", "id": "7"}, "edits[1].id"),
    ({"op": "update", "id": 999_999_999}, "edits[1].id"),
    ({"op": "insert", "geometry": {"type": "Point", "coordinates": [LON0, LAT0]}}, "edits[1].geometry"),
    ({"op": "insert", "geometry": "POINT(1 2)"}, "edits[1].geometry"),
    ({"op": "insert", "geometry": SQUARE, "properties": {"bad\x00name": 1}}, "edits[1].properties.bad\x00name"),
    ({"op": "insert", "geometry": SQUARE, "properties": {"name": {"nested": 1}}}, "edits[1].properties.name"),
    # outside the city's outline (the union of the districts, city_gis.grid.outline), inside its bounding box
    ({"op": "insert", "geometry": {"type": "Polygon", "coordinates": [[[104.35, 26.85], [104.351, 26.85],
                                                                    [104.351, 26.851], [104.35, 26.85]]]}},
     "edits[1].geometry"),
])
def test_apply_edits_names_the_bad_edit_and_writes_nothing(layer_v3, edit, field):
    ids = [f.pk for f in GenericFeature.objects.filter(layer=layer_v3)]
    before = features(layer_v3)
    with pytest.raises(VersionError) as err:
        apply_edits(layer_v3, None, [{"op": "delete", "id": ids[0]}, edit])
    assert err.value.field == field
    assert features(layer_v3) == before and LayerVersion.objects.filter(layer=layer_v3).count() == 3


def test_apply_edits_checks_typed_values(test_parcels_layer, parcels, tmp_path):
    parcels.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    import_file(str(tmp_path / "p.geojson"), "land.lyt_parcels")
    one = LandParcel.objects.get(parcel_code="T-001")
    with pytest.raises(VersionError) as err:
        apply_edits(test_parcels_layer, None, [{"op": "update", "id": one.pk, "properties": {"area_m2": "很大"}}])
    assert err.value.field == "edits[0].properties.area_m2"
    with pytest.raises(VersionError) as err:
        apply_edits(test_parcels_layer, None, [{"op": "insert", "geometry": SQUARE,
                                                "properties": {"parcel_code": "T-009"}}])
    assert err.value.field == "edits[0].properties"  # landuse_code and landuse_name are required
    v = apply_edits(test_parcels_layer, None, [{"op": "insert", "geometry": SQUARE, "properties": {
        "parcel_code": "T-009", "landuse_code": "0701", "landuse_name": "城镇住宅用地"}}])
    assert LandParcel.objects.get(parcel_code="T-009").geom.geom_type == "MultiPolygon"
    assert v.rows_added == 1
    # null is "no value" (what an empty form field sends): optional text becomes "", a required field is refused
    apply_edits(test_parcels_layer, None, [{"op": "insert", "geometry": SQUARE, "properties": {
        "parcel_code": "T-010", "landuse_code": "0701", "landuse_name": "城镇住宅用地", "tenure": None,
        "area_m2": None, "synthetic": None}}])
    ten = LandParcel.objects.get(parcel_code="T-010")
    assert (ten.tenure, ten.area_m2, ten.synthetic) == ("", None, False)
    with pytest.raises(VersionError) as err:
        apply_edits(test_parcels_layer, None, [{"op": "update", "id": ten.pk, "properties": {"landuse_code": None}}])
    assert err.value.field == "edits[0].properties.landuse_code"


def test_an_edit_writes_only_its_features_history(layer_v3):
    rows = FeatureHistory.objects.filter(layer=layer_v3).count()
    one = GenericFeature.objects.filter(layer=layer_v3).first()
    apply_edits(layer_v3, None, [{"op": "update", "id": one.pk, "properties": {"name": "新"}}])
    assert FeatureHistory.objects.filter(layer=layer_v3).count() == rows + 1
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM layers_featurehistory WHERE layer_id = %s AND valid_to IS NULL",
                    [layer_v3.pk])
        assert cur.fetchone()[0] == GenericFeature.objects.filter(layer=layer_v3).count()


# --- the REST endpoints ----------------------------------------------------------------------------------------
@pytest.fixture
def land_steward(user_factory):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user_factory("t_ver_land", roles=["data_steward"], department="land"))
    return client


@pytest.fixture
def planning_steward(user_factory):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user_factory("t_ver_planning", roles=["data_steward"], department="planning"))
    return client


URL = "/api/v1/layers/land.lyt_versions"


def test_the_versions_endpoints_list_show_and_diff(layer_v3, land_steward, planning_steward):
    listing = land_steward.get(f"{URL}/versions/").json()
    assert listing["count"] == 3
    assert [(v["number"], v["kind"], v["rows_added"], v["rows_changed"], v["rows_removed"])
            for v in listing["results"]] == [(3, "replace", 1, 2, 2), (2, "append", 2, 0, 0), (1, "append", 3, 0, 0)]
    assert listing["results"][2]["comment"] == "首次导入"
    # reading needs only read access: planning reads the internal layer too
    one = planning_steward.get(f"{URL}/versions/1/", {"limit": 2}).json()
    assert one["version"]["number"] == 1 and one["version"]["feature_count"] == 3
    assert (one["features"]["numberMatched"], one["features"]["numberReturned"]) == (3, 2)
    rest = planning_steward.get(f"{URL}/versions/1/", {"limit": 2, "offset": 2}).json()["features"]["features"]
    assert [f["properties"]["code"] for f in one["features"]["features"] + rest] == ["A", "B", "C"]
    d = land_steward.get(f"{URL}/versions/3/diff/", {"from": 1}).json()
    assert (d["from"], d["to"]) == (1, 3)
    assert {k: d[k]["numberMatched"] for k in ("added", "changed", "removed")} == {"added": 1, "changed": 2, "removed": 0}
    assert [f["properties"]["code"] for f in d["added"]["features"]] == ["F"]


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/versions/99/", {}, 404, None),
    ("/versions/x/", {}, 400, "number"),
    ("/versions/0/", {}, 400, "number"),
    ("/versions/1/", {"limit": "100000"}, 400, "limit"),
    ("/versions/2/diff/", {"from": "3"}, 400, "from"),
    ("/versions/2/diff/", {"from": "x"}, 400, "from"),
    ("/versions/2/diff/", {}, 400, "from"),
    ("/versions/99/diff/", {"from": "1"}, 404, None),
])
def test_bad_version_requests_name_the_field(layer_v3, land_steward, path, params, status, field):
    response = land_steward.get(URL + path, params)
    assert response.status_code == status
    if field:
        assert list(response.json()) == [field]


def test_versions_of_a_hidden_layer_are_404(layer_v3):
    from rest_framework.test import APIClient

    assert APIClient().get(f"{URL}/versions/").status_code == 404  # internal: not for anonymous readers


def test_rollback_over_the_api_needs_write_access(layer_v3, land_steward, planning_steward):
    assert planning_steward.post(f"{URL}/rollback/", {"version": 1}, format="json").status_code == 403
    bad = land_steward.post(f"{URL}/rollback/", {"version": 99}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["version"]
    assert list(land_steward.post(f"{URL}/rollback/", {"version": "x"}, format="json").json()) == ["version"]
    done = land_steward.post(f"{URL}/rollback/", {"version": 1, "comment": "撤销"}, format="json")
    assert done.status_code == 201
    assert (done.json()["number"], done.json()["restores"], done.json()["created_by"]) == (4, 1, "t_ver_land")
    assert features(layer_v3) == as_of(layer_v3, 1)


def test_import_over_the_api_reports_its_version(land_steward, tmp_path):
    with open(write(tmp_path, V1), "rb") as upload:
        response = land_steward.post("/api/v1/layers/", {"file": upload, "name": "land.lyt_api_v", "title_zh": "接口",
                                                          "comment": "接口导入"}, format="multipart")
    assert response.status_code == 201
    assert (response.json()["version"], response.json()["rows_added"]) == (1, 3)
    with open(write(tmp_path, [("A", "甲二", 0)], "r"), "rb") as upload:
        response = land_steward.post("/api/v1/layers/land.lyt_api_v/import/",
                                     {"file": upload, "mode": "replace", "key": "code"}, format="multipart")
    body = response.json()
    assert (body["version"], body["rows_added"], body["rows_changed"], body["rows_removed"]) == (2, 0, 1, 2)

