"""A WSGI dispatcher for gunicorn: OGC/tile paths skip Django's middleware and URL resolution.

Session users still count: the session and user are loaded the way Django's middleware would. What else the
skipped middleware does for these paths — Host validation (ALLOWED_HOSTS) and the security headers — is done by
serve_ogc itself, so both entry points answer alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

OGC_PREFIXES = ("/ows", "/wmts", "/tiles", "/tms", "/service")


def _is_ogc(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OGC_PREFIXES)


def mount_ogc_services(django_app: Callable) -> Callable:
    """Wrap the Django WSGI app so that OGC/tile requests go straight to tileserver.views.serve_ogc."""
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.contrib.auth.models import AnonymousUser
    from django.core.handlers.wsgi import WSGIRequest
    from django.db import close_old_connections
    from django.utils.functional import SimpleLazyObject

    from city_gis.dbrouting import replica_reads
    from city_gis.metrics import observe_ogc

    from .views import serve_ogc

    session_engine = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"])

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not _is_ogc(path) or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return django_app(environ, start_response)
        close_old_connections()
        started = time.perf_counter()
        try:
            request = WSGIRequest(environ)
            session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
            request.session = session_engine.SessionStore(session_key)
            # Without a session cookie get_user() is AnonymousUser: skip the lazy proxy every tile would pay for.
            request.user = SimpleLazyObject(lambda: get_user(request)) if session_key else AnonymousUser()
            with replica_reads():  # GET/HEAD only (above): the read replica, when there is one
                response = serve_ogc(request, path)
        finally:
            close_old_connections()
        body = response.content  # joins the response's chunks: once
        # The fast path skips Django's middleware: OGC requests are counted here (per service prefix, bounded).
        observe_ogc(next(p for p in OGC_PREFIXES if path == p or path.startswith(p + "/")), response.status_code,
                    time.perf_counter() - started)
        headers = list(response.items())
        if response.status_code not in (204, 304):  # these have no body; a length would describe the tile's
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    return application
