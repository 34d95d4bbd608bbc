"""Cached tiles (`/tiles`, WMTS REST/KVP, TMS), their files on disk, and invalidation when features change."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from .conftest import PARCEL_BBOX

pytestmark = pytest.mark.django_db
Z = 15


def xyz(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_pixel_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Pixel of (lon, lat) inside its XYZ tile."""
    n = 2**z
    fx = (lon + 180) / 360 * n
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((fx % 1) * 256), int((fy % 1) * 256)


def rgba(content: bytes, px: tuple[int, int]):
    return Image.open(io.BytesIO(content)).convert("RGBA").getpixel(px)


# A point inside the parcel but away from its centred label.
PROBE = (PARCEL_BBOX[0] + 0.002, PARCEL_BBOX[1] + 0.002)


def test_xyz_tile_shows_the_parcel_and_is_stored_in_the_tms_layout(client, tile_data):
    x, y = xyz(*PROBE, Z)
    resp = client.get(f"/tiles/land.test_parcels/webmercator/{Z}/{x}/{y}.png")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "image/png"
    r, g, b, a = rgba(resp.content, tile_pixel_of(*PROBE, Z))
    assert a > 200 and r > 200 and g < 60
    # The file /tiles served is at the URL's own path under the cache dir (nginx can serve it), y from the north.
    assert (tile_data["paths"].cache_dir / "land.test_parcels/webmercator" / str(Z) / str(x) / f"{y}.png").exists()


def test_cgcs2000_grid_tiles(client, tile_data):
    # cgcs2000: 2×1 tiles at level 0, origin top left.
    size = 180 / 2**Z
    x, y = int((PROBE[0] + 180) / size), int((90 - PROBE[1]) / size)
    resp = client.get(f"/tiles/land.test_parcels/cgcs2000/{Z}/{x}/{y}.png")
    assert resp.status_code == 200
    px = (int(((PROBE[0] + 180) / size % 1) * 256), int(((90 - PROBE[1]) / size % 1) * 256))
    assert rgba(resp.content, px)[0] > 200


def test_wmts_rest_and_kvp_serve_the_same_tile(client, tile_data):
    x, y = xyz(*PROBE, Z)
    rest = client.get(f"/wmts/land.test_parcels/webmercator/{Z}/{x}/{y}.png")
    assert rest.status_code == 200, rest.content[:300]
    kvp = client.get("/service", {"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0",
                                  "LAYER": "land.test_parcels", "STYLE": "default", "FORMAT": "image/png",
                                  "TILEMATRIXSET": "webmercator", "TILEMATRIX": f"{Z:02d}", "TILEROW": str(y),
                                  "TILECOL": str(x)})
    assert kvp.status_code == 200, kvp.content[:300]
    assert rgba(rest.content, tile_pixel_of(*PROBE, Z)) == rgba(kvp.content, tile_pixel_of(*PROBE, Z))


def test_owslib_parses_wmts_capabilities(client, tile_data):
    from owslib.wmts import WebMapTileService

    resp = client.get("/wmts/1.0.0/WMTSCapabilities.xml")
    assert resp.status_code == 200
    wmts = WebMapTileService("http://testserver/wmts/1.0.0/WMTSCapabilities.xml", xml=resp.content)
    assert "land.test_parcels" in wmts.contents
    assert {"webmercator", "cgcs2000"} <= set(wmts.tilematrixsets)


def test_live_layers_are_not_cached(client, tile_data):
    import yaml

    conf = yaml.safe_load(tile_data["paths"].mapproxy_yaml.read_text())
    groups = {g["name"]: g for g in conf["layers"][0]["layers"]}
    for theme in ("cases", "evaluation"):
        for layer in groups.get(theme, {}).get("layers", []):
            assert layer["sources"] == [f"src_{layer['name']}"]
            assert layer["name"] not in conf["caches"]


def test_web_base_map_url_of_leaflet_config_serves_tiles_anonymously(client, tile_data):
    from django.conf import settings

    from tileserver.specs import all_layer_specs

    assert any(s.theme == "base" and s.classification == "public" for s in all_layer_specs()), \
        "the test demo city registers a public base layer"
    template = settings.LEAFLET_CONFIG["TILES"][0][1]
    x, y = xyz(*PROBE, 14)
    resp = client.get(template.format(z=14, x=x, y=y))
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(resp.content)).convert("RGBA")
    assert image.getextrema()[3][1] > 0  # the town is drawn


def test_tms_capabilities_list_permitted_layers(client, tile_data):
    resp = client.get("/tms/1.0.0/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert "land.test_parcels" in text and "land.test_restricted" not in text
