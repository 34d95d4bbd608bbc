"""Database outage (obs. 15): while PostgreSQL is unreachable every API path answers 503 + Retry-After with a
JSON message (never 500), and service resumes by itself once the database is back.

The shared PostgreSQL server is never stopped: the outage is simulated by pointing our connection at a closed
port, or by terminating our own backend from a second connection (pg_terminate_backend). These tests run
outside a test transaction (nothing is written) and use the real WSGI handler, signals included, as gunicorn
does.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from wsgiref.util import setup_testing_defaults

import psycopg2
import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test import Client

TOKEN = {"HTTP_AUTHORIZATION": "Token 0123456789abcdef0123456789abcdef01234567"}

# (method, path, extra WSGI environ, body): public, token, session and login paths of every API family.
PATHS = [
    ("POST", "/api/v1/reports/", TOKEN, b'{"category_code": "0101"}'),
    ("GET", "/api/v1/tasks/", TOKEN, b""),
    ("GET", "/api/v1/cases/", TOKEN, b""),
    ("POST", "/api/v1/cases/1/transitions/", TOKEN, b'{"action": "accept"}'),
    ("GET", "/api/v1/layers/", {"HTTP_COOKIE": "sessionid=abcdefghijklmnopqrstuvwxyz012345"}, b""),
    ("POST", "/api/v1/auth/token/", {}, b'{"username": "inspector1", "password": "x"}'),
    ("GET", "/open311/v2/services.json", {}, b""),
    ("GET", "/ows", {**TOKEN, "QUERY_STRING": "SERVICE=WMS&REQUEST=GetCapabilities"}, b""),
    ("POST", "/open311/v2/requests.json", {},
     b'{"api_key": "k", "service_code": "0101", "lat": 26.5935, "long": 104.8305, "description": "x"}'),
]


def call(app, method: str, path: str, extra: dict | None = None, body: bytes = b"") -> tuple[int, dict, bytes]:
    """One request through the WSGI app, as a server would make it."""
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), **(extra or {}),
    })
    seen: dict = {}

    def start_response(status: str, headers: list, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return seen["status"], seen["headers"], content


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_db(django_db_blocker, settings) -> Iterator[None]:
    """The (committed) test database, outside any test transaction; the connection is restored afterwards."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygis-db-outage-tests"}}
    cache.clear()
    with django_db_blocker.unblock():
        saved = dict(connection.settings_dict)
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            connection.close()


@pytest.fixture
def unreachable_db(live_db) -> Iterator[None]:
    """PostgreSQL "down": our connection points at a port nobody listens on."""
    connection.close()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(closed_port())})
    yield


def assert_outage(status: int, headers: dict, content: bytes) -> None:
    assert status == 503, content[:300]
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"].startswith("application/json")
    body = json.loads(content)
    assert body["code"] == "database_unavailable" and body["detail"]


@pytest.mark.parametrize("method, path, extra, body", PATHS, ids=[f"{m} {p}" for m, p, _e, _b in PATHS])
def test_unreachable_database_is_503_with_retry_after(unreachable_db, method, path, extra, body):
    assert_outage(*call(get_wsgi_application(), method, path, extra, body))


def test_retry_after_is_a_setting(unreachable_db, settings):
    settings.CITYGIS_DB_OUTAGE_RETRY_AFTER = 30
    status, headers, _ = call(get_wsgi_application(), "GET", "/api/v1/tasks/", TOKEN)
    assert status == 503 and headers["Retry-After"] == "30"


def test_service_resumes_when_the_database_is_back(live_db):
    app = get_wsgi_application()
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(closed_port())})
    assert call(app, "GET", "/open311/v2/services.json")[0] == 503
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)
    assert call(app, "GET", "/open311/v2/services.json")[0] == 200  # no restart needed


def _terminate_our_backend() -> None:
    """Kill this process's PostgreSQL backend from a second connection (what a server restart does to it)."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    other = psycopg2.connect(**params)
    try:
        other.autocommit = True
        with other.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cur.fetchone()[0] is True
    finally:
        other.close()


def test_a_connection_killed_under_a_request_is_503(live_db):
    """The test client skips Django's per-request connection health check: the dead connection is used."""
    _terminate_our_backend()
    r = Client(raise_request_exception=False).get("/open311/v2/services.json")
    assert_outage(r.status_code, r.headers, r.content)


def test_a_connection_killed_between_requests_is_replaced(live_db):
    """Under a real server the health check (CONN_HEALTH_CHECKS) reconnects before the request: no error at all."""
    app = get_wsgi_application()
    assert call(app, "GET", "/open311/v2/services.json")[0] == 200
    _terminate_our_backend()
    assert call(app, "GET", "/open311/v2/services.json")[0] == 200


def test_integrity_errors_are_not_disguised_as_outages():
    from django.db import IntegrityError, OperationalError

    from city_gis.security.middleware import is_db_outage

    assert is_db_outage(OperationalError("server closed the connection unexpectedly"))
    assert not is_db_outage(IntegrityError("duplicate key"))
    assert not is_db_outage(ValueError("x"))
