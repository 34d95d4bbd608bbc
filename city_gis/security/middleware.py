"""A lost database answers 503 + Retry-After (JSON) instead of 500, on every path.

Three hooks share :func:`outage_response`: DRF's exception handler (API views), the middleware's
process_exception (plain Django views) and ``handler500`` (errors raised inside other middleware, e.g.
the session save). Only connection-level errors (OperationalError, InterfaceError) count; integrity or
programming errors stay 500 so they get fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger("city_gis.db_outage")
DB_OUTAGE_ERRORS = (OperationalError, InterfaceError)


def is_db_outage(exc: BaseException | None) -> bool:
    """True for database connection failures (also when wrapped as the cause of another exception)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, DB_OUTAGE_ERRORS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _outage_payload() -> tuple[dict, int]:
    retry = int(getattr(settings, "CITYGIS_DB_OUTAGE_RETRY_AFTER", 5))
    return {"detail": _("数据库暂时不可用，请稍后重试。"), "code": "database_unavailable", "retry_after": retry}, retry


def outage_response(exc: BaseException | None = None) -> HttpResponse:
    """503 JSON with Retry-After (CITYGIS_DB_OUTAGE_RETRY_AFTER seconds)."""
    log.error("database unavailable: %s", type(exc).__name__ if exc else "unknown")
    payload, retry = _outage_payload()
    response = JsonResponse(payload, status=503)
    response["Retry-After"] = str(retry)
    return response


def api_exception_handler(exc: Exception, context: dict):
    """REST_FRAMEWORK EXCEPTION_HANDLER: DRF's, plus the database-outage 503 (rendered by the view's renderer)."""
    if is_db_outage(exc):
        from rest_framework.response import Response

        log.error("database unavailable: %s", type(exc).__name__)
        payload, retry = _outage_payload()
        return Response(payload, status=503, headers={"Retry-After": str(retry)})
    return drf_exception_handler(exc, context)


class DatabaseOutageMiddleware:
    """Turns a database connection failure in a view into the 503 answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(exception) if is_db_outage(exception) else None


def server_error(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """handler500: the outage answer when the uncaught error is a lost database, else Django's 500 page."""
    import sys

    from django.views.defaults import server_error as django_server_error

    exc = sys.exc_info()[1]
    if is_db_outage(exc):
        return outage_response(exc)
    return django_server_error(request, *args, **kwargs)
