"""Fixtures of the field API tests: API clients per demo role, JPEG builders."""

from __future__ import annotations

import io

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache: start every test with none (all tests come from 127.0.0.1)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_as(db):
    """client_as("inspector1") → an APIClient authenticated with that demo user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from city_gis.accounts.models import User

    def make(username: str | None) -> APIClient:
        c = APIClient()
        if username:
            token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
            c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return make


def make_jpeg(*, size=(64, 48), gps: tuple[float, float] | None = None, taken: str | None = None, color="red") -> bytes:
    """A JPEG; with gps=(lon, lat) and/or taken="YYYY:MM:DD HH:MM:SS" written into its EXIF."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x0110] = "CityGIS test phone"
    if gps:
        lon, lat = gps

        def dms(v: float):
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture
def jpeg():
    return make_jpeg
