"""OGC API – Features Part 2 (tileserver/ogcapi/crs.py): `crs`, `bbox-crs`, `storageCrs`, `Content-Crs` and the
axis order of each CRS — CRS84 and EPSG:3857 east first, EPSG:4490/4326/4544 north first, as their EPSG
definitions say. The test parcel is the square PARCEL_BBOX (lon/lat), so each ring corner is known exactly.
"""

from __future__ import annotations

import json

import pytest
from pyproj import Transformer

from .conftest import PARCEL_BBOX

pytestmark = pytest.mark.django_db

PUBLIC = "land.test_parcels"
ITEMS = f"/ogcapi/collections/{PUBLIC}/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def ring(client, **params) -> tuple[set[tuple[float, float]], str]:
    response = client.get(ITEMS, params)
    assert response.status_code == 200, response.content[:300]
    (feature,) = json.loads(response.content)["features"]
    return {tuple(p) for p in feature["geometry"]["coordinates"][0][0]}, response["Content-Crs"]


def corners(order: str = "xy") -> set[tuple[float, float]]:
    minx, miny, maxx, maxy = PARCEL_BBOX
    pts = {(minx, miny), (minx, maxy), (maxx, maxy), (maxx, miny)}
    return pts if order == "xy" else {(y, x) for x, y in pts}


def test_default_output_is_crs84_lon_lat(client, tile_data):
    points, content_crs = ring(client)
    assert points == corners("xy") and content_crs == f"<{CRS84}>"


@pytest.mark.parametrize("code", ["4490", "4326"])
def test_geographic_epsg_crs_is_lat_lon(client, tile_data, code):
    points, content_crs = ring(client, crs=EPSG + code)
    assert points == corners("yx") and content_crs == f"<{EPSG}{code}>"


def test_epsg_4544_is_northing_easting_in_metres(client, tile_data):
    points, content_crs = ring(client, crs=EPSG + "4544")
    assert content_crs == f"<{EPSG}4544>"
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)
    expected = [(n, e) for e, n in (to_gk.transform(x, y) for x, y in corners("xy"))]
    assert len(points) == 4
    for a, b in points:  # PostGIS and pyproj agree to the millimetre output precision
        assert min(abs(a - n) + abs(b - e) for n, e in expected) < 0.01, (a, b, expected)
    assert all(2_900_000 < p[0] < 3_000_000 and 400_000 < p[1] < 600_000 for p in points)


def test_epsg_3857_is_easting_northing(client, tile_data):
    points, _crs = ring(client, crs=EPSG + "3857")
    x, y = next(iter(points))
    assert 11_668_000 < x < 11_670_000 and 3_071_000 < y < 3_073_000


def test_one_item_in_a_crs(client, tile_data):
    response = client.get(f"{ITEMS}/{tile_data['public'].pk}", {"crs": EPSG + "4490"})
    assert response["Content-Crs"] == f"<{EPSG}4490>"
    coords = json.loads(response.content)["geometry"]["coordinates"][0][0]
    assert {tuple(p) for p in coords} == corners("yx")


def _matched(client, **params) -> int:
    response = client.get(ITEMS, params)
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)["numberMatched"]


def test_bbox_crs_follows_the_axis_order_of_its_crs(client, tile_data):
    minx, miny, maxx, maxy = PARCEL_BBOX
    lon_lat = f"{minx + 0.004},{miny + 0.004},{minx + 0.006},{miny + 0.006}"
    lat_lon = f"{miny + 0.004},{minx + 0.004},{miny + 0.006},{minx + 0.006}"
    assert _matched(client, bbox=lon_lat) == 1
    assert _matched(client, bbox=lon_lat, **{"bbox-crs": CRS84}) == 1
    for code in ("4490", "4326"):
        assert _matched(client, bbox=lat_lon, **{"bbox-crs": EPSG + code}) == 1
        assert _matched(client, bbox=lon_lat, **{"bbox-crs": EPSG + code}) == 0


@pytest.mark.parametrize(("code", "north_first"), [("3857", False), ("4544", True)])
def test_projected_bbox_crs(client, tile_data, code, north_first):
    to = Transformer.from_crs("EPSG:4490", f"EPSG:{code}", always_xy=True)
    x, y = to.transform(PARCEL_BBOX[0] + 0.005, PARCEL_BBOX[1] + 0.005)
    box = (y - 50, x - 50, y + 50, x + 50) if north_first else (x - 50, y - 50, x + 50, y + 50)
    assert _matched(client, bbox=",".join(map(str, box)), **{"bbox-crs": EPSG + code}) == 1
    far = (box[0] + 50_000, box[1], box[2] + 50_000, box[3])
    assert _matched(client, bbox=",".join(map(str, far)), **{"bbox-crs": EPSG + code}) == 0


def test_crs_spellings_clients_use(client, tile_data):
    for spelling in ("EPSG:4490", "urn:ogc:def:crs:EPSG::4490", "[EPSG:4490]"):
        points, content_crs = ring(client, crs=spelling)
        assert points == corners("yx") and content_crs == f"<{EPSG}4490>"


@pytest.mark.parametrize("parameter", ["crs", "bbox-crs", "filter-crs"])
@pytest.mark.parametrize("value", ["EPSG:2000", "http://www.opengis.net/def/crs/EPSG/0/999999", "foo", "/etc/passwd"])
def test_unsupported_crs_is_a_400_naming_the_parameter(client, tile_data, parameter, value):
    params = {parameter: value}
    if parameter == "bbox-crs":
        params["bbox"] = "1,2,3,4"
    response = client.get(ITEMS, params)
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["parameter"] == parameter


def test_collections_advertise_the_crs_list_and_storage_crs(client, tile_data):
    data = json.loads(client.get(f"/ogcapi/collections/{PUBLIC}").content)
    assert data["crs"] == [CRS84] + [EPSG + c for c in ("4490", "4544", "4326", "3857")]
    assert data["storageCrs"] == EPSG + "4490"
    minx, miny, maxx, maxy = PARCEL_BBOX
    assert data["storageCrsBbox"] == [[miny, minx, maxy, maxx]]
