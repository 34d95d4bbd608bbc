"""Request ids and structured request logs.

:class:`RequestIdMiddleware` gives each request an id — the ``X-Request-ID`` of a trusted proxy
(CITYGIS_TRUSTED_PROXIES, city_gis.security.clientip) when it is well-formed, else a new one — returns it
in the ``X-Request-ID`` response header and logs one ``city_gis.request`` record per request (INFO: method,
route, status, duration). :class:`RequestIdFilter` puts the id on every log record written while the
request runs (``%(request_id)s`` in LOGGING's format; "-" outside a request). :class:`JsonFormatter` writes
one JSON object per record (LOG_FORMAT=json). The redaction filter (security.logfilters) still applies.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from city_gis.security.clientip import is_trusted_proxy

HEADER = "X-Request-ID"
# A proxy's id is copied into log lines: a short token of safe characters, nothing that could forge a line.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_request_id: ContextVar[str] = ContextVar("citygis_request_id", default="-")
log = logging.getLogger("city_gis.request")


def current_request_id() -> str:
    """The id of the request being handled by this thread/task, or "-"."""
    return _request_id.get()


def request_id_for(request: HttpRequest) -> str:
    """The trusted proxy's X-Request-ID if well-formed, else a fresh uuid4 (hex)."""
    offered = request.META.get("HTTP_X_REQUEST_ID", "")
    if offered and _VALID_ID.match(offered) and is_trusted_proxy(request):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id for the request's log records and the response header; logs the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if log.isEnabledFor(logging.INFO):
                from city_gis.metrics import route_of  # one definition of the bounded route label

                ms = round((time.perf_counter() - started) * 1000, 1)
                log.info("%s %s %s %sms", request.method, route_of(request), response.status_code, ms,
                         extra={"method": request.method, "route": route_of(request),
                                "status": response.status_code, "duration_ms": ms})
            return response
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current request's id, "-" outside requests); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


# Attributes every LogRecord has: anything else on a record came in through `extra=` and is emitted as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request_id, message, `extra` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


__all__ = ["HEADER", "JsonFormatter", "RequestIdFilter", "RequestIdMiddleware", "current_request_id",
           "request_id_for"]
