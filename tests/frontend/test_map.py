"""Layer viewer in a real browser: catalog tree, theme tiles, identify a parcel, coordinates, QGIS box."""

from __future__ import annotations

import pytest

from .conftest import require_backend

pytestmark = pytest.mark.browser


def a_parcel():
    from layers.models import LandParcel

    parcel = LandParcel.objects.exclude(parcel_code__startswith="TSTILE-").order_by("parcel_code").first()
    point = parcel.geom.point_on_surface
    return parcel, point.x, point.y


def test_identify_on_the_map_shows_a_parcels_attributes(open_as, committed):
    require_backend("/api/v1/layers/", "/ows")
    parcel, lon, lat = a_parcel()
    page, probe = open_as("planner", "/map/")
    page.wait_for_selector(".cg-layer[data-name='land.parcels']")
    page.evaluate("CityGIS.viewer.toggle('land.parcels', true)")
    page.evaluate(f"CityGIS.viewer.map.setView([{lat}, {lon}], 18, {{animate: false}})")
    page.wait_for_function("document.querySelectorAll('.leaflet-tile-loaded').length > 4")
    assert page.locator(".cg-layer.on img").get_attribute("src").startswith("/ows?"), "legend from GetLegendGraphic"

    box = page.locator("#viewer-map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    coords = page.inner_text("#coords")
    assert "CGCS2000" in coords and "EPSG:4544" in coords
    x_4544 = float(coords.split("X ")[1].split()[0])
    assert 400_000 < x_4544 < 600_000, "Gauss-Kruger easting around the 105°E central meridian"

    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert parcel.parcel_code in popup.inner_text(), popup.inner_text()
    assert parcel.landuse_name in page.inner_text("#results")
    tiles = [u for u in probe.ok_tiles() if "/tiles/land.parcels/" in u]
    assert tiles, "theme layer tiles load from our tileserver"
    probe.screenshot("map")
    assert not probe.errors, probe.errors


def test_attribute_filter_selects_features_and_offers_export(open_as, committed, site_url):
    require_backend("/api/v1/layers/")
    parcel, _, _ = a_parcel()
    page, probe = open_as("planner", "/map/")
    page.wait_for_selector("#filter-layer option[value='land.parcels']", state="attached")
    page.select_option("#filter-layer", "land.parcels")
    page.uncheck("#filter-bbox")
    page.fill("#filter-expr", f"parcel_code={parcel.parcel_code}")
    page.click("#filter-form button[type=submit]")
    page.wait_for_function("document.getElementById('result-count').textContent === '1'")
    assert parcel.parcel_code in page.inner_text("#results")
    href = page.get_attribute("#export-geojson", "href")
    assert href.startswith("/api/v1/layers/land.parcels/export/?") and "format=geojson" in href
    response = page.request.get(site_url + href)
    assert response.status == 200
    assert parcel.parcel_code in response.text()
    assert not probe.errors, probe.errors


def test_qgis_box_and_anonymous_access(open_as, site_url):
    page, probe = open_as(None, "/map/")
    assert page.inner_text("#wms-url") == f"{site_url}/ows"
    assert page.inner_text("#wmts-url") == f"{site_url}/wmts/1.0.0/WMTSCapabilities.xml"
    page.wait_for_selector("#layer-tree .cg-layer, #layer-tree .cg-empty")
    assert not probe.errors, probe.errors
