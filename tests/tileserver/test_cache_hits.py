"""Cache hits skip MapProxy (issue 15, item 3): a tile already in the file cache costs a file read and an
authorisation decision. Every security property of the MapProxy path holds on the hit path: forbidden layers'
files are never served, the per-client rate counts hits, answers computed for a user stay private."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache
from django.test import override_settings

from tileserver import coverage, views
from tileserver.cache import invalidate

from .conftest import PASSWORD, RESTRICTED_BBOX
from .test_tiles import PROBE, xyz

pytestmark = pytest.mark.django_db
Z = 15
PUBLIC = "land.test_parcels"
RESTRICTED = "land.test_restricted"
RESTRICTED_PROBE = (RESTRICTED_BBOX[0] + 0.002, RESTRICTED_BBOX[1] + 0.002)


def forms(layer: str, lon: float, lat: float) -> dict[str, str]:
    """The same webmercator tile in every URL form MapProxy serves it under, plus the CGCS2000 tile."""
    x, y = xyz(lon, lat, Z)
    size = 180 / 2**Z
    cx, cy = int((lon + 180) / size), int((90 - lat) / size)
    return {
        "xyz": f"/tiles/{layer}/webmercator/{Z}/{x}/{y}.png",
        "xyz-origin-sw": f"/tiles/{layer}/webmercator/{Z}/{x}/{2**Z - 1 - y}.png?origin=sw",
        "tms": f"/tms/1.0.0/{layer}/webmercator/{Z - 1}/{x}/{2**Z - 1 - y}.png",
        "wmts-rest": f"/wmts/{layer}/webmercator/{Z:02d}/{x}/{y}.png",
        "wmts-kvp": f"/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default"
                    f"&FORMAT=image/png&TILEMATRIXSET=webmercator&TILEMATRIX={Z:02d}&TILEROW={y}&TILECOL={x}",
        "cgcs2000": f"/tiles/{layer}/cgcs2000/{Z}/{cx}/{cy}.png",
    }


PUBLIC_FORMS = forms(PUBLIC, *PROBE)
RESTRICTED_FORMS = forms(RESTRICTED, *RESTRICTED_PROBE)


@pytest.fixture(autouse=True)
def fresh_rate_counters():
    cache.clear()
    yield
    cache.clear()


def refuse(environ):
    # pytest.fail raises outside Exception, so serve_ogc's catch-all cannot turn it into a 400.
    pytest.fail(f"MapProxy called for {environ['PATH_INFO']} on a cache hit")


def token(tile_data) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {tile_data['token']}"}


def basic(username: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()}


def stored_path(client, url: str, **headers) -> str:
    """Make sure the tile is in the cache (MapProxy renders it if needed); its file."""
    assert client.get(url, **headers).status_code == 200
    path, query = url.partition("?")[::2]
    from tileserver.params import parse_ogc_query

    tile = coverage.parse_tile_request(path, parse_ogc_query(query))
    assert tile is not None and tile.cache_file.exists()
    return tile.cache_path


@pytest.mark.parametrize("form", list(PUBLIC_FORMS))
def test_a_hit_is_served_from_disk_exactly_as_mapproxy_serves_it(client, tile_data, monkeypatch, form):
    url = PUBLIC_FORMS[form]
    path = stored_path(client, url)
    with monkeypatch.context() as m:  # MapProxy's own answer for the stored tile
        m.setattr(coverage, "stored_tile", lambda tile: None)
        theirs = client.get(url)
    with monkeypatch.context() as m:
        m.setattr(views, "call_mapproxy", refuse)
        ours = client.get(url)
    assert ours.status_code == theirs.status_code == 200
    with open(path, "rb") as f:
        assert ours.content == theirs.content == f.read()
    for header in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Access-Control-Allow-Origin",
                   "X-Content-Type-Options", "Vary"):
        assert ours[header] == theirs[header], header
    assert ours["Cache-Control"].startswith("public, max-age=")


def test_the_layer_grid_form_mapproxy_does_not_know_is_not_a_hit(client, tile_data, mapproxy_calls):
    """`/tiles/{layer}_{grid}/…` is unknown to MapProxy (grid names in the path): 404 even when the file exists."""
    stored_path(client, PUBLIC_FORMS["xyz"])
    x, y = xyz(*PROBE, Z)
    url = f"/tiles/{PUBLIC}_webmercator/{Z}/{x}/{y}.png"
    assert client.get(url).status_code == 404
    assert mapproxy_calls == [url]


def test_a_miss_goes_to_mapproxy_and_the_next_request_does_not(client, tile_data, mapproxy_calls):
    url = PUBLIC_FORMS["xyz"]
    invalidate(PUBLIC)
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(PUBLIC_FORMS["wmts-rest"]).status_code == 200  # the same file
    assert mapproxy_calls == [url]
    invalidate(PUBLIC)  # features changed: the stale file is gone, MapProxy renders again
    assert client.get(url).status_code == 200
    assert mapproxy_calls == [url, url]


@pytest.mark.parametrize("form", list(RESTRICTED_FORMS))
def test_a_forbidden_layers_cached_file_is_never_served(client, tile_data, form):
    url = RESTRICTED_FORMS[form]
    path = stored_path(client, url, **token(tile_data))  # the land department may read it: now on disk
    with open(path, "rb") as f:
        stored = f.read()
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous
    planner = client.get(url, **basic("tiles_planner"))  # signed in, another department
    assert planner.status_code == 403
    for resp in (anonymous, planner):
        assert resp.content != stored and not resp["Content-Type"].startswith("image/")
    # A hit is authorised per request: the steward still gets it, privately.
    allowed = client.get(url, **token(tile_data))
    assert allowed.status_code == 200 and allowed.content == stored


def test_a_hit_for_a_user_is_private_and_not_shared_cross_origin(client, tile_data, monkeypatch):
    url = RESTRICTED_FORMS["xyz"]
    stored_path(client, url, **token(tile_data))
    monkeypatch.setattr(views, "call_mapproxy", refuse)
    resp = client.get(url, **token(tile_data))
    assert resp.status_code == 200
    assert "private" in resp["Cache-Control"] and "public" not in resp["Cache-Control"]
    assert "Access-Control-Allow-Origin" not in resp
    assert {"Authorization", "Cookie"} <= {v.strip() for v in resp["Vary"].split(",")}


def test_conditional_requests_get_304_without_mapproxy(client, tile_data, monkeypatch):
    url = PUBLIC_FORMS["xyz"]
    stored_path(client, url)
    monkeypatch.setattr(views, "call_mapproxy", refuse)
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    for headers, status in (
        ({"HTTP_IF_NONE_MATCH": etag}, 304),
        ({"HTTP_IF_MODIFIED_SINCE": modified}, 304),
        ({"HTTP_IF_NONE_MATCH": "other"}, 200),
        ({"HTTP_IF_MODIFIED_SINCE": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
        ({"HTTP_IF_MODIFIED_SINCE": "Sat, 31 Dec 99999 23:59:59 GMT"}, 200),  # unrepresentable: ignored
        ({"HTTP_IF_MODIFIED_SINCE": "garbage"}, 200),
    ):
        resp = client.get(url, **headers)
        assert resp.status_code == status, headers
        assert resp["ETag"] == etag
        assert (resp.content == b"") == (status == 304)
        if status == 304:
            assert "Content-Type" not in resp


def test_hits_count_against_the_rate(client, tile_data, monkeypatch):
    url = PUBLIC_FORMS["xyz"]
    stored_path(client, url)
    cache.clear()
    monkeypatch.setattr(views, "call_mapproxy", refuse)
    with override_settings(CITYGIS_OGC_RATE_ANON="3/day"):
        assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_only_what_mapproxy_serves_from_a_stored_png_is_a_hit(client, tile_data):
    import yaml

    conf = yaml.safe_load(tile_data["paths"].mapproxy_yaml.read_text())
    live = [layer["name"] for group in conf["layers"][0]["layers"] for layer in group.get("layers", [])
            if layer["sources"] == [f"src_{layer['name']}"]]
    assert live, "the demo city registers live (uncached) layers"
    x, y = xyz(*PROBE, Z)
    cases = [
        (coverage.TileRequest(PUBLIC, "webmercator", Z, x, y, "png"), True),
        (coverage.TileRequest(PUBLIC, "cgcs2000", Z, x, y, "png"), True),
        (coverage.TileRequest(PUBLIC, "webmercator", Z, x, y, "jpeg"), False),  # MapProxy: invalid format
        (coverage.TileRequest(PUBLIC, "webmercator", Z, x, y, "png", named_grid=False), False),  # MapProxy: 404
        (coverage.TileRequest(live[0], "webmercator", Z, x, y, "png"), False),  # a stale file is never served
        (coverage.TileRequest("land.no_such_layer", "webmercator", Z, x, y, "png"), False),
    ]
    for tile, is_stored in cases:
        assert (coverage.stored_tile(tile) is not None) == is_stored, tile


def test_a_stale_file_of_a_live_layer_goes_to_mapproxy(client, tile_data, mapproxy_calls):
    """A layer served live (no cache) never answers from a file left in its cache directory."""
    import yaml

    conf = yaml.safe_load(tile_data["paths"].mapproxy_yaml.read_text())
    live = {layer["name"] for group in conf["layers"][0]["layers"] for layer in group.get("layers", [])
            if layer["sources"] == [f"src_{layer['name']}"]}
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    from tileserver.auth import readable_layer_names

    admin = get_user_model().objects.filter(is_superuser=True, is_active=True).first()
    if admin is None:
        admin = get_user_model().objects.create_superuser("tiles_admin", password=PASSWORD)
    readable = sorted(live & readable_layer_names(admin))
    assert readable, "the demo city has live layers an administrator may read"
    name = readable[0]
    from rest_framework.authtoken.models import Token

    key = Token.objects.get_or_create(user=admin)[0].key
    headers = {} if name in readable_layer_names(AnonymousUser()) else {"HTTP_AUTHORIZATION": f"Token {key}"}
    x, y = xyz(*PROBE, Z)
    tile = coverage.TileRequest(name, "webmercator", Z, x, y, "png")
    tile.cache_file.parent.mkdir(parents=True, exist_ok=True)
    tile.cache_file.write_bytes(b"stale, not a PNG")
    try:
        resp = client.get(f"/tiles/{name}/webmercator/{Z}/{x}/{y}.png", **headers)
        assert resp.content != b"stale, not a PNG"
        assert len(mapproxy_calls) == 1
    finally:
        tile.cache_file.unlink()


def test_the_gunicorn_dispatcher_serves_hits_with_length_and_head(ows_server):
    import requests

    url = ows_server + PUBLIC_FORMS["xyz"]
    first = requests.get(url, timeout=60)
    hit = requests.get(url, timeout=60)
    assert first.status_code == hit.status_code == 200
    assert hit.content == first.content and hit.headers["ETag"] == first.headers["ETag"]
    assert int(hit.headers["Content-Length"]) == len(hit.content)
    head = requests.head(url, timeout=60)
    assert head.status_code == 200 and head.content == b"" and head.headers["ETag"] == hit.headers["ETag"]
    not_modified = requests.get(url, headers={"If-None-Match": hit.headers["ETag"]}, timeout=60)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert requests.get(ows_server + RESTRICTED_FORMS["xyz"], timeout=60).status_code == 401
