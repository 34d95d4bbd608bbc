"""API tokens (obs. 16): a lifetime with sliding renewal, rotation, revocation on logout and password change,
one rule for DRF and the OGC endpoints, and no secrets in log lines."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from city_gis.accounts.models import User
from city_gis.security.logfilters import RedactSecretsFilter
from city_gis.security.tokens import token_ttl
from tileserver import auth as ogc_auth

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
PROTECTED = "/api/v1/tasks/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login(demo_password):
    def make(username: str = "inspector1") -> dict:
        r = APIClient().post(LOGIN, {"username": username, "password": demo_password}, format="json")
        assert r.status_code == 200, r.content[:300]
        return r.json()

    return make


def age(key: str, by: timedelta) -> None:
    """Pretend the token was issued (or last renewed) `by` ago."""
    Token.objects.filter(key=key).update(created=timezone.now() - by)


def get_as(key: str, path: str = PROTECTED):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return c.get(path)


def test_default_lifetime_is_seven_days(settings):
    assert settings.CITYGIS_TOKEN_TTL_HOURS == 7 * 24
    assert token_ttl() == timedelta(days=7)


def test_login_reports_the_expiry(login):
    body = login()
    expires = timezone.datetime.fromisoformat(body["expires"])
    assert abs(expires - (timezone.now() + token_ttl())) < timedelta(minutes=1)
    assert set(body) >= {"token", "username", "display_name", "roles", "department"}  # the stable contract


@pytest.mark.parametrize(
    "used_after, status, renewed",
    [
        (timedelta(days=1), 200, False),  # young: used as is (no write per request)
        (timedelta(days=4), 200, True),  # past half its lifetime: renewed in place
        (timedelta(days=7, seconds=1), 401, None),  # lapsed: refused and deleted
    ],
)
def test_sliding_expiry(login, used_after, status, renewed):
    key = login()["token"]
    age(key, used_after)
    before = Token.objects.get(key=key).created
    r = get_as(key)
    assert r.status_code == status
    token = Token.objects.filter(key=key).first()
    if renewed is None:
        assert token is None
        assert "过期" in r.json()["detail"] or "expired" in r.json()["detail"].lower()
    else:
        assert (token.created > before) is renewed


def test_zero_lifetime_means_tokens_never_expire(login, settings):
    settings.CITYGIS_TOKEN_TTL_HOURS = 0
    key = login()["token"]
    age(key, timedelta(days=3650))
    assert get_as(key).status_code == 200


def test_login_after_expiry_issues_a_new_key(login):
    old = login()["token"]
    age(old, timedelta(days=8))
    new = login()["token"]
    assert new != old
    assert get_as(new).status_code == 200
    assert not Token.objects.filter(key=old).exists()


def test_login_again_keeps_the_key_and_renews_it(login):
    first = login()["token"]
    age(first, timedelta(days=6))
    assert login()["token"] == first  # several devices of one account keep working
    assert timezone.now() - Token.objects.get(key=first).created < timedelta(minutes=1)


def test_refresh_rotates_the_key(login):
    old = login()["token"]
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    r = c.post(REFRESH)
    assert r.status_code == 200
    new = r.json()["token"]
    assert new != old and r.json()["expires"]
    assert get_as(new).status_code == 200
    assert get_as(old).status_code == 401


def test_refresh_needs_a_valid_token(login):
    assert APIClient().post(REFRESH).status_code == 401
    old = login()["token"]
    age(old, timedelta(days=8))
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert c.post(REFRESH).status_code == 401
    assert not Token.objects.filter(user__username="inspector1").exists()


def test_logout_revokes(login):
    key = login()["token"]
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert c.delete(LOGIN).status_code == 204
    assert get_as(key).status_code == 401


def test_password_change_revokes_tokens(login):
    key = login()["token"]
    user = User.objects.get(username="inspector1")
    user.set_password("A-new-Passw0rd-2026")
    user.save()
    assert not Token.objects.filter(key=key).exists()
    assert get_as(key).status_code == 401


def test_saving_a_user_without_a_password_change_keeps_tokens(login):
    key = login()["token"]
    user = User.objects.get(username="inspector1")
    user.phone = "13800000000"
    user.save()
    assert get_as(key).status_code == 200


@pytest.mark.parametrize("how", ["header", "query"])
def test_the_ogc_endpoints_use_the_same_expiry_rule(login, how):
    key = login()["token"]
    rf = RequestFactory()

    def request():
        if how == "header":
            return rf.get("/ows", {"SERVICE": "WMS"}, HTTP_AUTHORIZATION=f"Token {key}")
        return rf.get("/ows", {"SERVICE": "WMS", "token": key})

    assert ogc_auth.request_user(request()).username == "inspector1"
    age(key, timedelta(days=8))
    with pytest.raises(ogc_auth.AuthenticationFailed):
        ogc_auth.request_user(request())


# --- secrets out of logs ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "message, args, secret",
    [
        ("GET %s", ("/ows?SERVICE=WMS&token=abc123def&LAYERS=x",), "abc123def"),
        ("login body %s", ('{"username": "bob", "password": "hunter2"}',), "hunter2"),
        ("form password=s3cr3t&username=bob", (), "s3cr3t"),
        ("headers %r", ({"HTTP_AUTHORIZATION": "Token 9f8e7d6c5b"},), "9f8e7d6c5b"),
        ("Authorization: Basic b3BlcmF0b3I6cHc=", (), "b3BlcmF0b3I6cHc="),
        ("open311 api_key=KEY-42 posted", (), "KEY-42"),
    ],
)
def test_log_records_are_redacted(message, args, secret):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, args, None)
    assert RedactSecretsFilter().filter(record) is True
    line = record.getMessage()
    assert secret not in line and "[REDACTED]" in line


def test_harmless_log_records_are_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "case %s accepted by %s", (42, "operator"), None)
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "case 42 accepted by operator"


def test_the_console_handler_carries_the_filter(settings):
    assert "redact_secrets" in settings.LOGGING["handlers"]["console"]["filters"]


def test_gunicorn_access_log_leaves_out_query_strings():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    match = re.search(r"--access-logformat '([^']+)'", makefile)
    assert match, "make run sets an explicit access log format"
    fmt = match.group(1)
    atoms = {"h": "10.0.0.1", "l": "-", "u": "-", "t": "[now]", "r": "GET /ows?token=SECRET HTTP/1.1",
             "m": "GET", "U": "/ows", "q": "token=SECRET", "H": "HTTP/1.1", "s": "200", "b": "5",
             "f": "http://x/?token=SECRET", "a": "QGIS", "L": "0.1", "T": "0", "D": "1", "M": "1", "p": "1"}
    line = fmt % atoms
    assert "SECRET" not in line and "/ows" in line
