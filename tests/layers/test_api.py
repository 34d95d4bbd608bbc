"""The catalog API: visibility, metadata, features (bbox, filter, paging), import/create upload, export."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
from rest_framework.test import APIClient

from layers.importer import LayerCreate, import_file
from layers.models import Layer
from layers.registry import register_layer

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Anonymous requests are throttled per address; the suite's earlier requests must not count here."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def catalog(squares, tmp_path):
    """Three generic land layers, public / internal / restricted, each holding the three squares."""
    path = tmp_path / "squares.geojson"
    squares.to_file(path, driver="GeoJSON")
    for cls in ("public", "internal", "restricted"):
        import_file(path, f"land.lyt_{cls}", create=LayerCreate(department="land", title_zh=cls, classification=cls))
    return path


def names(response) -> set[str]:
    return {item["name"] for item in response.json() if item["name"].startswith("land.lyt_")}


def test_anonymous_sees_public_layers_only(client, catalog):
    response = client.get("/api/v1/layers/")
    assert response.status_code == 200
    assert names(response) == {"land.lyt_public"}
    assert client.get("/api/v1/layers/land.lyt_restricted/").status_code == 404
    assert client.get("/api/v1/layers/land.lyt_internal/features/").status_code == 404


def test_restricted_layers_only_for_the_owner_department(client, catalog, user_factory):
    client.force_authenticate(user_factory("san", roles=["planner"], department="sanitation"))
    assert names(client.get("/api/v1/layers/")) == {"land.lyt_public", "land.lyt_internal"}
    assert client.get("/api/v1/layers/land.lyt_restricted/").status_code == 404
    client.force_authenticate(user_factory("lnd", roles=["planner"], department="land"))
    assert names(client.get("/api/v1/layers/")) == {"land.lyt_public", "land.lyt_internal", "land.lyt_restricted"}


def test_layer_metadata(client, catalog):
    item = client.get("/api/v1/layers/land.lyt_public/").json()
    assert item["owner"] == {"code": "land", "name": item["owner"]["name"]} and item["owner"]["name"]
    assert (item["theme"], item["geometry_type"], item["srid"], item["feature_count"]) == ("land", "POLYGON", 4490, 3)
    assert item["bbox"] == pytest.approx([LON0, LAT0, LON0 + 0.005, LAT0 + 0.001])
    assert item["wms_layer"] == "land.lyt_public"
    assert item["legend_url"] == (
        "/ows?SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=land.lyt_public&FORMAT=image/png&VERSION=1.3.0&SLD_VERSION=1.1.0"
    )
    assert item["tile_url"] == "/tiles/land.lyt_public/webmercator/{z}/{x}/{y}.png"
    assert item["last_update"]


def test_filter_by_theme_and_owner(client, catalog):
    assert names(client.get("/api/v1/layers/?owner=land")) == {"land.lyt_public"}
    assert names(client.get("/api/v1/layers/?theme=disaster")) == set()
    assert all(i["theme"] == "land" for i in client.get("/api/v1/layers/?theme=land").json())


def test_features_bbox_and_paging(client, catalog):
    url = "/api/v1/layers/land.lyt_public/features/"
    body = client.get(url, {"limit": 2}).json()
    assert body["type"] == "FeatureCollection"
    assert body["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    assert (body["numberMatched"], body["numberReturned"]) == (3, 2)
    next_link = next(link["href"] for link in body["links"] if link["rel"] == "next")
    rest = client.get(next_link).json()
    assert rest["numberReturned"] == 1 and not any(link["rel"] == "next" for link in rest["links"])
    ids = [f["id"] for f in body["features"] + rest["features"]]
    assert len(set(ids)) == 3
    # only the first square (lon LON0 .. LON0+0.001) touches this box
    box = f"{LON0 - 0.0005},{LAT0 - 0.0005},{LON0 + 0.0005},{LAT0 + 0.0005}"
    hit = client.get(url, {"bbox": box}).json()
    assert hit["numberMatched"] == 1 and hit["features"][0]["properties"]["name"] == "甲"
    x, y = hit["features"][0]["geometry"]["coordinates"][0][0]
    assert LON0 - 1e-6 <= x <= LON0 + 0.001 + 1e-6 and LAT0 - 1e-6 <= y <= LAT0 + 0.001 + 1e-6  # lon, lat order


def test_features_attribute_filter_on_generic_and_typed(client, catalog, test_parcels_layer, parcels, tmp_path):
    body = client.get("/api/v1/layers/land.lyt_public/features/", {"filter": "kind=a"}).json()
    assert {f["properties"]["name"] for f in body["features"]} == {"甲", "丙"}
    path = tmp_path / "p.gpkg"
    parcels.to_file(path, driver="GPKG")
    import_file(path, test_parcels_layer.name)
    typed = client.get(f"/api/v1/layers/{test_parcels_layer.name}/features/", {"filter": "landuse_code=0701"}).json()
    assert [f["properties"]["parcel_code"] for f in typed["features"]] == ["T-001"]
    assert "geom" not in typed["features"][0]["properties"]


@pytest.mark.parametrize(
    "params,param",
    [({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"), ({"bbox": "5,5,1,1"}, "bbox"),
     ({"limit": "x"}, "limit"), ({"limit": "-1"}, "limit"), ({"limit": "100000"}, "limit"),
     ({"offset": "-3"}, "offset"), ({"filter": "nonsense"}, "filter")],
)
def test_bad_feature_parameters_answer_400_naming_them(client, catalog, params, param):
    response = client.get("/api/v1/layers/land.lyt_public/features/", params)
    assert response.status_code == 400
    assert param in response.json()


def test_unknown_filter_attribute_on_typed_layer(client, test_parcels_layer):
    response = client.get(f"/api/v1/layers/{test_parcels_layer.name}/features/", {"filter": "nope=1"})
    assert response.status_code == 400 and "filter" in response.json()


# --- upload -------------------------------------------------------------------------------------------------
def upload(frame: gpd.GeoDataFrame, name="data.geojson") -> io.BytesIO:
    buf = io.BytesIO()
    frame.to_file(buf, driver="GeoJSON")
    out = io.BytesIO(buf.getvalue())
    out.name = name
    return out


def test_steward_creates_and_imports_through_the_api(client, squares, user_factory):
    steward = user_factory("land_steward", roles=["data_steward"], department="land")
    client.force_authenticate(steward)
    response = client.post("/api/v1/layers/", {"name": "land.lyt_api", "title_zh": "接口图层",
                                               "file": upload(squares)}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["rows_written"] == 3
    layer = Layer.objects.get(name="land.lyt_api")
    assert layer.owner.code == "land" and layer.is_generic
    response = client.post("/api/v1/layers/land.lyt_api/import/", {"file": upload(squares), "mode": "replace"},
                           format="multipart")
    assert response.status_code == 200 and response.json()["rows_deleted"] == 3


def test_foreign_steward_gets_403_and_anonymous_401(client, squares, user_factory, test_parcels_layer):
    url = f"/api/v1/layers/{test_parcels_layer.name}/import/"
    assert client.post(url, {"file": upload(squares)}, format="multipart").status_code == 401
    client.force_authenticate(user_factory("hs", roles=["data_steward"], department="housing"))
    assert client.post(url, {"file": upload(squares)}, format="multipart").status_code == 403
    response = client.post("/api/v1/layers/", {"name": "land.lyt_x", "title_zh": "x", "department": "land",
                                               "file": upload(squares)}, format="multipart")
    assert response.status_code == 403
    assert not Layer.objects.filter(name="land.lyt_x").exists()


def test_bad_upload_answers_400_and_changes_nothing(client, points_frame, user_factory, test_parcels_layer):
    client.force_authenticate(user_factory("ls", roles=["data_steward"], department="land"))
    before = test_parcels_layer.generic_features.count(), Layer.objects.count()
    url = f"/api/v1/layers/{test_parcels_layer.name}/import/"
    wrong = client.post(url, {"file": upload(points_frame)}, format="multipart")
    assert wrong.status_code == 400 and "几何类型不符" in json.dumps(wrong.json(), ensure_ascii=False)
    broken = io.BytesIO(b"not a zip")
    broken.name = "x.zip"
    assert client.post(url, {"file": broken}, format="multipart").status_code == 400
    missing = client.post(url, {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    assert (test_parcels_layer.generic_features.count(), Layer.objects.count()) == before


# --- export -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_export_round_trip(client, catalog, fmt, tmp_path, user_factory):
    response = client.get("/api/v1/layers/land.lyt_public/export/", {"format": fmt})
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    path = tmp_path / f"export.{ {'shp': 'zip'}.get(fmt, fmt) }"
    path.write_bytes(data)
    if fmt == "shp":
        assert any(n.endswith(".shp") for n in zipfile.ZipFile(path).namelist())
    report = import_file(path, "land.lyt_again", create=LayerCreate(department="land"),
                         srs="EPSG:4490" if fmt == "csv" else None)
    assert report.rows_written == 3
    again = Layer.objects.get(name="land.lyt_again")
    original = Layer.objects.get(name="land.lyt_public")
    assert again.bbox == pytest.approx(original.bbox, abs=1e-7)
    assert sorted(f.attributes["name"] for f in again.generic_features.all()) == ["丙", "乙", "甲"]


def test_export_needs_read_permission_and_a_known_format(client, catalog):
    assert client.get("/api/v1/layers/land.lyt_restricted/export/", {"format": "gpkg"}).status_code == 404
    response = client.get("/api/v1/layers/land.lyt_public/export/", {"format": "xls"})
    assert response.status_code == 400 and "format" in response.json()


def test_export_command_with_bbox(catalog, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "part.geojson"
    call_command("export_layer", "land.lyt_public", "--format", "geojson", "-o", str(out),
                 "--bbox", f"{LON0 - 0.0005},{LAT0 - 0.0005},{LON0 + 0.0005},{LAT0 + 0.0005}")
    assert len(gpd.read_file(out)) == 1




def test_typed_layer_shapefile_round_trip(client, parcels, tmp_path, test_parcels_layer):
    """Shapefile truncates column names to 10 characters; re-importing still maps them to the model fields."""
    path = tmp_path / "p.gpkg"
    parcels.to_file(path, driver="GPKG")
    import_file(path, test_parcels_layer.name)
    response = client.get(f"/api/v1/layers/{test_parcels_layer.name}/export/", {"format": "shp"})
    exported = tmp_path / "parcels.zip"
    exported.write_bytes(b"".join(response.streaming_content))
    report = import_file(exported, test_parcels_layer.name, mode="replace")
    assert (report.rows_deleted, report.rows_written, report.rows_rejected) == (3, 3, 0)
    from layers.models import LandParcel

    assert sorted(LandParcel.objects.filter(parcel_code__startswith="T-").values_list("parcel_code", "landuse_code")) == [
        ("T-001", "0701"), ("T-002", "0501"), ("T-003", "1203")]


def test_upload_over_the_limit_answers_400(client, squares, user_factory, settings):
    settings.CITYGIS_IMPORT_MAX_BYTES = 50
    client.force_authenticate(user_factory("ls2", roles=["data_steward"], department="land"))
    response = client.post("/api/v1/layers/", {"name": "land.lyt_big", "title_zh": "大", "file": upload(squares)},
                           format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert not Layer.objects.filter(name="land.lyt_big").exists()


def test_source_filter_like_with_percent_signs(client, parcels, tmp_path, test_parcels_layer):
    path = tmp_path / "p.gpkg"
    parcels.to_file(path, driver="GPKG")
    import_file(path, test_parcels_layer.name)
    register_layer("land.lyt_like", owner="land", title_zh="LIKE", geometry_type="POLYGON",
                   source_table="layers_landparcel", classification="public",
                   source_where=[{"column": "parcel_code", "op": "like", "value": "T-00%"}])
    body = client.get("/api/v1/layers/land.lyt_like/features/", {"bbox": "100,20,110,30"}).json()
    assert body["numberMatched"] == 3
    assert client.get("/api/v1/layers/land.lyt_like/features/").json()["numberMatched"] == 3
