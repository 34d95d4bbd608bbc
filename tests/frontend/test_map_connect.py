"""The viewer's "connect from QGIS" box and per-layer downloads in a real browser: every service URL is the one
the server answers on (CSW capabilities, WFS, OGC API), and a layer's GeoPackage/GeoJSON links download it
through the export endpoint."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_connect_box_lists_every_service_url_and_they_answer(open_as, site_url):
    page, probe = open_as(None, "/map/")
    urls = {key: page.inner_text(f"#{key}-url") for key in ("wms", "wmts", "wfs", "ogcapi", "csw")}
    assert urls == {
        "wms": f"{site_url}/ows",
        "wmts": f"{site_url}/wmts/1.0.0/WMTSCapabilities.xml",
        "wfs": f"{site_url}/ows?SERVICE=WFS",
        "ogcapi": f"{site_url}/ogcapi/",
        "csw": f"{site_url}/csw",
    }
    caps = page.request.get(urls["csw"] + "?SERVICE=CSW&REQUEST=GetCapabilities")
    assert caps.status == 200 and "<csw:Capabilities" in caps.text()
    wfs = page.request.get(urls["wfs"] + "&REQUEST=GetCapabilities&VERSION=2.0.0")
    assert wfs.status == 200 and "WFS_Capabilities" in wfs.text()
    assert not probe.errors, probe.errors


def test_connect_box_is_translated(open_as):
    page, probe = open_as(None, "/map/")
    assert "CSW 目录（QGIS 元数据搜索）" in page.inner_text("#qgis-box")
    page.select_option(".cg-lang select", "en")
    page.wait_for_selector("text=CSW catalogue (QGIS MetaSearch)")
    text = page.inner_text("#qgis-box")
    assert "WFS (vector features)" in text and "HTTP Basic" in text
    page.select_option(".cg-lang select", "zh-hans")
    page.wait_for_selector("text=图层目录")
    assert not probe.errors, probe.errors


def test_a_vector_layer_offers_geopackage_and_geojson_downloads(open_as, site_url):
    page, probe = open_as(None, "/map/")
    page.wait_for_selector('#layer-tree .cg-layer[data-name="planning.zoning"]')
    page.check('#layer-tree .cg-layer[data-name="planning.zoning"] input[type=checkbox]')
    links = {fmt: page.get_attribute(f'.cg-layer[data-name="planning.zoning"] a[data-download="{fmt}"]', "href")
             for fmt in ("gpkg", "geojson")}
    assert links == {fmt: f"/api/v1/layers/planning.zoning/export/?format={fmt}" for fmt in ("gpkg", "geojson")}
    gpkg = page.request.get(site_url + links["gpkg"])
    assert gpkg.status == 200 and gpkg.body()[:16] == b"SQLite format 3\x00"
    geojson = page.request.get(site_url + links["geojson"])
    assert geojson.status == 200 and geojson.json()["type"] == "FeatureCollection"
    rasters = page.query_selector_all('#layer-tree .cg-layer[data-name^="raster."]')
    assert rasters and all(r.query_selector("a[data-download]") is None for r in rasters)  # no features to export
    assert not probe.errors, probe.errors
