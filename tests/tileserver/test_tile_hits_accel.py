"""The fast hit path's own rules (tileserver/tilehits.py, issue 15): X-Accel-Redirect only when configured and only
after our authorisation, the redirect path built from validated parts, the per-credential user memo never
answering for another credential, and the batched rate still refusing a client over its rate."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings

from tileserver import coverage, limits, tilehits, views
from tileserver.cache import invalidate

from .conftest import PASSWORD
from .test_cache_hits import PUBLIC, PUBLIC_FORMS, RESTRICTED_FORMS, basic, refuse, stored_path, token

pytestmark = pytest.mark.django_db
PREFIX = "/_citygis_tilecache/"
accel = override_settings(CITYGIS_TILE_ACCEL_REDIRECT=PREFIX)


@pytest.fixture(autouse=True)
def fresh_state():
    cache.clear()
    tilehits._users.clear()
    limits._pending.clear()
    yield
    cache.clear()
    tilehits._users.clear()
    limits._pending.clear()


def relative(path: str) -> str:
    from tileserver.paths import config_paths

    return path.removeprefix(f"{config_paths().cache_dir}/")


@pytest.mark.parametrize("form", ["xyz", "xyz-origin-sw", "tms", "wmts-rest", "wmts-kvp", "cgcs2000"])
def test_configured_a_hit_names_the_file_for_nginx_and_sends_no_bytes(client, tile_data, monkeypatch, form):
    url = PUBLIC_FORMS[form]
    path = stored_path(client, url)
    plain = client.get(url)
    assert "X-Accel-Redirect" not in plain  # off by default: the app sends the file itself
    with open(path, "rb") as f:
        assert plain.content == f.read()
    monkeypatch.setattr(views, "call_mapproxy", refuse)
    with accel:
        resp = client.get(url)
    assert resp.status_code == 200 and resp.content == b""
    assert resp["X-Accel-Redirect"] == PREFIX + relative(path)
    # What nginx does not take from the file it takes from us (tilehits.nginx_accel_location).
    assert resp["Content-Type"] == "image/png"
    for header in ("Cache-Control", "Vary", "X-Content-Type-Options", "Access-Control-Allow-Origin"):
        assert resp[header] == plain[header], header
    assert "ETag" not in resp  # nginx's own, from the file it sends


def test_configured_a_restricted_tile_is_redirected_only_for_its_readers(client, tile_data, monkeypatch):
    url = RESTRICTED_FORMS["xyz"]
    path = stored_path(client, url, **token(tile_data))
    with accel:
        anonymous = client.get(url)  # refused as today: MapProxy's authorize hook answers
        planner = client.get(url, **basic("tiles_planner"))  # signed in, another department
        monkeypatch.setattr(views, "call_mapproxy", refuse)
        steward = client.get(url, **token(tile_data))
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous
    assert planner.status_code == 403
    for refused in (anonymous, planner):
        assert "X-Accel-Redirect" not in refused and not refused["Content-Type"].startswith("image/")
    assert steward.status_code == 200 and steward["X-Accel-Redirect"] == PREFIX + relative(path)
    assert "private" in steward["Cache-Control"] and "Access-Control-Allow-Origin" not in steward


def test_configured_a_miss_still_renders_through_mapproxy(client, tile_data, mapproxy_calls):
    url = PUBLIC_FORMS["xyz"]
    invalidate(PUBLIC)
    with accel:
        resp = client.get(url)
        assert resp.status_code == 200 and resp.content.startswith(b"\x89PNG")
        assert "X-Accel-Redirect" not in resp
        assert client.get(url)["X-Accel-Redirect"].startswith(PREFIX)  # now stored: the next one is a hit
    assert mapproxy_calls == [url]


@pytest.mark.parametrize("layer,grid,z", [
    ("../../etc", "webmercator", 1), ("land.test_parcels/../x", "webmercator", 1), ("land..x", "webmercator", 1),
    ("Land.Test", "webmercator", 1), ("land.test_parcels", "../webmercator", 1), ("land.test_parcels", "mars", 1),
    ("land.test_parcels", "webmercator", -1),
])
def test_the_redirect_path_is_built_only_from_valid_parts(layer, grid, z):
    assert tilehits.relative_path(coverage.TileRequest(layer, grid, z, 1, 1, "png")) is None


def test_a_traversal_in_the_url_never_reaches_the_file_system(client, tile_data, monkeypatch):
    monkeypatch.setattr(tilehits, "serve_hit", lambda request, tile: pytest.fail(f"hit path for {tile}"))
    with accel:
        for url in ("/tiles/..%2F..%2Fetc/webmercator/15/1/1.png", "/tiles/../../etc/passwd/1/1/1.png",
                    "/wmts/land.test_parcels/..%2Fwebmercator/15/1/1.png"):
            resp = client.get(url)
            assert resp.status_code in (400, 401, 404), url
            assert "X-Accel-Redirect" not in resp


@pytest.mark.parametrize("prefix", ["tiles/", "/x", "/a b/", "/x?y=/", "/x\r\nX-Evil: 1/"])
def test_a_malformed_prefix_is_refused(prefix):
    with pytest.raises(ImproperlyConfigured):
        tilehits.nginx_accel_location(prefix, "/srv/citygis/var/tilecache")


def test_the_nginx_location_is_internal_and_aliased_to_the_cache():
    block = tilehits.nginx_accel_location(PREFIX, "/srv/citygis/var/tilecache/")
    assert block.startswith(f"location {PREFIX} {{\n    internal;\n")
    assert "alias /srv/citygis/var/tilecache/;" in block


def test_a_remembered_user_stands_only_for_the_same_credentials(client, tile_data, monkeypatch):
    """The memo keys on every input of request_user: a session behind the same odd header is another key."""
    User = get_user_model()
    land, planner = User.objects.get(username="tiles_land"), User.objects.get(username="tiles_planner")
    url = RESTRICTED_FORMS["xyz"]
    stored_path(client, url, **token(tile_data))
    odd = {"HTTP_AUTHORIZATION": "Digest username=x"}  # a scheme request_user ignores: the session decides
    client.force_login(land)
    assert client.get(url, **odd).status_code == 200
    client.force_login(planner)
    assert client.get(url, **odd).status_code == 403
    client.logout()
    assert client.get(url, **odd).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Token wrong").status_code == 401  # failures are not remembered


def test_a_revoked_token_stops_working_within_the_memo_time(client, tile_data, monkeypatch):
    from rest_framework.authtoken.models import Token

    url = RESTRICTED_FORMS["xyz"]
    stored_path(client, url, **token(tile_data))
    other = Token.objects.create(user=get_user_model().objects.get(username="tiles_planner"))
    headers = {"HTTP_AUTHORIZATION": f"Token {other.key}"}
    assert client.get(url, **headers).status_code == 403
    other.delete()
    monkeypatch.setattr(tilehits, "USER_SECONDS", 0.0)
    assert client.get(url, **headers).status_code == 401


def test_the_batched_rate_still_refuses_a_client_over_its_rate(tile_data):
    request = RequestFactory().get("/tiles/x", REMOTE_ADDR="192.0.2.7")
    with override_settings(CITYGIS_OGC_RATE_ANON="500/day"):  # batches of 5 units per process
        answers = [limits.throttle(request, None) for _ in range(520)]
    first_refusal = answers.index(next(a for a in answers if a is not None))
    assert 500 <= first_refusal <= 505
    assert all(a is not None for a in answers[first_refusal:])


def test_the_batched_rate_sees_the_other_processes_counts(tile_data):
    request = RequestFactory().get("/tiles/x", REMOTE_ADDR="192.0.2.8")
    with override_settings(CITYGIS_OGC_RATE_ANON="500/day"):
        assert limits.throttle(request, None) is None
        key = next(k for k in limits._pending if "192.0.2.8" in k)
        cache.incr(key, 600)  # other workers spent the budget
        answers = [limits.throttle(request, None) for _ in range(6)]
    assert answers[-1] is not None  # within one batch, this process notices


@pytest.fixture
def nginx_in_front(tile_data, tiles_var, tmp_path):
    """nginx → a gunicorn with CITYGIS_TILE_ACCEL_REDIRECT on the test database (as docs/deployment.md); its URL."""
    import os
    import shutil
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests
    from django.conf import settings
    from django.db import connection

    from .conftest import _free_port

    if shutil.which("nginx") is None:
        pytest.skip("nginx not installed")
    app_port, port = _free_port(), _free_port()
    env = dict(os.environ, DATABASE_URL=f"postgis:///{connection.settings_dict['NAME']}", CITYGIS_VAR_DIR=str(tiles_var),
               SECRET_KEY=settings.SECRET_KEY, CITYGIS_TILE_ACCEL_REDIRECT=PREFIX)
    env.pop("CITYGIS_TEST_DB_NAME", None)
    app = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "city_gis.wsgi:application", "--bind", f"127.0.0.1:{app_port}",
         "--workers", "1", "--threads", "2", "--control-socket", str(tmp_path / "gunicorn.ctl")],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir()
    proxy = f'proxy_pass http://127.0.0.1:{app_port}; proxy_http_version 1.1; proxy_set_header Connection "";'
    # The test's cache lives in a private temporary directory: nginx's workers run as this user to read it.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; daemon off;\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;\n"
        f"server {{ listen 127.0.0.1:{port}; location / {{ {proxy} }}\n"
        f"{tilehits.nginx_accel_location(PREFIX, str(settings.CITYGIS_TILE_CACHE_DIR))} }} }}\n")
    web = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/ows?SERVICE=WMS&REQUEST=GetCapabilities", timeout=30).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if app.poll() is not None or web.poll() is not None:
                raise RuntimeError("gunicorn or nginx exited")
            time.sleep(0.2)
        yield url
    finally:
        for proc in (web, app):
            proc.terminate()
            proc.wait(timeout=20)


def test_behind_nginx_readers_get_the_files_bytes_and_nobody_else_does(client, tile_data, nginx_in_front):
    import requests

    url = RESTRICTED_FORMS["xyz"]
    path = stored_path(client, url, **token(tile_data))
    with open(path, "rb") as f:
        stored = f.read()
    reader = requests.get(nginx_in_front + url, headers={"Authorization": f"Token {tile_data['token']}"}, timeout=30)
    assert reader.status_code == 200, reader.content[:500]
    assert reader.content == stored
    assert "X-Accel-Redirect" not in reader.headers and reader.headers["Content-Type"] == "image/png"
    assert "private" in reader.headers["Cache-Control"] and "Authorization" in reader.headers["Vary"]
    anonymous = requests.get(nginx_in_front + url, timeout=30)
    planner = requests.get(nginx_in_front + url, auth=("tiles_planner", PASSWORD), timeout=30)
    assert (anonymous.status_code, planner.status_code) == (401, 403)
    assert stored not in (anonymous.content, planner.content)
    direct = requests.get(nginx_in_front + PREFIX + relative(path), timeout=30)  # `internal;`: no client may ask
    assert direct.status_code == 404 and direct.content != stored


def test_the_batched_rate_follows_a_reset_counter_within_one_batch(tile_data):
    request = RequestFactory().get("/tiles/x", REMOTE_ADDR="192.0.2.9")
    with override_settings(CITYGIS_OGC_RATE_ANON="500/day"):
        assert [limits.throttle(request, None) for _ in range(520)][-1] is not None
        cache.clear()  # the shared counter expired or was flushed
        answers = [limits.throttle(request, None) for _ in range(6)]
    assert all(a is None for a in answers)
