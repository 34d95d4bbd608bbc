"""A WSGI dispatcher for gunicorn: OGC/tile paths skip Django's middleware and URL resolution.

Session users still count: the session and user are loaded the way Django's middleware would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

OGC_PREFIXES = ("/ows", "/wmts", "/tiles", "/tms", "/service")


def _is_ogc(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OGC_PREFIXES)


def mount_ogc_services(django_app: Callable) -> Callable:
    """Wrap the Django WSGI app so that OGC/tile requests go straight to tileserver.views.serve_ogc."""
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.core.handlers.wsgi import WSGIRequest
    from django.db import close_old_connections
    from django.utils.functional import SimpleLazyObject

    from .views import serve_ogc

    session_engine = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"])

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not _is_ogc(path) or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return django_app(environ, start_response)
        close_old_connections()
        try:
            request = WSGIRequest(environ)
            request.session = session_engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
            request.user = SimpleLazyObject(lambda: get_user(request))
            response = serve_ogc(request, path)
        finally:
            close_old_connections()
        headers = [(k, v) for k, v in response.items()]
        headers.append(("Content-Length", str(len(response.content))))
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.content]

    return application
