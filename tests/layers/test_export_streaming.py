"""Exports stream (issue 9, observation 10-exports): GeoJSON/CSV page by page, GeoPackage/Shapefile from a temp
file written page by page; one export is capped by CITYGIS_EXPORT_MAX_FEATURES with a 400 naming it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import geopandas as gpd
import pytest
from django.http import FileResponse, StreamingHttpResponse
from rest_framework.test import APIClient

from layers import exporter
from layers.importer import LayerCreate, import_file
from layers.models import Layer

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db
URL = "/api/v1/layers/land.lyt_stream/export/"


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def layer(squares, tmp_path) -> Layer:
    """A public generic layer of three squares with text, float and integer attributes."""
    squares["count"] = [1, 2, 3]
    path = tmp_path / "squares.geojson"
    squares.to_file(path, driver="GeoJSON")
    import_file(path, "land.lyt_stream", create=LayerCreate(department="land", title_zh="流式", classification="public"))
    return Layer.objects.get(name="land.lyt_stream")


@pytest.fixture(params=[exporter.CHUNK, 2], ids=["one_page", "pages_of_2"])
def chunk(request, monkeypatch) -> int:
    """Every test runs with the features in one page and spread over several."""
    monkeypatch.setattr(exporter, "CHUNK", request.param)
    return request.param


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_geojson_export_is_streamed_and_valid(layer, chunk):
    response = APIClient().get(URL, {"format": "geojson"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse)
    assert response["Content-Type"] == "application/geo+json"
    assert 'filename="land_lyt_stream.geojson"' in response["Content-Disposition"]
    doc = json.loads(body(response))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 3
    assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    props = sorted((f["properties"]["name"], f["properties"]["value"], f["properties"]["count"]) for f in doc["features"])
    assert props == [("丙", 3.25, 3), ("乙", 2.0, 2), ("甲", 1.5, 1)]
    assert len({f["id"] for f in doc["features"]}) == 3


def test_csv_export_is_streamed_with_one_header(layer, chunk):
    response = APIClient().get(URL, {"format": "csv"})
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert len(rows) == 3 and sorted(r["name"] for r in rows) == ["丙", "乙", "甲"]
    assert all(r["wkt"].startswith("POLYGON") for r in rows)


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_file_formats_are_written_page_by_page_with_one_schema(layer, chunk, fmt, tmp_path):
    response = APIClient().get(URL, {"format": fmt})
    assert response.status_code == 200 and isinstance(response, FileResponse)
    path = tmp_path / ("out.gpkg" if fmt == "gpkg" else "out.zip")
    path.write_bytes(body(response))
    if fmt == "shp":
        assert sorted(n.rsplit(".", 1)[1] for n in zipfile.ZipFile(path).namelist()) == ["cpg", "dbf", "prj", "shp", "shx"]
    frame = gpd.read_file(path).sort_values("fid_src")
    assert list(frame["name"]) == ["甲", "乙", "丙"] and list(frame["count"]) == [1, 2, 3]
    assert list(frame["value"]) == [1.5, 2.0, 3.25]
    assert frame.crs.to_epsg() == 4490


def test_export_over_the_cap_is_refused_naming_the_setting(layer, settings):
    settings.CITYGIS_EXPORT_MAX_FEATURES = 2
    for fmt in exporter.FORMATS:
        response = APIClient().get(URL, {"format": fmt})
        assert response.status_code == 400, fmt
        assert "CITYGIS_EXPORT_MAX_FEATURES" in response.json()["bbox"]
    narrowed = APIClient().get(URL, {"format": "geojson",
                                     "bbox": f"{LON0 - 0.0005},{LAT0 - 0.0005},{LON0 + 0.0005},{LAT0 + 0.0005}"})
    assert narrowed.status_code == 200 and len(json.loads(body(narrowed))["features"]) == 1


def test_empty_layer_exports_an_empty_collection(layer, tmp_path):
    layer.generic_features.all().delete()
    doc = json.loads(body(APIClient().get(URL, {"format": "geojson"})))
    assert doc["features"] == []
    response = APIClient().get(URL, {"format": "gpkg"})
    path = tmp_path / "empty.gpkg"
    path.write_bytes(body(response))
    assert len(gpd.read_file(path)) == 0


def test_bad_csv_geometry_for_polygons_is_a_400_before_streaming(layer):
    response = APIClient().get(URL, {"format": "csv", "csv_geometry": "lonlat"})
    assert response.status_code == 400 and "csv_geometry" in response.json()


def test_export_memory_stays_bounded_by_the_page(layer, monkeypatch, tmp_path):
    """Python memory of a streamed export does not grow with the layer: 30× the features, same peak."""
    import tracemalloc

    from shapely.geometry import box

    frame = gpd.GeoDataFrame({"name": ["x" * 200] * 3000},
                             geometry=[box(LON0 + i * 1e-5, LAT0, LON0 + i * 1e-5 + 5e-6, LAT0 + 5e-6) for i in range(3000)],
                             crs=4490)
    path = tmp_path / "many.gpkg"
    frame.to_file(path, driver="GPKG")
    monkeypatch.setattr(exporter, "CHUNK", 100)

    def peak(name: str) -> int:
        tracemalloc.start()
        for _chunk in exporter.geojson_chunks(exporter.prepare_export(Layer.objects.get(name=name), "geojson")):
            pass
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    import_file(path, "land.lyt_many", create=LayerCreate(department="land"))
    small = peak("land.lyt_stream")
    big = peak("land.lyt_many")
    assert big < max(4 * small, 2_000_000)


def test_cli_export_streams_to_a_file_uncapped_unless_asked(layer, settings, tmp_path, chunk):
    from django.core.management import CommandError, call_command

    settings.CITYGIS_EXPORT_MAX_FEATURES = 2
    out = tmp_path / "all.geojson"
    call_command("export_layer", layer.name, "--format", "geojson", "-o", str(out))
    assert len(json.loads(out.read_text())["features"]) == 3
    with pytest.raises(CommandError, match="CITYGIS_EXPORT_MAX_FEATURES"):
        call_command("export_layer", layer.name, "--format", "csv", "-o", str(tmp_path / "x.csv"), "--max-features", "2")
