"""Fixtures of the map-service tests: committed fixture layers, configuration generated into a temporary
directory for the test database, and a gunicorn serving it for out-of-process clients (OWSLib, GDAL).

The fixture data is committed (MapServer reads the database from another process) and removed at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PASSWORD = "Tiles-Test-pass-2026"
# A 0.01° square parcel in central Zhongshan district (lon/lat, EPSG:4490).
PARCEL_BBOX = (104.820, 26.580, 104.830, 26.590)
PARCEL_CENTER = (104.825, 26.585)
RESTRICTED_BBOX = (104.840, 26.580, 104.850, 26.590)
PREFIX = "TSTILE-"


def _square(bbox):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    poly = Polygon.from_bbox(bbox)
    poly.srid = 4490
    return MultiPolygon(poly, srid=4490)


@pytest.fixture(scope="session")
def tiles_var(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiles-var")


@pytest.fixture(scope="session")
def tile_settings(tiles_var):
    """Point the generated configuration and the tile cache at the session's temporary directory."""
    from django.conf import settings

    old = (settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR)
    settings.CITYGIS_MAPFILE_DIR = tiles_var / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = tiles_var / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = tiles_var / "tilecache"
    yield settings
    settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR = old


@pytest.fixture(scope="session")
def tile_data(django_db_setup, django_db_blocker, tile_settings):
    """Committed: two parcels, a public layer `land.test_parcels`, a restricted `land.test_restricted`,
    users of the land department (may read it) and of planning (may not), with a token; config generated."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from city_gis.accounts.models import Department
    from layers.models import LandParcel, Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    User = get_user_model()
    with django_db_blocker.unblock():
        for code, name in (("land", "自然资源局"), ("planning", "规划局")):
            Department.objects.get_or_create(code=code, defaults={"name_zh": name})
        LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()
        public = LandParcel.objects.create(
            parcel_code=PREFIX + "0001", landuse_code="0701", landuse_name="城镇住宅用地", name="测试宗地一",
            right_holder="六盘水市测试单位", area_m2=1000.0, geom=_square(PARCEL_BBOX))
        secret = LandParcel.objects.create(
            parcel_code=PREFIX + "0002", landuse_code="0601", landuse_name="工业用地", name="测试受限宗地",
            geom=_square(RESTRICTED_BBOX))
        common = dict(kind="vector", geometry_type="POLYGON", source_table="layers_landparcel",
                      attribute_columns=["id", "parcel_code", "landuse_code", "landuse_name", "name", "area_m2"])
        register_layer(
            "land.test_parcels", owner="land", title_zh="测试宗地", abstract="瓦片服务测试数据",
            keywords=["测试", "宗地"], classification="public",
            source_where=[{"column": "parcel_code", "op": "=", "value": public.parcel_code}],
            style={"fill": "#888888", "stroke": "#000000", "stroke_width": 1, "opacity": 100,
                   "classify_by": "landuse_code",
                   "classes": [{"value": "0701", "label": "城镇住宅用地", "fill": "#ff0000"}],
                   "label": {"attribute": "name", "size": 9}},
            **common)
        register_layer(
            "land.test_restricted", owner="land", title_zh="测试受限图层", classification="restricted",
            source_where=[{"column": "parcel_code", "op": "=", "value": secret.parcel_code}],
            style={"fill": "#0000ff", "stroke": "#000000", "opacity": 100}, **common)
        users = {}
        for username, dept, roles in (("tiles_land", "land", ["handler", "data_steward"]),
                                      ("tiles_planner", "planning", ["planner"])):
            # Kept between runs (deleting users cascades into every app's tables).
            user, _ = User.objects.update_or_create(
                username=username, defaults={"department": Department.objects.get(code=dept), "roles": roles,
                                             "is_active": True})
            user.set_password(PASSWORD)
            user.save()
            users[username] = user
        token = Token.objects.get_or_create(user=users["tiles_land"])[0].key
        paths = generate_all()
    yield {"paths": paths, "public": public, "secret": secret, "token": token}
    with django_db_blocker.unblock():
        Layer.objects.filter(name__in=["land.test_parcels", "land.test_restricted"]).delete()
        LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ows_server(tile_data, tiles_var):
    """A gunicorn (the production WSGI entry point) on 127.0.0.1 serving the test database; its base URL."""
    from django.conf import settings
    from django.db import connection

    port = _free_port()
    # Same SECRET_KEY: sessions made by the tests must be valid for the server.
    env = dict(os.environ, DATABASE_URL=f"postgis:///{connection.settings_dict['NAME']}", CITYGIS_VAR_DIR=str(tiles_var),
               SECRET_KEY=settings.SECRET_KEY)
    env.pop("CITYGIS_TEST_DB_NAME", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "city_gis.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--timeout", "60", "--control-socket", str(tiles_var / "gunicorn.ctl")],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(url + "/ows?SERVICE=WMS&REQUEST=GetCapabilities", timeout=60)
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()[-3000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)







@pytest.fixture
def mapproxy_calls(monkeypatch) -> list[str]:
    """Paths MapProxy was asked for (it still answers them): what a cache hit must not reach."""
    from tileserver import views

    calls: list[str] = []
    real = views.call_mapproxy

    def spy(environ):
        calls.append(environ["PATH_INFO"])
        return real(environ)

    monkeypatch.setattr(views, "call_mapproxy", spy)
    return calls
