"""OGC parameters are parsed once, case-insensitively; repeats, control characters and invalid UTF-8 are refused
(issue 9, obs. 11: `LAYER=land.mining&layer=base.city` — our check read one value, MapProxy the other)."""

from __future__ import annotations

import pytest

from tileserver.params import OGCParamError, parse_ogc_query

pytestmark = pytest.mark.django_db

LEGEND = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png&SLD_VERSION=1.1.0&"
GETMAP = ("/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&STYLES=&CRS=EPSG:4490&BBOX=26.57,104.81,26.60,104.84"
          "&WIDTH=64&HEIGHT=64&FORMAT=image/png&")


@pytest.mark.parametrize("query,parameter", [
    ("LAYER=land.test_restricted&layer=land.test_parcels", "LAYER"),
    ("layer=land.test_parcels&LAYER=land.test_restricted", "LAYER"),
    ("LAYER=land.test_parcels&LAYER=land.test_parcels", "LAYER"),
    ("Layer=land.test_restricted&lAyEr=land.test_parcels", "LAYER"),
])
def test_legend_with_a_repeated_layer_parameter_is_refused(client, tile_data, query, parameter):
    resp = client.get(LEGEND + query)
    assert resp.status_code == 400, resp.content[:300]
    assert f'locator="{parameter}"'.encode() in resp.content
    assert not resp["Content-Type"].startswith("image/")


@pytest.mark.parametrize("query,parameter", [
    ("LAYERS=land.test_parcels&layers=land.test_restricted", "LAYERS"),
    ("LAYERS=land.test_parcels&WIDTH=32", "WIDTH"),
    ("LAYERS=land.test_parcels%00", "LAYERS"),
    ("LAYERS=land.test_parcels%0a", "LAYERS"),
    ("LAYERS=land.test_parcels&STYLES=%1b", "STYLES"),
    ("LAYERS=land.test_%FFparcels", ""),
    ("LAYERS=land.test_parcels&BAD%00KEY=1", ""),
])
def test_getmap_with_repeated_or_unsafe_parameters_is_refused(client, tile_data, query, parameter):
    resp = client.get(GETMAP + query)
    assert resp.status_code == 400, resp.content[:300]
    assert b"ServiceException" in resp.content
    if parameter:
        assert f'locator="{parameter}"'.encode() in resp.content


def test_the_same_request_without_the_repeat_is_served(client, tile_data):
    assert client.get(GETMAP + "LAYERS=land.test_parcels").status_code == 200
    assert client.get(LEGEND + "LAYER=land.test_parcels").status_code == 200


def test_anonymous_legend_of_a_restricted_layer_is_still_refused(client, tile_data):
    resp = client.get(LEGEND + "LAYER=land.test_restricted")
    assert resp.status_code == 401


@pytest.mark.parametrize("query,expected", [
    ("SERVICE=WMS&Request=GetMap", {"service": "WMS", "request": "GetMap"}),
    ("LAYERS=a,b&STYLES=", {"layers": "a,b", "styles": ""}),
    ("BBOX=1%2C2%2C3%2C4&name=%E5%85%AD%E7%9B%98%E6%B0%B4", {"bbox": "1,2,3,4", "name": "六盘水"}),
    ("", {}),
])
def test_parse_ogc_query(query, expected):
    assert parse_ogc_query(query) == expected


@pytest.mark.parametrize("query,parameter", [
    ("a=1&A=2", "A"), ("LAYERS=x&layers=y", "LAYERS"), ("x=%00", "X"), ("x=a%0Db", "X"), ("x=%7F", "X"),
    ("x=%C3%28", ""), ("%00=1", ""),
])
def test_parse_ogc_query_refuses(query, parameter):
    with pytest.raises(OGCParamError) as info:
        parse_ogc_query(query)
    assert info.value.parameter == parameter


def test_parse_ogc_query_bounds_the_number_of_parameters(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    with pytest.raises(OGCParamError):
        parse_ogc_query("&".join(f"k{i}=v" for i in range(11)))


def test_the_authorization_hook_reads_the_same_parse():
    from tileserver.auth import _explicit_layers

    environ = {"QUERY_STRING": "LAYERS=a", "citygis.params": {"layers": "land.test_restricted"}}
    assert _explicit_layers("wms.map", [], environ, None) == ["land.test_restricted"]
    with pytest.raises(OGCParamError):
        _explicit_layers("wms.map", [], {"QUERY_STRING": "LAYERS=a&layers=b"}, None)
