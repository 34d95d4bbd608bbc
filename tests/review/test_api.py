"""`/api/v1/reviews/`: create from a geometry, a plot or an upload; bad input is a 400 naming the problem and
stores nothing; who may review and who sees a review."""

from __future__ import annotations

import io
import json
import re
import zipfile

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import mapping

from city_gis.review.models import Review
from tests.review.conftest import plot_geom

pytestmark = pytest.mark.django_db
URL = "/api/v1/reviews/"
PROPOSAL = {"use_class": "R2", "far": 2.0, "height_m": 50}


def _login(client, username: str):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username=username))
    return client


def _post(client, body: dict, username: str = "planner"):
    return _login(client, username).post(URL, json.dumps(body), content_type="application/json")


def test_a_planner_reviews_a_geojson_redline_and_reads_it_back(client):
    redline = plot_geom("ZS-KZ01")
    response = _post(client, {"title": "城东扩展区住宅项目", "geometry": mapping(redline), **PROPOSAL})
    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"GH-\d{4}-\d{6}", body["number"])
    assert (body["outcome"], body["source"], body["author"], body["department"]) == ("blocking", "geometry", "planner", "planning")
    farmland = next(r for r in body["results"]["rules"] if r["id"] == "farmland")
    assert farmland["status"] == "fail" and farmland["conflict_area_m2"] > 0
    assert body["ruleset_version"] == "LPS-GH-2026.1" and "land.farmland" in body["data_versions"]
    assert body["report_url"] == f"/api/v1/reviews/{body['number']}/report.pdf"
    detail = client.get(f"{URL}{body['number']}/")
    assert detail.status_code == 200 and detail.json()["results"] == body["results"]
    assert shapely.geometry.shape(detail.json()["redline"]).area == pytest.approx(redline.area, rel=1e-6)
    listed = client.get(URL).json()
    assert body["number"] in [r["number"] for r in listed["results"]]


def test_a_zoning_plot_and_wkt_in_another_crs_are_redlines_too(client):
    from tests.review.conftest import to_metric

    by_plot = _post(client, {"plot": "ZS-KZ01", **PROPOSAL})
    assert by_plot.status_code == 201 and by_plot.json()["source"] == "plot"
    metric = to_metric(plot_geom("ZS-KZ01"))
    by_wkt = _post(client, {"geometry": metric.wkt, "srs": "EPSG:4544", **PROPOSAL})
    assert by_wkt.status_code == 201, by_wkt.content
    assert by_wkt.json()["redline_area_m2"] == pytest.approx(by_plot.json()["redline_area_m2"], rel=1e-4)


def _frame():
    return gpd.GeoDataFrame({"name": ["红线"]}, geometry=[plot_geom("ZS-KZ01")], crs="EPSG:4490")


def _geojson(tmp_path):
    return ("redline.geojson", _frame().to_json().encode())


def _gpkg(tmp_path):
    path = tmp_path / "r.gpkg"
    _frame().to_file(path, driver="GPKG")
    return ("redline.gpkg", path.read_bytes())


