"""The shared tile cache (issue 14, item 2): with CITYGIS_TILE_CACHE_REDIS_URL set, MapProxy keeps tiles in a real
Redis; a tile rendered by one node is served by another node (its own generated configuration and no local
tile), an invalidation on one node removes it for all, and a Redis that does not answer only costs a render."""

from __future__ import annotations

import zlib

import pytest
import redis
from django.core.cache import cache

from tileserver import tilestore, views
from tileserver.cache import invalidate
from tileserver.generate import generate_all
from tileserver.paths import config_paths

from .conftest import PARCEL_BBOX
from .test_cache_hits import PUBLIC, refuse
from .test_tiles import PROBE, xyz

pytestmark = pytest.mark.django_db
Z = 15


def _db_number() -> int:
    """A Redis database of this test run's own (runs on other test databases get another one)."""
    from django.db import connection

    return 10 + zlib.crc32(connection.settings_dict["NAME"].encode()) % 6


@pytest.fixture
def shared(settings, tile_data):
    """Every node of this test points at one Redis database (emptied of the test layer's tiles first)."""
    url = f"redis://127.0.0.1:6379/{_db_number()}"
    invalidate(PUBLIC)  # no tile of the layer left in the local file cache by earlier tests
    settings.CITYGIS_TILE_CACHE_REDIS_URL = url
    generate_all()
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{PUBLIC}_*"):
        client.delete(key)
    cache.clear()
    yield client
    for key in client.scan_iter(match=f"{PUBLIC}_*"):
        client.delete(key)
    settings.CITYGIS_TILE_CACHE_REDIS_URL = ""
    generate_all()
    cache.clear()


def tile_url() -> tuple[str, str]:
    x, y = xyz(*PROBE, Z)
    return f"/tiles/{PUBLIC}/webmercator/{Z}/{x}/{y}.png", tilestore.key(PUBLIC, "webmercator", Z, x, y)


def test_the_generated_mapproxy_cache_is_redis_without_expiry(shared):
    import yaml

    conf = yaml.safe_load(config_paths().mapproxy_yaml.read_text())
    block = conf["caches"][PUBLIC]["cache"]
    assert block["type"] == "redis" and block["db"] == _db_number() and block["default_ttl"] == 0
    assert block["coverage"]["srs"] == "EPSG:4490"


def test_a_tile_rendered_by_one_node_is_served_by_another(client, shared, settings, tmp_path, monkeypatch):
    url, key = tile_url()
    first = client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert shared.get(key) == first.content  # MapProxy stored it in Redis
    x, y = xyz(*PROBE, Z)
    assert not (config_paths().cache_dir / PUBLIC / "webmercator" / str(Z) / str(x) / f"{y}.png").exists()  # not on disk

    # Node two: its own var directory (generated configuration, empty local cache), the same Redis.
    settings.CITYGIS_MAPFILE_DIR = tmp_path / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = tmp_path / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = tmp_path / "tilecache"
    generate_all()
    monkeypatch.setattr(views, "call_mapproxy", refuse)  # a hit: MapProxy is not even asked
    second = client.get(url)
    assert second.status_code == 200 and second.content == first.content
    assert second["ETag"] and second["Cache-Control"].startswith("public, max-age=")
    assert client.get(url, HTTP_IF_NONE_MATCH=second["ETag"]).status_code == 304


def test_an_edit_on_one_node_removes_the_tiles_for_every_node(client, shared):
    url, key = tile_url()
    assert client.get(url).status_code == 200 and shared.exists(key)
    far = tilestore.key(PUBLIC, "webmercator", Z, 0, 0)
    shared.set(far, b"elsewhere")
    assert invalidate(PUBLIC, PARCEL_BBOX) >= 1
    assert not shared.exists(key)
    assert shared.get(far) == b"elsewhere"  # outside the edited box: kept
    assert invalidate(PUBLIC) == -1
    assert not shared.exists(far)


def test_a_redis_that_does_not_answer_costs_a_render_not_an_error(client, shared, settings):
    url, _ = tile_url()
    settings.CITYGIS_TILE_CACHE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    generate_all()
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/1", "redis://127.0.0.1:6379/x", "redis:///1"])
def test_a_malformed_url_is_refused_by_name(settings, url):
    settings.CITYGIS_TILE_CACHE_REDIS_URL = url
    with pytest.raises(ValueError, match="CITYGIS_TILE_CACHE_REDIS_URL"):
        tilestore.cache_config({"bbox": [0, 0, 1, 1], "srs": "EPSG:4490"})
