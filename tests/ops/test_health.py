"""Health checks, metrics and request ids (issue 14 item 4): what a load balancer, a Prometheus scraper and
an operator reading logs rely on.

The shared PostgreSQL is never stopped: an outage is our connection pointed at a closed port.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
CHECK_NAMES = ["database", "cache", "renderer", "disk"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(response) -> dict:
    return json.loads(response.content)


def assert_no_store(response) -> None:
    assert "no-store" in response["Cache-Control"]


# --- /healthz ---------------------------------------------------------------------------------------------

def test_healthz_is_200_ok_without_touching_the_database(client):
    # No `db` fixture: pytest-django blocks database access, so any query would fail this test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert body(response) == {"status": "ok"}
    assert_no_store(response)


def test_healthz_still_checks_allowed_hosts(client):
    assert client.get("/healthz", HTTP_HOST="evil.example").status_code == 400


def test_health_endpoints_are_never_throttled(ready_settings, client, db):
    # More than the anonymous API rate (CITYGIS_THROTTLE_ANON, 120/min) from one address within a minute.
    statuses = {client.get("/healthz").status_code for _ in range(130)}
    statuses |= {client.get("/readyz").status_code for _ in range(5)}
    assert statuses == {200}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_refuse_writes(client, path):
    assert client.post(path).status_code == 405


# --- /readyz ----------------------------------------------------------------------------------------------

def test_readyz_is_200_with_every_check_on_the_test_setup(ready_settings, client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    data = body(response)
    assert data["status"] == "ok" and data["failing"] == []
    assert list(data["checks"]) == CHECK_NAMES
    assert {c["status"] for c in data["checks"].values()} == {"ok"}
    assert data["checks"]["disk"]["min_free_mb"] == 500  # CITYGIS_READY_MIN_FREE_MB default
    assert "Retry-After" not in response
    assert_no_store(response)


def test_readyz_503_names_disk_below_the_threshold(ready_settings, client, db):
    ready_settings.CITYGIS_READY_MIN_FREE_MB = 10**12  # an exabyte: never free
    response = client.get("/readyz")
    assert response.status_code == 503
    data = body(response)
    assert data["status"] == "unavailable" and data["failing"] == ["disk"]
    assert data["checks"]["disk"]["status"] == "fail"
    assert response["Retry-After"] == "10"  # CITYGIS_READY_RETRY_AFTER default
    assert_no_store(response)


def test_readyz_503_names_renderer_when_the_configuration_is_missing(ready_settings, client, db, tmp_path):
    ready_settings.CITYGIS_MAPFILE_DIR = tmp_path / "mapserver"
    response = client.get("/readyz")
    assert response.status_code == 503
    data = body(response)
    assert data["failing"] == ["renderer"]
    assert data["checks"]["renderer"]["missing"] == ["citygis.map", "mapserver.conf"]
    assert str(tmp_path) not in response.content.decode()  # file names, never paths


def test_readyz_503_names_cache_when_it_is_unreachable(ready_settings, client, db):
    ready_settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                         "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert body(response)["failing"] == ["cache"]
    assert "127.0.0.1" not in response.content.decode()


@pytest.fixture
def live_connection(django_db_blocker, rendered_config) -> Iterator[dict]:
    """The committed test database outside any test transaction; our connection is restored afterwards."""
    with django_db_blocker.unblock():
        saved = dict(connection.settings_dict)
        try:
            yield saved
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            connection.close()


def test_readyz_503_names_database_when_it_is_unreachable(ready_settings, live_connection):
    port = str(closed_port())
    connection.close()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": port})
    response = Client().get("/readyz")
    assert response.status_code == 503, response.content
    data = body(response)
    assert data["failing"] == ["database"]
    assert data["checks"]["database"] == {"status": "fail", "error": "OperationalError",
                                          "ms": data["checks"]["database"]["ms"]}
    text = response.content.decode()
    for secret in (port, live_connection["NAME"], live_connection.get("USER") or "\0"):
        assert secret not in text  # no DSN parts in the answer
    # …and ready again as soon as the database is back, without a restart.
    connection.settings_dict.update({"HOST": live_connection["HOST"], "PORT": live_connection["PORT"]})
    assert Client().get("/readyz").status_code == 200


def test_readyz_statement_timeout_does_not_stay_on_the_connection(ready_settings, live_connection):
    assert Client().get("/readyz").status_code == 200
    with connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] == "0"


# --- /metrics ---------------------------------------------------------------------------------------------

def requests_total(route: str, method: str = "GET", status: str = "2xx") -> float:
    value = REGISTRY.get_sample_value("citygis_http_requests_total",
                                      {"route": route, "method": method, "status": status})
    return value or 0.0


# (REMOTE_ADDR, X-Forwarded-For, CITYGIS_TRUSTED_PROXIES, CITYGIS_METRICS_ALLOWED or None = default, status)
METRICS_ACCESS = [
    ("127.0.0.1", None, [], None, 200),
    ("::1", None, [], None, 200),
    ("203.0.113.5", None, [], None, 403),
    ("203.0.113.5", "127.0.0.1", [], None, 403),  # a forged X-Forwarded-For from an untrusted client
    ("127.0.0.1", "203.0.113.9", [], None, 403),  # relayed by a local proxy missing from TRUSTED_PROXIES
    ("10.0.0.1", "127.0.0.1", ["10.0.0.1"], None, 200),  # the scraper behind our trusted proxy
    ("10.0.0.1", "203.0.113.9", ["10.0.0.1"], None, 403),  # someone else behind the proxy
    ("10.1.2.3", None, [], ["10.1.0.0/16"], 200),  # a configured scraper network
    ("127.0.0.1", None, [], ["10.1.0.0/16"], 403),  # loopback no longer listed
]


@pytest.mark.parametrize("remote, forwarded, proxies, allowed, status", METRICS_ACCESS)
def test_metrics_only_for_configured_scrapers(settings, client, remote, forwarded, proxies, allowed, status):
    settings.CITYGIS_TRUSTED_PROXIES = proxies
    if allowed is not None:
        settings.CITYGIS_METRICS_ALLOWED = allowed
    extra = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
    response = client.get("/metrics", **extra)
    assert response.status_code == status
    assert_no_store(response)
    if status == 403:
        assert b"citygis_http_requests_total" not in response.content


def test_metrics_count_requests_per_route_pattern(client):
    before = requests_total("healthz")
    before_404 = requests_total("<unresolved>", status="4xx")
    client.get("/healthz")
    client.get("/no-such-page-7f3a9c/")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'citygis_http_requests_total{method="GET",route="healthz",status="2xx"}' in text
    assert "citygis_http_request_duration_seconds_bucket" in text
    assert requests_total("healthz") == before + 1
    assert requests_total("<unresolved>", status="4xx") == before_404 + 1
    assert "7f3a9c" not in text  # raw paths never become labels


def test_metrics_label_is_the_route_pattern_not_the_path(client, db):
    assert client.get("/api/v1/cases/987654321/").status_code == 401
    routes = set(re.findall(r'route="([^"]*)"', client.get("/metrics").content.decode()))
    assert "api/v1/cases/(?P<pk>[^/.]+)/$" in routes
    assert not any("987654321" in r for r in routes)


MULTIPROC_WORKER = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "city_gis.settings"
django.setup()
from city_gis import metrics
if sys.argv[1] == "count":
    metrics.HTTP_REQUESTS.labels("multiproc-test", "GET", "2xx").inc()
else:
    from django.test import Client
    sys.stdout.write(Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode())
"""