def _shp_zip(tmp_path):
    _frame().to_file(tmp_path / "r.shp", driver="ESRI Shapefile", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj"):
            zf.write(tmp_path / f"r.{ext}", f"r.{ext}")
    return ("redline.zip", buf.getvalue())


def _vertices_csv(tmp_path):
    ring = plot_geom("ZS-KZ01").geoms[0].exterior.coords[:-1]
    return ("redline.csv", ("lon,lat\n" + "".join(f"{x:.9f},{y:.9f}\n" for x, y in ring)).encode())


@pytest.mark.parametrize("make", [_geojson, _gpkg, _shp_zip, _vertices_csv], ids=["geojson", "gpkg", "shp-zip", "csv"])
def test_an_uploaded_redline_in_every_promised_format(client, tmp_path, make):
    from django.core.files.uploadedfile import SimpleUploadedFile

    name, content = make(tmp_path)
    srs = {"srs": "EPSG:4490"} if name.endswith(".csv") else {}  # a CSV declares no CRS: the client names it
    response = _login(client, "planner").post(URL, {"file": SimpleUploadedFile(name, content), **srs, **PROPOSAL})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "file" and body["inputs"]["file"] == name
    expected = _post(client, {"plot": "ZS-KZ01", **PROPOSAL}).json()["redline_area_m2"]
    assert body["redline_area_m2"] == pytest.approx(expected, rel=1e-4)


BOWTIE = {"type": "Polygon", "coordinates": [[[104.83, 26.58], [104.84, 26.59], [104.84, 26.58], [104.83, 26.59], [104.83, 26.58]]]}
FAR_AWAY = {"type": "Polygon", "coordinates": [[[100.0, 30.0], [100.01, 30.0], [100.01, 30.01], [100.0, 30.01], [100.0, 30.0]]]}


@pytest.mark.parametrize("body, field, words", [
    ({"geometry": BOWTIE}, "geometry", "Self-intersection"),
    ({"geometry": "POLYGON EMPTY"}, "geometry", "红线为空"),
    ({"geometry": {"type": "Point", "coordinates": [104.83, 26.58]}}, "geometry", "Polygon"),
    ({"geometry": "not wkt"}, "geometry", "WKT"),
    ({"geometry": FAR_AWAY}, "geometry", "市域"),
    ({"geometry": BOWTIE, "srs": "EPSG:999999"}, "srs", "未知坐标系"),
    ({"geometry": FAR_AWAY, "srs": "+init=epsg:4326"}, "srs", "坐标系"),
    ({"plot": "ZS-NOPE"}, "plot", "ZS-NOPE"),
    ({}, "geometry", "只给出一种"),
    ({"plot": "ZS-KZ01", "geometry": BOWTIE}, "geometry", "只给出一种"),
    ({"plot": "ZS-KZ01", "use_class": "X9"}, "use_class", "X9"),
    ({"plot": "ZS-KZ01", "far": -1}, "far", ""),
    ({"plot": "ZS-KZ01", "title": "a\x00b"}, "title", ""),
])
def test_bad_input_is_a_400_naming_the_problem_and_stores_nothing(client, body, field, words):
    before = Review.objects.count()
    response = _post(client, {**PROPOSAL, **body})
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert Review.objects.count() == before


def test_a_redline_with_too_many_vertices_is_refused(client, settings):
    settings.CITYGIS_REVIEW_MAX_VERTICES = 4
    response = _post(client, {"plot": "ZS-KZ01", **PROPOSAL})
    assert response.status_code == 400 and "CITYGIS_REVIEW_MAX_VERTICES" in response.json()["plot"][0]


def test_a_csv_without_a_named_crs_is_refused_naming_srs(client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    name, content = _vertices_csv(tmp_path)
    response = _login(client, "planner").post(URL, {"file": SimpleUploadedFile(name, content), **PROPOSAL})
    assert response.status_code == 400 and "redline.csv" in response.json()["srs"][0]


def test_a_refused_upload_format_names_the_file(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    vrt = b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>'
    response = _login(client, "planner").post(URL, {"file": SimpleUploadedFile("r.vrt", vrt), **PROPOSAL})
    assert response.status_code == 400 and "VRT" in response.json()["file"][0]
    assert not Review.objects.exists() or Review.objects.filter(inputs__file="r.vrt").count() == 0


def test_only_planners_and_admins_review(client):
    assert _post(client, {"plot": "ZS-KZ01", **PROPOSAL}, "inspector1").status_code == 403
    assert _post(client, {"plot": "ZS-KZ01", **PROPOSAL}, "dept_planning").status_code == 403
    assert _post(client, {"plot": "ZS-KZ01", **PROPOSAL}, "admin").status_code == 201
    client.logout()
    assert client.post(URL, json.dumps({"plot": "ZS-KZ01", **PROPOSAL}), content_type="application/json").status_code in (401, 403)


@pytest.mark.parametrize("username, visible", [
    ("planner", True), ("dept_planning", True), ("admin", True), ("dept_land", False), ("inspector1", False),
])
def test_a_review_is_visible_to_its_authors_department_and_admins(client, username, visible):
    number = _post(client, {"plot": "ZS-KZ01", **PROPOSAL}).json()["number"]
    _login(client, username)
    assert client.get(f"{URL}{number}/").status_code == (200 if visible else 404)
    assert client.get(f"{URL}{number}/report.pdf").status_code == (200 if visible else 404)
    assert (number in [r["number"] for r in client.get(URL).json()["results"]]) is visible


def test_an_upload_above_the_limit_is_refused_before_it_is_read(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CITYGIS_REVIEW_MAX_UPLOAD_BYTES = 1000
    big = SimpleUploadedFile("r.geojson", b'{"type": "FeatureCollection", "features": []}' + b" " * 100_000)
    response = _login(client, "planner").post(URL, {"file": big, **PROPOSAL})
    assert response.status_code == 413 and "CITYGIS_REVIEW_MAX_UPLOAD_BYTES" in response.json()["detail"]
