"""Fixtures of the security tests: the app called in-process through WSGI, tokens of the demo roles."""

from __future__ import annotations

import traceback

import pytest

# Demo accounts standing for each role the fuzzer and the matrices act as (None = anonymous).
ROLE_USERS: dict[str, str | None] = {
    "anonymous": None,
    "inspector": "inspector1",
    "operator": "operator",
    "steward": "dept_land",
    "admin": "admin",
}


@pytest.fixture
def wsgi_app(db, settings):
    """The Django WSGI app, running inside the test's transaction with its own local cache.

    As Django's test client does, a finished request must not close the test's connection (which would end
    the transaction). The cache is a private LocMemCache so clearing rate-limit counters between requests never
    touches a shared Redis.
    """
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygis-security-tests"}}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def role_headers(wsgi_app, demo_password):
    """role_headers("operator") → headers authenticating as that role's demo user (token from the login API)."""
    from werkzeug.test import Client

    # Through the same WSGI app (not django.test.Client, which reconnects close_old_connections afterwards).
    client = Client(wsgi_app)

    def make(role: str) -> dict[str, str]:
        username = ROLE_USERS[role]
        if username is None:
            return {}
        response = client.post("/api/v1/auth/token/", data={"username": username, "password": demo_password})
        assert response.status_code == 200, (username, response.status_code, response.get_data()[:300])
        return {"Authorization": f"Token {response.json['token']}"}

    return make


@pytest.fixture
def server_errors():
    """The tracebacks of the exceptions Django turned into 500s while the fixture is active, oldest first."""
    from django.core.signals import got_request_exception

    seen: list[str] = []

    def record(sender, request=None, **kwargs) -> None:
        seen.append(traceback.format_exc())

    got_request_exception.connect(record, weak=False)
    try:
        yield seen
    finally:
        got_request_exception.disconnect(record)
