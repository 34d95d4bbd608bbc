"""The tile cache only grows inside a layer's coverage and levels (issue 9, obs. 4), and bad tile coordinates
are 4xx on every tile form, never a 500 (obs. 15)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tileserver import coverage

from .conftest import PARCEL_BBOX
from .test_tiles import PROBE, xyz

pytestmark = pytest.mark.django_db
LAYER = "land.test_parcels"


def cache_files(tile_data) -> set[str]:
    root = tile_data["paths"].cache_dir
    return {str(p.relative_to(root)) for p in root.rglob("*.png")} if root.exists() else set()


def cgcs(lon: float, lat: float, z: int) -> tuple[int, int]:
    size = 180 / 2**z
    return int((lon + 180) / size), int((90 - lat) / size)


def far_urls(z: int) -> list[str]:
    """Every tile form, at level z, for the tile at lon 0° / lat 0° (thousands of km off the parcel)."""
    x, y = xyz(0.5, -0.5, z)
    cx, cy = cgcs(0.5, -0.5, z)
    n = 2**z
    return [
        f"/tiles/{LAYER}/webmercator/{z}/{x}/{y}.png",
        f"/tiles/{LAYER}/cgcs2000/{z}/{cx}/{cy}.png",
        f"/tiles/{LAYER}_webmercator/{z}/{x}/{y}.png",
        f"/wmts/{LAYER}/webmercator/{z}/{x}/{y}.png",
        f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
        f"&TILEMATRIXSET=webmercator&TILEMATRIX={z:02d}&TILEROW={y}&TILECOL={x}",
        f"/tms/1.0.0/{LAYER}/webmercator/{z - 1}/{x}/{n - 1 - y}.png",
    ]


@pytest.mark.parametrize("url", far_urls(19) + far_urls(12))
def test_tiles_outside_the_layer_are_blank_and_not_stored(client, tile_data, url):
    before = cache_files(tile_data)
    resp = client.get(url)
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"] == "image/png"
    assert resp["Cache-Control"] == f"max-age={coverage.BLANK_MAX_AGE}"
    image = Image.open(io.BytesIO(resp.content))
    assert image.size == (256, 256) and image.convert("RGBA").getextrema()[3] == (0, 0)
    assert cache_files(tile_data) == before


def test_tiles_beyond_the_layers_max_zoom_are_blank_and_not_stored(client, tile_data):
    from layers.models import Layer

    Layer.objects.filter(name=LAYER).update(max_zoom=14)  # rolled back after the test
    coverage._coverage["version"] = None
    try:
        before = cache_files(tile_data)
        x, y = xyz(*PROBE, 16)
        resp = client.get(f"/tiles/{LAYER}/webmercator/16/{x}/{y}.png")
        assert resp.status_code == 200 and resp["Cache-Control"] == f"max-age={coverage.BLANK_MAX_AGE}"
        assert Image.open(io.BytesIO(resp.content)).convert("RGBA").getextrema()[3] == (0, 0)
        assert cache_files(tile_data) == before
    finally:
        coverage._coverage["version"] = None


@pytest.mark.parametrize("form", ["tiles", "wmts", "tms", "kvp"])
def test_tiles_inside_the_layer_are_rendered_and_stored_on_every_form(client, tile_data, form):
    z = 16
    x, y = xyz(*PROBE, z)
    url = {
        "tiles": f"/tiles/{LAYER}/webmercator/{z}/{x}/{y}.png",
        "wmts": f"/wmts/{LAYER}/webmercator/{z}/{x}/{y}.png",
        "tms": f"/tms/1.0.0/{LAYER}/webmercator/{z - 1}/{x}/{2**z - 1 - y}.png",
        "kvp": f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default"
               f"&FORMAT=image/png&TILEMATRIXSET=webmercator&TILEMATRIX={z:02d}&TILEROW={y}&TILECOL={x}",
    }[form]
    resp = client.get(url)
    assert resp.status_code == 200, resp.content[:300]
    assert "max-age=300" not in resp.get("Cache-Control", "")
    # The same internal tile whatever the form: the one our coverage check looked at.
    assert (tile_data["paths"].cache_dir / LAYER / "webmercator" / str(z) / str(x) / f"{y}.png").exists()
    assert Image.open(io.BytesIO(resp.content)).convert("RGBA").getextrema()[3][1] > 0


def test_the_margin_keeps_the_neighbouring_tile(client, tile_data):
    """Symbols, labels and meta-tile buffers reach beyond the data extent: the next tile is still rendered,
    ten tiles off is not."""
    z = 17
    x, y = xyz(PARCEL_BBOX[2], PARCEL_BBOX[3], z)
    resp = client.get(f"/tiles/{LAYER}/webmercator/{z}/{x + 1}/{y}.png")
    assert resp.status_code == 200 and "max-age=300" not in resp.get("Cache-Control", "")
    resp = client.get(f"/tiles/{LAYER}/webmercator/{z}/{x + 10}/{y}.png")
    assert resp["Cache-Control"] == "max-age=300"


def test_restricted_layer_is_refused_not_blanked_for_anonymous(client, tile_data):
    """The blank answer must not reveal a restricted layer's extent: authorization comes first."""
    resp = client.get("/tiles/land.test_restricted/webmercator/19/0/0.png")
    assert resp.status_code == 401