def test_metrics_aggregate_gunicorn_workers_in_multiprocess_mode(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "CITYGIS_VAR_DIR": str(tmp_path / "var")}

    def run(*args: str) -> str:
        return subprocess.run([sys.executable, "-c", MULTIPROC_WORKER, *args], env=env, cwd=ROOT, check=True,
                              capture_output=True, text=True, timeout=120).stdout

    run("count")
    run("count")  # a second worker process
    text = run("scrape")  # and a third one answers the scrape
    assert 'citygis_http_requests_total{method="GET",route="multiproc-test",status="2xx"} 2.0' in text


# --- request ids ------------------------------------------------------------------------------------------

OFFERED = "lb-7f3a9c2e-0001"
# (REMOTE_ADDR, offered X-Request-ID, CITYGIS_TRUSTED_PROXIES, echoed?)
REQUEST_IDS = [
    ("127.0.0.1", None, [], False),  # none offered: generated
    ("203.0.113.5", OFFERED, [], False),  # a client cannot choose its id
    ("10.0.0.1", OFFERED, ["10.0.0.1"], True),  # the trusted proxy's id is kept
    ("10.0.0.1", "bad id\nforged log line", ["10.0.0.1"], False),  # malformed: replaced
    ("10.0.0.1", "x" * 129, ["10.0.0.1"], False),  # too long: replaced
]


