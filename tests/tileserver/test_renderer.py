"""The persistent renderer (issue 15, item 1): with CITYGIS_RENDERER=fastcgi, MapProxy's renders go to a pool of
long-lived mapserv FastCGI processes (real spawn-fcgi, multiwatch, cgi-fcgi): the same images as spawning mapserv,
a killed process replaced, and no pool means a refused render, never a silent fallback."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time

import pytest
from django.core.cache import cache
from PIL import Image, ImageChops

from tileserver import renderer
from tileserver.cache import invalidate
from tileserver.generate import generate_all
from tileserver.paths import config_paths

from .conftest import PARCEL_BBOX

pytestmark = pytest.mark.django_db
LAYER = "land.test_parcels"


def getmap(client):
    minx, miny, maxx, maxy = PARCEL_BBOX
    invalidate(LAYER)  # every call renders
    cache.clear()
    return client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": LAYER,
                               "STYLES": "", "SRS": "EPSG:4490", "BBOX": f"{minx},{miny},{maxx},{maxy}",
                               "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png"})


@pytest.fixture
def fastcgi(settings, tile_data):
    settings.CITYGIS_RENDERER = "fastcgi"
    generate_all()
    yield config_paths()
    settings.CITYGIS_RENDERER = "cgi"
    generate_all()


@pytest.fixture
def pool(fastcgi):
    proc = renderer.start_pool(fastcgi, processes=2)
    yield proc
    proc.terminate()
    proc.wait(timeout=30)
    renderer.socket_path(fastcgi).unlink(missing_ok=True)


def workers(pool) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pool.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_the_wrapper_hands_renders_to_the_pool(fastcgi):
    script = (fastcgi.mapfile_dir / "mapserv-limited").read_text()
    assert "cgi-fcgi -bind -connect" in script and str(renderer.socket_path(fastcgi)) in script
    assert "/usr/bin/timeout" in script  # the per-request time limit stays


def test_the_pool_draws_what_a_spawned_mapserv_draws(client, tile_data, settings, pool):
    ours = getmap(client)
    assert ours.status_code == 200 and ours["Content-Type"] == "image/png"
    settings.CITYGIS_RENDERER = "cgi"
    generate_all()
    spawned = getmap(client)
    assert spawned.status_code == 200
    a, b = (Image.open(io.BytesIO(r.content)).convert("RGBA") for r in (ours, spawned))
    assert ImageChops.difference(a, b).getbbox() is None  # pixel for pixel
    assert a.getextrema()[3][1] > 0  # and not an empty image


def test_a_killed_mapserv_is_replaced_and_renders_go_on(client, tile_data, pool):
    before = workers(pool)
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    for _ in range(50):
        now = workers(pool)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"multiwatch did not replace the process: {before} -> {workers(pool)}")
    assert getmap(client).status_code == 200


def test_without_a_running_pool_a_render_is_refused_not_done_another_way(client, tile_data, fastcgi):
    assert not renderer.is_running(fastcgi)
    response = getmap(client)
    assert response.status_code >= 500 or b"ServiceException" in response.content
    assert response["Content-Type"] != "image/png"


def test_an_unknown_renderer_setting_is_refused_by_name(settings):
    settings.CITYGIS_RENDERER = "mapscript"
    with pytest.raises(ValueError, match="CITYGIS_RENDERER"):
        renderer.mode()
