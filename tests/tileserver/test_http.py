"""Real clients over HTTP against gunicorn (the production entry point with the OGC dispatcher):
OWSLib, GDAL's WMS driver, plain requests with Basic auth."""

from __future__ import annotations

import io
import subprocess

import requests
from PIL import Image

from .conftest import PARCEL_CENTER, PASSWORD, RESTRICTED_BBOX


def test_owslib_reads_capabilities_and_gets_a_map_over_http(ows_server):
    from owslib.wms import WebMapService

    wms = WebMapService(f"{ows_server}/ows", version="1.3.0")
    assert "land.test_parcels" in wms.contents and "land.test_restricted" not in wms.contents
    c = PARCEL_CENTER
    img = wms.getmap(layers=["land.test_parcels"], srs="EPSG:4490", bbox=(c[0] - 0.015, c[1] - 0.015, c[0] + 0.015,
                     c[1] + 0.015), size=(300, 300), format="image/png", transparent=True)
    r, g, b, a = Image.open(io.BytesIO(img.read())).convert("RGBA").getpixel((150, 115))
    assert a > 200 and r > 200 and g < 60


def test_owslib_with_basic_auth_sees_the_restricted_layer(ows_server):
    from owslib.wms import WebMapService

    wms = WebMapService(f"{ows_server}/ows", version="1.1.1", username="tiles_land", password=PASSWORD)
    assert "land.test_restricted" in wms.contents


def test_anonymous_http_request_for_restricted_layer_gets_a_basic_challenge(ows_server):
    minx, miny, maxx, maxy = RESTRICTED_BBOX
    params = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "land.test_restricted",
              "STYLES": "", "SRS": "EPSG:4490", "BBOX": f"{minx},{miny},{maxx},{maxy}", "WIDTH": "64",
              "HEIGHT": "64", "FORMAT": "image/png"}
    resp = requests.get(f"{ows_server}/ows", params=params, timeout=30)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
    resp = requests.get(f"{ows_server}/ows", params=params, auth=("tiles_land", PASSWORD), timeout=30)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"


def test_gdal_wms_driver_opens_the_service(ows_server):
    url = (f"WMS:{ows_server}/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=land.test_parcels"
           "&SRS=EPSG:4490&BBOX=104.8,26.56,104.85,26.61")
    out = subprocess.run(["gdalinfo", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Driver: WMS" in out.stdout
    assert "CGCS2000" in out.stdout or "4490" in out.stdout


def test_gdal_lists_the_wms_layers(ows_server):
    out = subprocess.run(["gdalinfo", f"WMS:{ows_server}/ows"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "land.test_parcels" in out.stdout


def test_browser_session_authorises_tiles_through_the_dispatcher(ows_server, django_db_blocker):
    """The web consoles load tiles with their session cookie: the gunicorn dispatcher honours it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    with django_db_blocker.unblock():
        user = get_user_model().objects.get(username="tiles_land")
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
    url = f"{ows_server}/tiles/land.test_restricted/webmercator/15/25926/13872.png"
    assert requests.get(url, timeout=60).status_code == 401
    resp = requests.get(url, cookies={settings.SESSION_COOKIE_NAME: session.session_key}, timeout=60)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    with django_db_blocker.unblock():
        session.delete()