@pytest.mark.parametrize("remote, offered, proxies, echoed", REQUEST_IDS)
def test_request_id_from_trusted_proxy_else_generated(settings, client, remote, offered, proxies, echoed):
    settings.CITYGIS_TRUSTED_PROXIES = proxies
    extra = {"REMOTE_ADDR": remote, **({"HTTP_X_REQUEST_ID": offered} if offered else {})}
    response = client.get("/healthz", **extra)
    if echoed:
        assert response["X-Request-ID"] == offered
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
        assert response["X-Request-ID"] != client.get("/healthz", **extra)["X-Request-ID"]  # one per request


class _Records(logging.Handler):
    def __init__(self) -> None:
        from city_gis.requestlog import RequestIdFilter
        from city_gis.security.logfilters import RedactSecretsFilter

        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.addFilter(RedactSecretsFilter())
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("city_gis")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_every_log_record_of_a_request_carries_its_id(ready_settings, client, db, records):
    ready_settings.CITYGIS_READY_MIN_FREE_MB = 10**12
    response = client.get("/readyz")
    request_id = response["X-Request-ID"]
    mine = [r for r in records.records if r.request_id == request_id]
    assert {r.name for r in mine} >= {"city_gis.health", "city_gis.request"}
    access = next(r for r in mine if r.name == "city_gis.request")
    assert (access.method, access.route, access.status) == ("GET", "readyz", 503)
    logging.getLogger("city_gis.test").warning("outside any request")
    assert records.records[-1].request_id == "-"


def test_json_log_lines_carry_the_request_id_and_stay_redacted(records):
    from city_gis.requestlog import JsonFormatter

    logging.getLogger("city_gis.test").warning("login with password=%s", "hunter2", extra={"route": "x"})
    line = json.loads(JsonFormatter().format(records.records[-1]))
    assert line["request_id"] == "-" and line["route"] == "x" and line["level"] == "WARNING"
    assert "hunter2" not in line["message"] and "[REDACTED]" in line["message"]


def test_ogc_fast_path_requests_are_counted_per_service_prefix():
    """tileserver.wsgi skips Django's middleware, so it counts its own requests (label: the path prefix)."""
    from django.test import RequestFactory
    from prometheus_client import REGISTRY

    from city_gis.wsgi import application

    def count() -> float:
        return REGISTRY.get_sample_value("citygis_ogc_requests_total", {"service": "/tiles", "status": "4xx"}) or 0.0

    before = count()
    # A foreign Host is refused (400) before any database work.
    environ = RequestFactory().get("/tiles/base.basemap/webmercator/1/0/0.png", HTTP_HOST="evil.example").environ
    chunks = application(environ, lambda status, headers: None)
    assert b"".join(chunks)
    assert count() == before + 1