BAD_TILE_URLS = [
    # WMTS REST TileMatrix beyond the grid / not a number (obs. 15: was 500)
    f"/wmts/{LAYER}/webmercator/30/0/0.png",
    f"/wmts/{LAYER}/webmercator/abc/0/0.png",
    f"/wmts/{LAYER}/webmercator/20/0/0.png",
    f"/wmts/{LAYER}/webmercator/99999999999999999999/0/0.png",
    f"/wmts/{LAYER}/webmercator/5/-1/0.png",
    f"/wmts/{LAYER}/webmercator/5/32/0.png",
    f"/wmts/{LAYER}/webmercator/5/0/32.png",
    f"/wmts/{LAYER}/nogrid/5/0/0.png",
    f"/wmts/{LAYER}/webmercator/5/x/y.png",
    "/wmts/land.no_such_layer/webmercator/5/0/0.png",
    # XYZ / TMS
    f"/tiles/{LAYER}/webmercator/abc/0/0.png",
    f"/tiles/{LAYER}/webmercator/5/-3/0.png",
    f"/tiles/{LAYER}/webmercator/5/0/-3.png",
    f"/tiles/{LAYER}/webmercator/5/99999999/0.png",
    f"/tiles/{LAYER}/webmercator/25/0/0.png",
    f"/tiles/{LAYER}/cgcs2000/5/64/0.png",
    f"/tiles/{LAYER}/nogrid/5/0/0.png",
    f"/tiles/{LAYER}/5/0/0.png",
    f"/tiles/{LAYER}/webmercator/5/0/0.gif",
    f"/tms/1.0.0/{LAYER}/webmercator/19/0/0.png",
    f"/tms/1.0.0/{LAYER}/webmercator/x/0/0.png",
    # WMTS KVP
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=abc&TILEROW=0&TILECOL=0",
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=30&TILEROW=0&TILECOL=0",
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=05&TILEROW=-1&TILECOL=0",
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=05&TILECOL=0",
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=nogrid&TILEMATRIX=05&TILEROW=0&TILECOL=0",
    f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/nonsense"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=05&TILEROW=0&TILECOL=0",
    "/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=land.no_such_layer&STYLE=default"
    "&FORMAT=image/png&TILEMATRIXSET=webmercator&TILEMATRIX=05&TILEROW=0&TILECOL=0",
    # WMTS feature info (REST and KVP)
    f"/wmts/{LAYER}/webmercator/30/0/0/1/1.html",
    f"/wmts/{LAYER}/webmercator/5/0/0/abc/1.html",
    f"/service?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=abc&TILEROW=0&TILECOL=0&I=1&J=1&INFOFORMAT=text/html",
    f"/service?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER={LAYER}&STYLE=default&FORMAT=image/png"
    "&TILEMATRIXSET=webmercator&TILEMATRIX=05&TILEROW=0&TILECOL=0&I=x&J=1&INFOFORMAT=text/html",
    # WMS bad FORMAT / CRS / request
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=land.test_parcels&STYLES=&CRS=EPSG:4490"
    "&BBOX=26.5,104.8,26.6,104.9&WIDTH=64&HEIGHT=64&FORMAT=image/nonsense",
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=land.test_parcels&STYLES=&CRS=EPSG:99999"
    "&BBOX=26.5,104.8,26.6,104.9&WIDTH=64&HEIGHT=64&FORMAT=image/png",
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=land.test_parcels&STYLES=&CRS=abc"
    "&BBOX=26.5,104.8,26.6,104.9&WIDTH=64&HEIGHT=64&FORMAT=image/png",
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=land.test_parcels&STYLES=&CRS=EPSG:4490"
    "&BBOX=26.5,104.8,26.6,104.9&WIDTH=-5&HEIGHT=64&FORMAT=image/png",
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=land.test_parcels&QUERY_LAYERS=land.test_parcels"
    "&STYLES=&CRS=EPSG:4490&BBOX=26.5,104.8,26.6,104.9&WIDTH=64&HEIGHT=64&I=abc&J=1&INFO_FORMAT=text/html",
]


@pytest.mark.parametrize("url", BAD_TILE_URLS)
def test_bad_tile_and_map_requests_are_client_errors(client, tile_data, url):
    before = cache_files(tile_data)
    resp = client.get(url)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.content[:300])
    assert not resp["Content-Type"].startswith("image/")
    assert cache_files(tile_data) == before


@pytest.mark.parametrize("url,status,locator", [
    (f"/wmts/{LAYER}/webmercator/30/0/0.png", 400, "TILEMATRIX"),
    (f"/wmts/{LAYER}/webmercator/abc/0/0.png", 400, "TILEMATRIX"),
    (f"/tiles/{LAYER}/webmercator/5/32/0.png", 400, "TILECOL"),
    (f"/tiles/{LAYER}/webmercator/5/0/32.png", 400, "TILEROW"),
    (f"/tiles/{LAYER}/nogrid/5/0/0.png", 400, "TILEMATRIXSET"),
])
def test_bad_tile_coordinates_name_the_parameter(client, tile_data, url, status, locator):
    resp = client.get(url)
    assert resp.status_code == status
    assert f'locator="{locator}"'.encode() in resp.content


@pytest.mark.parametrize("path", ["/tiles/foo", "/tiles/a/b/c", "/wmts/a/b", "/wmts/a/b/c/d/e/f/g/h.png", "/tms/1.0.0/a/b/c/d"])
def test_unknown_tile_service_paths_are_client_errors(client, tile_data, path):
    assert 400 <= client.get(path).status_code < 500
