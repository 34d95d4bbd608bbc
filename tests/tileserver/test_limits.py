"""Rendering cost limits (issue 9, obs. 3): pixel budget (lower for anonymous), concurrent renders per process
(503 + Retry-After), per-client request rate (429 + Retry-After) and the mapserv time limit."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import yaml
from django.core.cache import cache
from django.test import override_settings

from tileserver import limits

from .test_tiles import PROBE, xyz
from .test_wms import getmap_params

pytestmark = pytest.mark.django_db
CAPS = {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}


@pytest.fixture(autouse=True)
def fresh_rate_counters():
    cache.clear()
    yield
    cache.clear()


def auth(tile_data) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {tile_data['token']}"}


@override_settings(CITYGIS_OGC_MAX_PIXELS_ANON=200 * 200, CITYGIS_OGC_MAX_PIXELS=400 * 400)
@pytest.mark.parametrize("signed_in,width,height,status", [
    (False, 200, 200, 200),
    (False, 201, 200, 400),
    (False, 100, 401, 400),
    (True, 201, 200, 200),
    (True, 400, 400, 200),
    (True, 401, 400, 400),
    (True, 40000, 1, 400),  # each side is also bounded (mapfile.MAX_SIZE)
])
def test_pixel_budget_anonymous_vs_signed_in(client, tile_data, signed_in, width, height, status):
    headers = auth(tile_data) if signed_in else {}
    resp = client.get("/ows", getmap_params(WIDTH=str(width), HEIGHT=str(height)), **headers)
    assert resp.status_code == status, resp.content[:300]
    if status == 400:
        assert b'locator="WIDTH"' in resp.content or b'locator="HEIGHT"' in resp.content


@pytest.mark.parametrize("request_name", ["GetMap", "GetFeatureInfo"])
def test_anonymous_root_group_at_4096_is_refused_in_milliseconds(client, tile_data, request_name):
    """The request that took 292 s of CPU (obs. 3), with the default settings."""
    params = getmap_params(layers="citygis", WIDTH="4096", HEIGHT="4096", REQUEST=request_name,
                           QUERY_LAYERS="citygis", I="1", J="1", INFO_FORMAT="text/html",
                           bbox=(104.3, 25.2, 105.7, 26.9))
    client.get("/ows", CAPS)  # warm up (middleware chain, registry caches)
    started = time.perf_counter()
    resp = client.get("/ows", params)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 400 and b'locator="WIDTH"' in resp.content
    assert elapsed < 0.1, elapsed  # measured 1–14 ms


def test_theme_group_is_bounded_like_a_layer(client, tile_data):
    resp = client.get("/ows", getmap_params(layers="land", WIDTH="1025", HEIGHT="1024"))
    assert resp.status_code == 400


@override_settings(CITYGIS_RENDER_CONCURRENCY=1, CITYGIS_RENDER_WAIT=0.2)
def test_render_slots_full_gives_503_with_retry_after_and_cached_tiles_still_flow(client, tile_data):
    z = 15
    x, y = xyz(*PROBE, z)
    cached = f"/tiles/land.test_parcels/webmercator/{z}/{x}/{y}.png"
    assert client.get(cached).status_code == 200  # rendered once, now on disk
    uncached_x, uncached_y = xyz(*PROBE, 18)
    uncached = f"/tiles/land.test_parcels/webmercator/18/{uncached_x}/{uncached_y}.png"
    holding, release = threading.Event(), threading.Event()

    def hold():
        with limits.render_slot():
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(5)
        for url, params in (("/ows", getmap_params()), (uncached, None)):
            resp = client.get(url, params)
            assert resp.status_code == 503, (url, resp.content[:300])
            assert int(resp["Retry-After"]) >= 1
            assert b"ServiceException" in resp.content
        assert client.get(cached).status_code == 200  # a cached tile needs no render slot
        assert not (tile_data["paths"].cache_dir / "land.test_parcels/webmercator/18" / str(uncached_x)
                    / f"{uncached_y}.png").exists()
    finally:
        release.set()
        worker.join()
    assert client.get("/ows", getmap_params()).status_code == 200  # the slot is free again


@override_settings(CITYGIS_OGC_RATE_ANON="3/day", CITYGIS_OGC_RATE_USER="5/day")
def test_rate_per_client_gives_429_with_retry_after(client, tile_data):
    caps = CAPS
    for _ in range(3):
        assert client.get("/ows", caps).status_code == 200
    resp = client.get("/ows", caps)
    assert resp.status_code == 429 and 1 <= int(resp["Retry-After"]) <= 86400
    assert b"ServiceException" in resp.content
    # A forged X-Forwarded-For (no trusted proxy configured) does not reset the counter …
    assert client.get("/ows", caps, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # … tiles count too, another address has its own budget, and a user is counted by account.
    assert client.get("/tiles/land.test_parcels/webmercator/1/1/0.png").status_code == 429
    assert client.get("/ows", caps, REMOTE_ADDR="198.51.100.4").status_code == 200
    statuses = [client.get("/ows", caps, **auth(tile_data)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_parse_rate():
    assert limits.parse_rate("600/min") == (600, 60)
    assert limits.parse_rate("10/s") == (10, 1)
    assert limits.parse_rate("5/hour") == (5, 3600)
    for bad in ("abc", "10/fortnight", "/min"):
        with pytest.raises(ValueError):
            limits.parse_rate(bad)


def cgi_env(tile_data) -> dict[str, str]:
    paths = tile_data["paths"]
    return dict(os.environ, MAPSERVER_CONFIG_FILE=str(paths.mapserver_config), REQUEST_METHOD="GET",
                QUERY_STRING=f"map={paths.mapfile}&SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=land.test_parcels"
                "&STYLES=&SRS=EPSG:4490&BBOX=104.81,26.57,104.84,26.60&WIDTH=64&HEIGHT=64&FORMAT=image/png")


def test_mapserv_wrapper_runs_mapserv_and_kills_it_after_the_timeout(tile_data, tmp_path, settings):
    settings.CITYGIS_MAPSERV_TIMEOUT = 1
    wrapper = limits.mapserv_wrapper(tmp_path)
    out = subprocess.run([str(wrapper)], env=cgi_env(tile_data), capture_output=True, timeout=30)
    assert out.returncode == 0 and b"image/png" in out.stdout[:200]
    slow = tmp_path / "slow-mapserv"
    slow.write_text("#!/bin/sh\nsleep 20\n")
    slow.chmod(0o755)
    wrapper.write_text(wrapper.read_text().replace(limits.MAPSERV, str(slow)))
    started = time.monotonic()
    out = subprocess.run([str(wrapper)], env=cgi_env(tile_data), capture_output=True, timeout=30)
    assert out.returncode == limits.MAPSERV_TIMEOUT_EXIT and time.monotonic() - started < 5
    assert limits.mapserv_wrapper(tmp_path).read_text().count(limits.MAPSERV) == 1  # rewritten when changed


def test_mapproxy_with_the_wrapper_answers_503_when_mapserv_runs_too_long(client, tile_data, tmp_path, settings):
    """What the generated configuration does once its `mapserver.binary` is the wrapper: a stuck mapserv is
    killed and the client told to retry, nothing stored."""
    settings.CITYGIS_MAPSERV_TIMEOUT = 1
    slow = tmp_path / "slow-mapserv"
    slow.write_text("#!/bin/sh\nsleep 20\n")
    slow.chmod(0o755)
    options = limits.mapserver_options(tmp_path)
    wrapper = tmp_path / limits.WRAPPER_NAME
    assert options == {"binary": str(wrapper), "working_dir": str(tmp_path)} and os.access(wrapper, os.X_OK)
    wrapper.write_text(wrapper.read_text().replace(limits.MAPSERV, str(slow)))
    conf = yaml.safe_load(tile_data["paths"].mapproxy_yaml.read_text())
    for source in conf["sources"].values():
        source["mapserver"] = options
    conf["globals"]["cache"]["base_dir"] = str(tmp_path / "cache")
    (tmp_path / "mapproxy").mkdir()
    (tmp_path / "mapproxy" / "mapproxy.yaml").write_text(yaml.safe_dump(conf, allow_unicode=True))
    settings.CITYGIS_MAPPROXY_DIR = tmp_path / "mapproxy"
    started = time.monotonic()
    resp = client.get("/ows", getmap_params())
    assert resp.status_code == 503 and resp["Retry-After"], resp.content[:300]
    assert b"time limit" in resp.content
    assert time.monotonic() - started < 10
    assert not list((tmp_path / "cache").rglob("*.png"))


def test_rate_is_shared_through_redis_across_processes(client, tile_data):
    """With REDIS_URL every gunicorn worker counts against one budget: an independent Redis client (another
    process' view) sees this process' count."""
    import uuid

    import redis as redis_py

    location = "redis://127.0.0.1:6379/1"
    prefix = f"test-ogclimits-{uuid.uuid4().hex[:8]}"
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    shared = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location,
                          "KEY_PREFIX": prefix}}
    other_process = redis_py.Redis.from_url(location)
    try:
        with override_settings(CACHES=shared, CITYGIS_OGC_RATE_ANON="2/day"):
            statuses = [client.get("/ows", CAPS, REMOTE_ADDR=address).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        keys = other_process.keys(f"{prefix}:*")
        assert len(keys) == 1 and address.encode() in keys[0] and other_process.get(keys[0]) == b"3"
    finally:
        for key in other_process.keys(f"{prefix}:*"):
            other_process.delete(key)


def test_group_requests_count_every_layer_they_draw_against_the_rate(client, tile_data):
    """The root group is bounded like its layers together: a GetMap of `citygis` costs one unit per layer."""
    from django.contrib.auth.models import AnonymousUser

    from tileserver.auth import readable_layer_names

    layers = len(readable_layer_names(AnonymousUser()))
    assert layers > 2
    root = getmap_params(layers="citygis", WIDTH="4096", HEIGHT="4096")  # refused by size, counted by cost
    with override_settings(CITYGIS_OGC_RATE_ANON=f"{layers + 2}/day"):
        assert client.get("/ows", root).status_code == 400
        assert [client.get("/ows", CAPS).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("names,expected", [
    ("land.a", 1), ("land.a,base.b", 2), ("citygis", 4), ("land", 2), ("base", 1), ("nosuchtheme", 1),
    ("citygis,land", 6), ("", 1),
])
def test_layer_count(names, expected):
    readable = frozenset({"land.a", "land.b", "base.b", "cases.c"})
    assert limits.layer_count(names, readable, "citygis") == expected
