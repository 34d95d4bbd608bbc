"""Trusted proxies (obs. 9): X-Forwarded-For counts only when it comes from CITYGIS_TRUSTED_PROXIES, so a
random header cannot reset login lockouts, anonymous or Open311 throttles."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from city_gis.security.clientip import client_ip

PROXY = "10.0.0.5"


@pytest.mark.parametrize(
    "trusted, remote, xff, expected",
    [
        # No proxy trusted (the default): the header is ignored whatever it says.
        ([], "203.0.113.7", "1.2.3.4", "203.0.113.7"),
        ([], "203.0.113.7", "", "203.0.113.7"),
        ([], "127.0.0.1", "garbage, 1.2.3.4", "127.0.0.1"),
        # Only a trusted peer's header counts; the right-most untrusted hop is the client.
        ([PROXY], "203.0.113.7", "1.2.3.4", "203.0.113.7"),
        ([PROXY], PROXY, "1.2.3.4", "1.2.3.4"),
        ([PROXY], PROXY, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client prepended a fake hop
        (["10.0.0.0/8"], PROXY, "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),  # two proxies in the chain
        (["10.0.0.0/8"], PROXY, "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # all hops trusted: the left-most
        ([PROXY], PROXY, "", PROXY),
        ([PROXY], PROXY, "not-an-ip", PROXY),  # garbage is never a key
        ([PROXY], PROXY, "1.2.3.4:5555", "1.2.3.4"),
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
        (["127.0.0.1"], "::ffff:127.0.0.1", "1.2.3.4", "1.2.3.4"),  # IPv4-mapped peer address
    ],
)
def test_client_ip(settings, trusted, remote, xff, expected):
    settings.CITYGIS_TRUSTED_PROXIES = trusted
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": xff}
    assert client_ip(meta) == expected


def test_the_default_trusts_no_proxy(settings):
    assert settings.CITYGIS_TRUSTED_PROXIES == []


def test_axes_uses_the_same_rule(settings):
    assert settings.AXES_CLIENT_IP_CALLABLE == "city_gis.security.clientip.axes_client_ip"


# --- the limits themselves, with a different random X-Forwarded-For on every request -----------------------

_fake = (f"198.51.100.{i}" for i in itertools.count(1))


def spoofing_client() -> APIClient:
    return APIClient()


def spoofed(**extra) -> dict:
    return {"HTTP_X_FORWARDED_FOR": next(_fake), **extra}


@pytest.fixture
def rates(settings):
    from django.core.cache import cache

    cache.clear()

    def set_rates(**kw: str) -> None:
        merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **kw}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}

    yield set_rates
    cache.clear()


@pytest.mark.django_db
def test_login_lockout_ignores_a_spoofed_header(settings, demo_password, rates):
    c = spoofing_client()
    url = "/api/v1/auth/token/"
    codes = [c.post(url, {"username": "inspector2", "password": "wrong"}, format="json", **spoofed()).status_code
             for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes[-1] == 429 and set(codes[:-1]) == {401}
    r = c.post(url, {"username": "inspector2", "password": demo_password}, format="json", **spoofed())
    assert r.status_code == 429


@pytest.mark.django_db
def test_login_throttle_ignores_a_spoofed_header(rates):
    rates(token="3/min")
    c = spoofing_client()
    codes = [c.post("/api/v1/auth/token/", {"username": f"nobody{i}", "password": "x"}, format="json",
                    **spoofed()).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


@pytest.mark.django_db
def test_anonymous_throttle_ignores_a_spoofed_header(rates):
    rates(anon="3/min")
    c = spoofing_client()
    codes = [c.get("/open311/v2/services.json", **spoofed()).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.django_db
def test_open311_post_throttle_ignores_a_spoofed_header(rates):
    from field_app_api.models import Open311Submission

    rates(open311_post="2/min")
    before = Open311Submission.objects.count()
    c = spoofing_client()
    codes = [c.post("/open311/v2/requests.json", {}, **spoofed()).status_code for _ in range(3)]
    assert codes[-1] == 429 and 429 not in codes[:-1]
    assert Open311Submission.objects.count() == before


@pytest.mark.django_db
def test_behind_a_trusted_proxy_a_lockout_hits_only_the_guessing_client(settings, demo_password, rates):
    """axes keys on client_ip: through the proxy, client A's failures do not lock client B out."""
    settings.CITYGIS_TRUSTED_PROXIES = ["127.0.0.1"]
    c, url = APIClient(), "/api/v1/auth/token/"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        c.post(url, {"username": "inspector2", "password": "wrong"}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1")
    a = c.post(url, {"username": "inspector2", "password": demo_password}, format="json",
               HTTP_X_FORWARDED_FOR="1.1.1.1")
    b = c.post(url, {"username": "inspector2", "password": demo_password}, format="json",
               HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert (a.status_code, b.status_code) == (429, 200)


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_counter(settings, rates):
    settings.CITYGIS_TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's REMOTE_ADDR plays the proxy
    rates(anon="2/min")
    c = APIClient()
    a = [c.get("/open311/v2/services.json", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code for _ in range(3)]
    b = c.get("/open311/v2/services.json", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code
    assert a == [200, 200, 429] and b == 200


# --- counters shared by all gunicorn workers ----------------------------------------------------------------

_WORKER = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.test import RequestFactory
from field_app_api.throttles import AnonRateThrottle

settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "3/min"}}
request = RequestFactory().get("/", REMOTE_ADDR=sys.argv[1])
request.user = AnonymousUser()
allowed = [AnonRateThrottle().allow_request(request, None) for _ in range(int(sys.argv[2]))]
print(json.dumps({"backend": type(caches["default"]).__name__, "allowed": allowed}))
"""


def _worker(ip: str, n: int, redis_url: str | None) -> dict:
    """One throttled client burst in a separate Python process (a gunicorn worker stand-in)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "city_gis.settings"
    if redis_url:
        env["REDIS_URL"] = redis_url
    out = subprocess.run([sys.executable, "-c", _WORKER, ip, str(n)], env=env, capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2], check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "locmem"])
def test_throttle_counts_across_processes_only_with_redis(shared):
    import random

    import redis

    url = "redis://127.0.0.1:6379/1"
    ip = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"  # private to this run
    key = f":1:throttle_anon_{ip}"
    r = redis.Redis.from_url(url)
    r.delete(key)
    try:
        first = _worker(ip, 2, url if shared else None)
        second = _worker(ip, 2, url if shared else None)
    finally:
        r.delete(key)
    assert first["backend"] == ("RedisCache" if shared else "LocMemCache")
    assert first["allowed"] == [True, True]
    # Shared: the second worker sees the first one's two hits (limit 3). Per-process memory forgets them.
    assert second["allowed"] == ([True, False] if shared else [True, True])
