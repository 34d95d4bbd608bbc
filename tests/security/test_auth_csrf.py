"""CSRF through HTTP Basic (obs. 5): Basic belongs to the OGC endpoints only; the REST API takes tokens
(no CSRF: a browser never sends them by itself) and sessions (CSRF enforced on unsafe methods)."""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import BasicAuthentication
from rest_framework.test import APIClient

from city_gis.accounts.models import User

pytestmark = pytest.mark.django_db


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture(autouse=True)
def _fresh_throttles():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _drf_views(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _drf_views(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            cls = getattr(p.callback, "cls", None)
            if cls is not None:
                yield prefix + str(p.pattern), cls


def test_basic_is_not_a_default_rest_authenticator():
    classes = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert not any("BasicAuthentication" in c for c in classes)
    assert "rest_framework.authentication.SessionAuthentication" in classes


def test_no_rest_view_accepts_basic():
    views = list(_drf_views(get_resolver().url_patterns))
    assert len(views) > 10  # the walk found the API
    with_basic = [route for route, cls in views
                  if any(issubclass(a, BasicAuthentication) for a in getattr(cls, "authentication_classes", []))]
    assert with_basic == []


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/cases/{case}/transitions/"),
        ("get", "/api/v1/cases/"),
        ("get", "/api/v1/tasks/"),
        ("post", "/api/v1/reports/"),
    ],
)
def test_replayed_basic_credentials_do_not_authenticate_the_rest_api(method, path, reported_case, demo_password):
    """What a browser replays after the /ows challenge is anonymous on the REST API: 401, nothing changes."""
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=basic("operator", demo_password))
    r = getattr(c, method)(path.format(case=reported_case.pk), {"action": "accept"}, format="json")
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Token")  # no Basic challenge from the REST API
    reported_case.refresh_from_db()
    assert reported_case.state == "reported"


def test_session_post_without_csrf_token_is_refused_and_changes_nothing(reported_case):
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(User.objects.get(username="operator"))
    r = c.post(f"/api/v1/cases/{reported_case.pk}/transitions/", {"action": "accept"}, format="json")
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]
    reported_case.refresh_from_db()
    assert reported_case.state == "reported"


def test_session_post_with_csrf_token_goes_through(reported_case):
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(User.objects.get(username="operator"))
    secret = "a" * 32  # the console reads the csrftoken cookie and echoes it in X-CSRFToken
    c.cookies[settings.CSRF_COOKIE_NAME] = secret
    r = c.post(f"/api/v1/cases/{reported_case.pk}/transitions/", {"action": "accept"}, format="json",
               HTTP_X_CSRFTOKEN=secret)
    assert r.status_code == 200, r.content[:300]
    reported_case.refresh_from_db()
    assert reported_case.state != "reported"


def test_token_clients_need_no_csrf_token(reported_case, demo_password):
    c = APIClient(enforce_csrf_checks=True)
    token = c.post("/api/v1/auth/token/", {"username": "operator", "password": demo_password},
                   format="json").json()["token"]
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    r = c.post(f"/api/v1/cases/{reported_case.pk}/transitions/", {"action": "accept"}, format="json")
    assert r.status_code == 200, r.content[:300]
