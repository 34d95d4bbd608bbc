"""Request hygiene of the OGC endpoints on both entry points (Django URLconf and the gunicorn fast path):
Host validated (obs. 14), security headers present, CORS only on anonymous answers (obs. 16)."""

from __future__ import annotations

import pytest
import requests

from .conftest import PASSWORD
from .test_wms import getmap_params

pytestmark = pytest.mark.django_db
CAPS = {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}
ENDPOINTS = [
    ("/ows", CAPS),
    ("/ows", getmap_params()),
    ("/wmts/1.0.0/WMTSCapabilities.xml", None),
    ("/tiles/land.test_parcels/webmercator/1/1/0.png", None),
    ("/tms/1.0.0/", None),
    ("/ows", {"SERVICE": "WMS", "REQUEST": "Explode"}),  # errors carry them too
]


def vary(resp) -> set[str]:
    return {v.strip().lower() for v in resp.get("Vary", "").split(",") if v.strip()}


@pytest.mark.parametrize("path,params", ENDPOINTS)
def test_anonymous_answers_carry_security_headers_and_open_cors(client, tile_data, path, params):
    resp = client.get(path, params)
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["Access-Control-Allow-Origin"] == "*"
    assert {"authorization", "cookie"} <= vary(resp)


@pytest.mark.parametrize("path,params", ENDPOINTS)
def test_answers_for_a_user_are_not_shared_cross_origin_or_by_caches(client, tile_data, path, params):
    resp = client.get(path, params, HTTP_AUTHORIZATION=f"Token {tile_data['token']}")
    assert resp.status_code < 500
    assert "Access-Control-Allow-Origin" not in resp
    assert {"authorization", "cookie"} <= vary(resp)
    assert "private" in resp["Cache-Control"] and "public" not in resp["Cache-Control"]
    assert resp["X-Content-Type-Options"] == "nosniff" and resp["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/ows?SERVICE=WMS&REQUEST=GetCapabilities", "/wmts/1.0.0/WMTSCapabilities.xml",
                                  "/tms/1.0.0/"])
def test_fast_path_refuses_a_foreign_host(ows_server, path):
    resp = requests.get(ows_server + path, headers={"Host": "evil.example"}, timeout=30)
    assert resp.status_code == 400
    assert b"evil.example" not in resp.content
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "X-Script-Name"])
def test_fast_path_capabilities_ignore_forwarded_url_headers(ows_server, header):
    value = "evil.example" if header == "X-Forwarded-Host" else "/evil-prefix"
    resp = requests.get(ows_server + "/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                        headers={header: value}, timeout=30)
    assert resp.status_code == 200
    assert value.encode() not in resp.content
    assert ows_server.removeprefix("http://").encode() in resp.content


def test_fast_path_headers_and_cors(ows_server):
    url = ows_server + "/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"
    anon = requests.get(url, timeout=30)
    assert anon.headers["X-Frame-Options"] == "DENY" and anon.headers["Access-Control-Allow-Origin"] == "*"
    signed_in = requests.get(url, auth=("tiles_land", PASSWORD), timeout=30)
    assert signed_in.status_code == 200 and "Access-Control-Allow-Origin" not in signed_in.headers
    assert "Authorization" in signed_in.headers["Vary"] and "Cookie" in signed_in.headers["Vary"]


def test_django_path_refuses_a_foreign_host(client, tile_data):
    resp = client.get("/ows", CAPS, HTTP_HOST="evil.example")
    assert resp.status_code == 400
    assert b"evil.example" not in resp.content


def test_the_view_itself_validates_the_host_without_middleware(rf, tile_data):
    """serve_ogc is also the fast path's handler: it must not rely on CommonMiddleware."""
    from tileserver.views import ows

    resp = ows(rf.get("/ows", CAPS, HTTP_HOST="evil.example"), "ows")
    assert resp.status_code == 400 and b"ServiceException" in resp.content and b'locator="Host"' in resp.content
    assert ows(rf.get("/ows", CAPS), "ows").status_code == 200


@pytest.mark.parametrize("header,value", [("HTTP_X_FORWARDED_PROTO", "gopher"),
                                          ("HTTP_X_FORWARDED_HOST", "evil.example"),
                                          ("HTTP_X_SCRIPT_NAME", "/evil-prefix")])
def test_capabilities_urls_ignore_client_supplied_forwarding_headers(client, tile_data, header, value):
    resp = client.get("/ows", CAPS, **{header: value})
    assert resp.status_code == 200
    assert value.encode() not in resp.content
    assert b"http://testserver/" in resp.content
