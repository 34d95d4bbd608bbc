"""WMS through `/ows`: capabilities (OWSLib, 1.1.1 and 1.3.0), GetMap pixels, GetFeatureInfo, axis order."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from .conftest import PARCEL_CENTER

pytestmark = pytest.mark.django_db

# A 0.03° window centred on the parcel: the parcel covers the middle third of the image.
WINDOW = (PARCEL_CENTER[0] - 0.015, PARCEL_CENTER[1] - 0.015, PARCEL_CENTER[0] + 0.015, PARCEL_CENTER[1] + 0.015)


def getmap_params(version="1.3.0", crs="EPSG:4490", bbox=None, layers="land.test_parcels", **extra):
    minx, miny, maxx, maxy = bbox or WINDOW
    if version == "1.3.0" and crs == "EPSG:4490":
        bbox_text = f"{miny},{minx},{maxy},{maxx}"  # lat,lon: the CRS's axis order
    else:
        bbox_text = f"{minx},{miny},{maxx},{maxy}"
    params = {"SERVICE": "WMS", "VERSION": version, "REQUEST": "GetMap", "LAYERS": layers, "STYLES": "",
              "FORMAT": "image/png", "TRANSPARENT": "TRUE", "WIDTH": "300", "HEIGHT": "300",
              ("CRS" if version == "1.3.0" else "SRS"): crs, "BBOX": bbox_text}
    params.update(extra)
    return params


def pixel(content: bytes, x: int, y: int) -> tuple[int, int, int, int]:
    return Image.open(io.BytesIO(content)).convert("RGBA").getpixel((x, y))


@pytest.fixture
def client(tile_data, client):
    return client


def test_getmap_130_draws_the_parcel_in_its_style_with_lat_lon_axis_order(client):
    resp = client.get("/ows", getmap_params())
    assert resp.status_code == 200, resp.content[:500]
    assert resp["Content-Type"] == "image/png"
    r, g, b, a = pixel(resp.content, 150, 115)
    assert a > 200 and r > 200 and g < 60 and b < 60  # red fill at the parcel (off its label at the centre)
    assert pixel(resp.content, 20, 20)[3] == 0  # transparent outside it


def test_getmap_130_with_swapped_axes_misses_the_parcel(client):
    minx, miny, maxx, maxy = WINDOW
    params = getmap_params(version="1.3.0")
    params["BBOX"] = f"{minx},{miny},{maxx},{maxy}"  # lon,lat: wrong for EPSG:4490 in 1.3.0
    resp = client.get("/ows", params)
    assert resp.status_code == 200
    assert pixel(resp.content, 150, 115)[3] == 0


@pytest.mark.parametrize("version,crs", [("1.1.1", "EPSG:4490"), ("1.3.0", "EPSG:4326"), ("1.1.1", "EPSG:3857")])
def test_getmap_in_other_versions_and_crs(client, version, crs):
    bbox = None
    if crs == "EPSG:3857":
        from pyproj import Transformer

        t = Transformer.from_crs("EPSG:4490", "EPSG:3857", always_xy=True)
        (x0, y0), (x1, y1) = t.transform(WINDOW[0], WINDOW[1]), t.transform(WINDOW[2], WINDOW[3])
        bbox = (x0, y0, x1, y1)
    resp = client.get("/ows", getmap_params(version=version, crs=crs, bbox=bbox))
    assert resp.status_code == 200, resp.content[:500]
    assert pixel(resp.content, 150, 115)[0] > 200


def test_getfeatureinfo_returns_the_parcel_attributes_as_json(client, tile_data):
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_parcels",
                           INFO_FORMAT="application/json", I="150", J="150")
    resp = client.get("/ows", params)
    assert resp.status_code == 200, resp.content[:500]
    doc = json.loads(resp.content)
    props = doc["features"][0]["properties"]
    assert props["parcel_code"] == tile_data["public"].parcel_code
    assert props["landuse_name"] == "城镇住宅用地"


def test_getfeatureinfo_as_html(client):
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_parcels",
                           INFO_FORMAT="text/html", I="150", J="150")
    resp = client.get("/ows", params)
    assert resp.status_code == 200
    assert "城镇住宅用地" in resp.content.decode()


def test_getfeatureinfo_outside_the_parcel_is_empty(client):
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_parcels",
                           INFO_FORMAT="application/json", I="5", J="5")
    resp = client.get("/ows", params)
    assert resp.status_code == 200
    assert not resp.content.strip() or json.loads(resp.content)["features"] == []


def test_getlegendgraphic(client):
    resp = client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic",
                               "LAYER": "land.test_parcels", "FORMAT": "image/png", "SLD_VERSION": "1.1.0"})
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"] == "image/png"


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_parses_capabilities(client, version):
    from owslib.wms import WebMapService

    resp = client.get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": version})
    assert resp.status_code == 200
    wms = WebMapService("http://testserver/ows", version=version, xml=resp.content)
    assert "land.test_parcels" in wms.contents
    assert "land" in wms.contents  # the theme group
    layer = wms["land.test_parcels"]
    assert layer.title == "测试宗地"
    assert {"EPSG:4490", "EPSG:4544", "EPSG:4326", "EPSG:3857"} <= set(layer.crsOptions)
    assert "application/json" in wms.getOperationByName("GetFeatureInfo").formatOptions


def test_getfeatureinfo_from_a_minimal_web_client_without_styles_and_format(client, tile_data):
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_parcels",
                           INFO_FORMAT="application/json", I="150", J="150")
    del params["STYLES"], params["FORMAT"]
    resp = client.get("/ows", params)
    assert resp.status_code == 200, resp.content[:300]
    assert json.loads(resp.content)["features"][0]["properties"]["parcel_code"] == tile_data["public"].parcel_code
