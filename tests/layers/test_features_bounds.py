"""Paging of the features API is bounded: `limit` ≤ CITYGIS_FEATURES_MAX_LIMIT (default 1000), `offset` ≤
CITYGIS_FEATURES_MAX_OFFSET (default 10,000,000); anything else is a 400 naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/v1/layers/base.roads/features/"  # a public demo layer


@pytest.fixture
def client(settings) -> APIClient:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygis-features-bounds"}}
    from django.core.cache import cache

    cache.clear()
    return APIClient()


@pytest.mark.parametrize(("param", "raw"), [
    ("offset", "99999999999999999999"),  # beyond bigint: was a 500 from PostgreSQL
    ("offset", "10000001"),
    ("offset", "-1"),
    ("offset", "1e3"),
    ("offset", "+5"),
    ("offset", "１２"),  # full-width digits: int() takes them, we don't
    ("offset", "9" * 5000),  # int() of thousands of digits is slow or refused
    ("limit", "1001"),
    ("limit", "99999999999999999999"),
    ("limit", " 5"),
    ("limit", "1_000"),
])
def test_out_of_range_paging_is_400_naming_the_parameter(client, param, raw):
    response = client.get(URL, {param: raw})
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()) == [param]


def test_bounds_themselves_are_accepted(client):
    response = client.get(URL, {"offset": "10000000", "limit": "1000"})
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 0
    assert client.get(URL, {"limit": "0"}).status_code == 200


def test_limits_are_settings(client, settings):
    settings.CITYGIS_FEATURES_MAX_LIMIT = 3
    settings.CITYGIS_FEATURES_MAX_OFFSET = 10
    assert client.get(URL, {"limit": "4"}).status_code == 400
    assert client.get(URL, {"offset": "11"}).status_code == 400
    body = client.get(URL).json()
    assert body["numberReturned"] == 3, "the default page shrinks to the maximum"
