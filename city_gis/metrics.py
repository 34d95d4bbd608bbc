"""Prometheus metrics (prometheus-client): request count and latency per route, OGC renders, and ``/metrics``.

Labels are bounded: the resolved URL *pattern* (never the raw path), the method (unknown ones folded into
"other") and the status class ("2xx" …). ``/metrics`` is served only to the addresses in
CITYGIS_METRICS_ALLOWED (IPs/CIDRs; default loopback), judged by city_gis.security.clientip.client_ip.

Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR to an empty directory, writable by the workers and
wiped before each start; prometheus-client then keeps every worker's samples there and ``/metrics``
aggregates them (prometheus_client.multiprocess), so a scrape sees the whole node, not one worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from city_gis.security.clientip import address_in, client_ip, is_trusted_proxy

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "<unresolved>"  # 404s and requests answered by middleware before URL resolution
# Seconds: tiles and API answers take milliseconds, cold GetMaps and exports seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "citygis_http_requests", "HTTP requests answered by Django, by route pattern, method and status class.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "citygis_http_request_duration_seconds", "Time from the first middleware to the response, by route pattern.",
    ["route", "method"], buckets=BUCKETS,
)
OGC_REQUESTS = Counter(
    "citygis_ogc_requests", "OGC/tile requests of the fast path (tileserver.wsgi), by service prefix and status class.",
    ["service", "status"],
)
OGC_LATENCY = Histogram(
    "citygis_ogc_request_duration_seconds", "Time to answer an OGC/tile request (cache hit or render).",
    ["service"], buckets=BUCKETS,
)


def status_class(status: int) -> str:
    """"2xx", "4xx", …: the status label (a bounded set)."""
    return f"{status // 100}xx"


def _method(method: str | None) -> str:
    return method if method in METHODS else "other"


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern (``api/v1/cases/<int:pk>/``), or UNRESOLVED."""
    match = getattr(request, "resolver_match", None)
    return (match.route or match.view_name or UNRESOLVED) if match is not None else UNRESOLVED


def observe_ogc(service: str, status: int, seconds: float) -> None:
    """Count one OGC/tile request (`service` is the path prefix, e.g. "/tiles") — for tileserver.wsgi."""
    OGC_REQUESTS.labels(service, status_class(status)).inc()
    OGC_LATENCY.labels(service).observe(seconds)


class MetricsMiddleware:
    """Counts every Django request and its latency; first in MIDDLEWARE so early answers count too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)  # Django turns exceptions into responses before they get here
        route, method = route_of(request), _method(request.method)
        HTTP_REQUESTS.labels(route, method, status_class(response.status_code)).inc()
        HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)
        return response


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # every worker's samples, read from the directory
        return registry
    return REGISTRY


_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def may_scrape(request: HttpRequest) -> bool:
    """The client address is in CITYGIS_METRICS_ALLOWED and the request was not relayed by an untrusted proxy.

    The second rule matters behind a local nginx left out of CITYGIS_TRUSTED_PROXIES: every visitor would
    otherwise arrive from 127.0.0.1, the default scraper address."""
    relayed = any(request.META.get(h) for h in _FORWARDING_HEADERS)
    if relayed and not is_trusted_proxy(request):
        return False
    return address_in(client_ip(request), settings.CITYGIS_METRICS_ALLOWED)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition; 403 unless :func:`may_scrape`."""
    if not may_scrape(request):
        response: HttpResponse = JsonResponse({"detail": "metrics are served to configured scrapers only",
                                               "code": "metrics_forbidden"}, status=403)
    else:
        response = HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
    add_never_cache_headers(response)
    return response


__all__ = ["MetricsMiddleware", "metrics_view", "observe_ogc", "route_of", "status_class"]
