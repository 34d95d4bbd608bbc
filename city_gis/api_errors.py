"""handler404/handler400 that answer API paths in the API's own error format; pages keep Django's HTML.

A path the URL patterns reject (a non-integer case id, a bad layer name, an unknown Open311 suffix) never
reaches a DRF view, so without these it got Django's HTML page — not what /api/ and /open311/ clients (and the
OpenAPI schema) expect.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.exceptions import NotFound, ParseError

API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"


def _api_error(request: HttpRequest, status: int, detail: str) -> HttpResponse | None:
    """The error body of the API `request.path` belongs to, or None for a page."""
    path = request.path
    if path.startswith(OPEN311_PREFIX):
        from field_app_api.open311.rendering import Open311XMLRenderer

        errors = [{"code": status, "description": detail}]  # the GeoReport v2 error list
        if path.endswith(".xml"):
            body = Open311XMLRenderer().render(errors, renderer_context={"response": HttpResponse(status=status)})
            return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
        return JsonResponse(errors, status=status, safe=False)
    if path.startswith(API_PREFIX):
        return JsonResponse({"detail": detail}, status=status)
    return None


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON (Open311: its list, .xml as XML) under /api/ and /open311/, Django's page elsewhere."""
    return _api_error(request, 404, str(NotFound.default_detail)) or defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: as handler404, for requests Django refuses itself (SuspiciousOperation, BadRequest)."""
    return _api_error(request, 400, str(ParseError.default_detail)) or defaults.bad_request(request, exception)
