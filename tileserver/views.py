"""Django views in front of MapProxy: `/ows` (WMS), `/wmts/…`, `/tiles/…` (XYZ), `/tms/…`, `/service` (KVP).

The same handler serves the Django URLconf (test client, `runserver`) and the fast WSGI dispatcher of
tileserver/wsgi.py (gunicorn).
"""

from __future__ import annotations

import logging
import math
import re
from xml.sax.saxutils import escape

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .auth import AuthenticationFailed, make_authorize, readable_layer_names, request_user
from .mapfile import MAX_SIZE
from .service import ConfigurationMissing, call_mapproxy

INFO_FORMATS = ("application/json", "text/html", "text/plain", "text/xml", "application/vnd.ogc.gml")
# MapProxy answers every service exception with HTTP 500; these codes are the client's fault.
CLIENT_ERROR_CODES = re.compile(
    rb'code="(LayerNotDefined|StyleNotDefined|InvalidCRS|InvalidSRS|InvalidFormat|InvalidPoint|'
    rb'MissingParameterValue|InvalidParameterValue|InvalidDimensionValue|OperationNotSupported|'
    rb'TileOutOfRange|LayerNotQueryable|CurrentUpdateSequence|InvalidUpdateSequence)"')
CLIENT_ERROR_MESSAGES = re.compile(rb"<ServiceException[^>]*>\s*(invalid|missing|unknown|unsupported|unsupported|"
                                   rb"request parameter|the requested)", re.I)
CHALLENGE = 'Basic realm="CityGIS OGC", charset="UTF-8"'
log = logging.getLogger(__name__)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def service_exception(message: str, code: str, locator: str = "", *, version: str = "1.3.0",
                      status: int = 400) -> HttpResponse:
    """An OGC WMS ServiceExceptionReport (1.1.1 or 1.3.0 flavour)."""
    loc = f' locator="{escape(locator)}"' if locator else ""
    if version == "1.1.1":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ServiceExceptionReport version="1.1.1">'
                f'<ServiceException code="{code}"{loc}>{escape(message)}</ServiceException></ServiceExceptionReport>')
        ctype = "application/vnd.ogc.se_xml"
    else:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ServiceExceptionReport version="1.3.0" '
                f'xmlns="http://www.opengis.net/ogc"><ServiceException code="{code}"{loc}>{escape(message)}'
                f'</ServiceException></ServiceExceptionReport>')
        ctype = "text/xml"
    resp = HttpResponse(body, status=status, content_type=f"{ctype}; charset=utf-8")
    if status == 401:
        resp["WWW-Authenticate"] = CHALLENGE
    return resp


def _bbox_error(text: str) -> str | None:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        return "BBOX must be four numbers: minx,miny,maxx,maxy"
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return "BBOX must be four numbers: minx,miny,maxx,maxy"
    if not (values[0] < values[2] and values[1] < values[3]):
        return "BBOX minimum must be below its maximum on both axes"
    return None


def _precheck(params: dict[str, str], user) -> HttpResponse | None:
    """Checks MapProxy leaves to its sources (or crashes on): sizes, BBOX, pixel, INFO_FORMAT; legend access."""
    request = params.get("request", "").lower()
    version = params.get("version", "1.3.0")
    if request in ("getmap", "getfeatureinfo", "map", "feature_info"):
        for key in ("width", "height"):
            value = params.get(key)
            if value is None:
                continue
            if not value.isdigit() or not 1 <= int(value) <= MAX_SIZE:
                return service_exception(f"{key.upper()} must be an integer between 1 and {MAX_SIZE}",
                                         "InvalidParameterValue", key.upper(), version=version)
        if "bbox" in params and (error := _bbox_error(params["bbox"])):
            return service_exception(error, "InvalidParameterValue", "BBOX", version=version)
    if request in ("getfeatureinfo", "feature_info"):
        for key in ("i", "j", "x", "y"):
            if key in params and not params[key].lstrip("-").isdigit():
                return service_exception(f"{key.upper()} must be an integer pixel position",
                                         "InvalidPoint", key.upper(), version=version)
        info_format = params.get("info_format")
        if info_format and info_format.split(";")[0].strip().lower() not in INFO_FORMATS:
            return service_exception(f"INFO_FORMAT not supported; use one of {', '.join(INFO_FORMATS)}",
                                     "InvalidFormat", "INFO_FORMAT", version=version)
    if request == "getlegendgraphic":
        layer = params.get("layer", "")
        if layer and layer not in readable_layer_names(user):
            anonymous = not user.is_authenticated
            return service_exception("layer not permitted", "LayerNotDefined" if not anonymous else "Unauthorized",
                                     "LAYER", version=version, status=401 if anonymous else 403)
    return None


def serve_ogc(request: HttpRequest, path: str) -> HttpResponse:
    """Authenticate, authorize through MapProxy's hook and answer one OGC/tile request at `path`."""
    params = {k.lower(): v for k, v in request.GET.items()}
    version = params.get("version", "1.3.0")
    try:
        user = request_user(request)
    except AuthenticationFailed as exc:
        return service_exception(str(exc), "Unauthorized", version=version, status=401)
    refused = _precheck(params, user)
    if refused is not None:
        return refused
    environ = dict(request.META)
    environ["PATH_INFO"] = path
    # Behind a TLS proxy (SECURE_PROXY_SSL_HEADER) capabilities must advertise https URLs.
    environ["wsgi.url_scheme"] = request.scheme
    environ["mapproxy.authorize"] = make_authorize(user)
    try:
        status, headers, body = call_mapproxy(environ)
    except ConfigurationMissing:
        return service_exception("map services not configured: run `citygis generate_mapconfig`",
                                 "NoApplicableCode", version=version, status=503)
    except Exception:  # a request MapProxy could not parse: still an OGC answer, logged for us
        log.exception("MapProxy failed on %s?%s", path, request.META.get("QUERY_STRING", ""))
        return service_exception("request could not be processed", "NoApplicableCode", version=version)
    if status == 500 and (CLIENT_ERROR_CODES.search(body[:2000]) or CLIENT_ERROR_MESSAGES.search(body[:2000])):
        status = 400
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() not in _HOP_BY_HOP:
            response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = CHALLENGE
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD"])
def ows(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any OGC/tile path: the URLconf passes it without the leading slash."""
    return serve_ogc(request, "/" + (path or "ows"))
