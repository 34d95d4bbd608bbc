"""Access control: anonymous clients see public layers only; Basic and token users what layers.access allows."""

from __future__ import annotations

import base64

import pytest

from .conftest import PASSWORD, RESTRICTED_BBOX
from .test_wms import getmap_params, pixel

pytestmark = pytest.mark.django_db

CENTER = ((RESTRICTED_BBOX[0] + RESTRICTED_BBOX[2]) / 2, (RESTRICTED_BBOX[1] + RESTRICTED_BBOX[3]) / 2)
WINDOW = (CENTER[0] - 0.015, CENTER[1] - 0.015, CENTER[0] + 0.015, CENTER[1] + 0.015)


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def capabilities(client, **headers) -> str:
    resp = client.get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}, **headers)
    assert resp.status_code == 200
    return resp.content.decode()


def restricted_getmap(client, **headers):
    return client.get("/ows", getmap_params(layers="land.test_restricted", bbox=WINDOW), **headers)


def test_anonymous_capabilities_hide_the_restricted_layer(client, tile_data):
    text = capabilities(client)
    assert "land.test_parcels" in text
    assert "land.test_restricted" not in text


def test_anonymous_getmap_on_restricted_layer_is_401_with_basic_challenge(client, tile_data):
    resp = restricted_getmap(client)
    assert resp.status_code == 401
    assert resp["WWW-Authenticate"].startswith("Basic")
    assert resp["Content-Type"] != "image/png"


def test_anonymous_featureinfo_and_legend_on_restricted_layer_are_refused(client, tile_data):
    params = getmap_params(layers="land.test_restricted", bbox=WINDOW, REQUEST="GetFeatureInfo",
                           QUERY_LAYERS="land.test_restricted", INFO_FORMAT="application/json", I="150", J="150")
    assert client.get("/ows", params).status_code == 401
    legend = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": "land.test_restricted",
              "FORMAT": "image/png"}
    assert client.get("/ows", legend).status_code == 401


def test_owner_department_gets_the_restricted_layer_with_basic_auth(client, tile_data):
    assert "land.test_restricted" in capabilities(client, **basic("tiles_land"))
    resp = restricted_getmap(client, **basic("tiles_land"))
    assert resp.status_code == 200, resp.content[:300]
    r, g, b, a = pixel(resp.content, 150, 115)
    assert a > 200 and b > 200 and r < 60  # the blue restricted parcel


def test_token_in_query_string_or_header_authorises(client, tile_data):
    params = getmap_params(layers="land.test_restricted", bbox=WINDOW, token=tile_data["token"])
    assert client.get("/ows", params).status_code == 200
    resp = restricted_getmap(client, HTTP_AUTHORIZATION=f"Token {tile_data['token']}")
    assert resp.status_code == 200


def test_other_department_is_forbidden(client, tile_data):
    assert "land.test_restricted" not in capabilities(client, **basic("tiles_planner"))
    assert restricted_getmap(client, **basic("tiles_planner")).status_code == 403


def test_wrong_credentials_are_401_not_anonymous(client, tile_data):
    assert restricted_getmap(client, **basic("tiles_land", "wrong-password")).status_code == 401
    params = getmap_params(token="not-a-token")
    assert client.get("/ows", params).status_code == 401


def test_restricted_tiles_need_authorisation(client, tile_data):
    url = "/tiles/land.test_restricted/webmercator/14/13153/6915.png"
    assert client.get(url).status_code == 401
    assert client.get(url, **basic("tiles_planner")).status_code == 403
    assert client.get(url, **basic("tiles_land")).status_code == 200


def test_wmts_capabilities_hide_the_restricted_layer(client, tile_data):
    text = client.get("/wmts/1.0.0/WMTSCapabilities.xml").content.decode()
    assert "land.test_parcels" in text and "land.test_restricted" not in text
    text = client.get("/wmts/1.0.0/WMTSCapabilities.xml", **basic("tiles_land")).content.decode()
    assert "land.test_restricted" in text
