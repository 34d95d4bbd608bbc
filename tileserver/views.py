"""Django views in front of MapProxy: `/ows` (WMS), `/wmts/…`, `/tiles/…` (XYZ), `/tms/…`, `/service` (KVP).

The same handler serves the Django URLconf (test client, `runserver`) and the fast WSGI dispatcher of
tileserver/wsgi.py (gunicorn). Order per request: Host (ALLOWED_HOSTS) → one parse of the query (params.py) →
user → per-client rate (limits.throttle, 429) → size/pixel budget (400) → tile coordinates and coverage
(coverage.py: 400 / blank tile) → a readable layer's tile already stored is answered without MapProxy
(tilehits.py: a file read, or an X-Accel-Redirect behind nginx) → a render slot when MapProxy may run mapserv
(503) → security/CORS headers.
"""

from __future__ import annotations

import logging
import math
import os
import re
from contextlib import nullcontext
from xml.sax.saxutils import escape

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import coverage, freshness, limits, tilehits
from .auth import ROOT_LAYER, AuthenticationFailed, make_authorize, readable_layer_names, request_user
from .mapfile import MAX_SIZE
from .params import OGCParamError, parse_ogc_query
from .service import ConfigurationMissing, call_mapproxy

INFO_FORMATS = ("application/json", "text/html", "text/plain", "text/xml", "application/vnd.ogc.gml")
# MapProxy answers every service exception with HTTP 500; these codes are the client's fault.
CLIENT_ERROR_CODES = re.compile(
    rb'code="(LayerNotDefined|StyleNotDefined|InvalidCRS|InvalidSRS|InvalidFormat|InvalidPoint|'
    rb'MissingParameterValue|InvalidParameterValue|InvalidDimensionValue|OperationNotSupported|'
    rb'TileOutOfRange|LayerNotQueryable|CurrentUpdateSequence|InvalidUpdateSequence)"')
CLIENT_ERROR_MESSAGES = re.compile(rb"<ServiceException[^>]*>\s*(invalid|missing|unknown|unsupported|unsupported|"
                                   rb"request parameter|the requested)", re.I)
# The plain-text flavour (tile services): MapProxy labels every RequestError "internal error".
CLIENT_ERROR_PLAIN = re.compile(rb"^internal error: (invalid|unknown|unsupported|missing)", re.I)
CHALLENGE = 'Basic realm="CityGIS OGC", charset="UTF-8"'
log = logging.getLogger(__name__)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
# Requests MapProxy answers by running mapserv (tiles: only when not cached yet), held to a render slot.
RENDERING_REQUESTS = {"getmap", "map", "getfeatureinfo", "feature_info", "getlegendgraphic", "legendgraphic"}
# Headers by which MapProxy would build capabilities URLs from client input; the host comes from get_host().
_UNTRUSTED_URL_HEADERS = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_SCRIPT_NAME")
_PUBLIC_MAX_AGE = re.compile(r"public, max-age=[0-9]+, s-maxage=[0-9]+")


def service_exception(message: str, code: str, locator: str = "", *, version: str = "1.3.0",
                      status: int = 400) -> HttpResponse:
    """An OGC WMS ServiceExceptionReport (1.1.1 or 1.3.0 flavour)."""
    loc = f' locator="{escape(locator, {chr(34): "&quot;"})}"' if locator else ""
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
    """Checks MapProxy leaves to its sources (or crashes on): sizes and pixel budget (limits.max_pixels), BBOX,
    pixel, INFO_FORMAT; legend access."""
    request = params.get("request", "").lower()
    version = params.get("version", "1.3.0")
    if request in ("getmap", "getfeatureinfo", "map", "feature_info"):
        sizes = {}
        for key in ("width", "height"):
            value = params.get(key)
            if value is None:
                continue
            if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_SIZE:
                return service_exception(f"{key.upper()} must be an integer between 1 and {MAX_SIZE}",
                                         "InvalidParameterValue", key.upper(), version=version)
            sizes[key] = int(value)
        budget = limits.max_pixels(user)
        if len(sizes) == 2 and sizes["width"] * sizes["height"] > budget:
            who = "signed-in users" if user.is_authenticated else "anonymous clients (sign in for more)"
            return service_exception(f"WIDTH × HEIGHT must not exceed {budget} pixels for {who}",
                                     "InvalidParameterValue", "WIDTH", version=version)
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


def _cost(params: dict[str, str], user) -> int:
    """Rate units of a request: 1, or the layers a map/feature-info request draws (groups expanded)."""
    if params.get("request", "").lower() not in RENDERING_REQUESTS:
        return 1
    names = params.get("query_layers") or params.get("layers") or ""
    return limits.layer_count(names, readable_layer_names(user), ROOT_LAYER)


def _secure_headers(response: HttpResponse, user) -> HttpResponse:
    """Headers Django's middleware would add (the fast path skips it) and CORS only for anonymous answers: a
    response computed for a user must not be readable by other sites' scripts nor shared by caches."""
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "DENY"
    if "Vary" in response:
        patch_vary_headers(response, ("Authorization", "Cookie"))
    else:  # most answers (every tile): no header to merge with
        response["Vary"] = "Authorization, Cookie"
    if user is not None and user.is_authenticated:
        if "Access-Control-Allow-Origin" in response:
            del response["Access-Control-Allow-Origin"]
        cache_control = response.get("Cache-Control", "")
        if _PUBLIC_MAX_AGE.fullmatch(cache_control):  # a stored tile's (tilehits): what patch_cache_control gives
            response["Cache-Control"] = cache_control.removeprefix("public, ") + ", private"
        else:
            patch_cache_control(response, private=True)  # also drops a `public` MapProxy may have set
    else:
        response["Access-Control-Allow-Origin"] = "*"
    return response


def _retry_later(message: str, code: str, retry_after: int, *, status: int, version: str) -> HttpResponse:
    response = service_exception(message, code, version=version, status=status)
    response["Retry-After"] = str(retry_after)
    return response


def serve_ogc(request: HttpRequest, path: str) -> HttpResponse:
    """Authenticate, authorize through MapProxy's hook and answer one OGC/tile request at `path`."""
    response, user = _serve(request, path)
    return _secure_headers(response, user)


def _serve(request: HttpRequest, path: str) -> tuple[HttpResponse, object]:
    """(response, user the response was computed for: None before authentication)."""
    try:
        host = request.get_host()  # ALLOWED_HOSTS: the fast path skips CommonMiddleware
    except DisallowedHost:
        return service_exception("Host header not allowed", "InvalidParameterValue", "Host"), None
    freshness.ensure_current()  # a layer changed through another node: this node's configuration follows
    try:
        params = parse_ogc_query(request.META.get("QUERY_STRING", ""))
    except OGCParamError as exc:
        return service_exception(str(exc), "InvalidParameterValue", exc.parameter), None
    version = params.get("version", "1.3.0")
    try:
        user = tilehits.tile_user(request, params) if tilehits.is_tile_path(path, params) else request_user(request)
    except AuthenticationFailed as exc:
        return service_exception(str(exc), "Unauthorized", version=version, status=401), None
    retry = limits.throttle(request, user, _cost(params, user))
    if retry is not None:
        return _retry_later("too many requests; slow down", "RequestLimitExceeded", retry, status=429,
                            version=version), user
    refused = _precheck(params, user)
    if refused is not None:
        return refused, user
    if params.get("service", "").upper() == "WFS" and path in ("/ows", "/service"):
        from .wfs import serve_wfs  # imported here: wfs.py imports this module's CHALLENGE

        return serve_wfs(request, user, params), user
    try:
        tile = coverage.parse_tile_request(path, params)
    except OGCParamError as exc:
        code = {"TILECOL": "TileOutOfRange", "TILEROW": "TileOutOfRange", "FORMAT": "InvalidFormat"}.get(
            exc.parameter, "InvalidParameterValue")
        return service_exception(str(exc), code, exc.parameter, version=version), user
    if tile is not None and tile.layer in readable_layer_names(user):
        if coverage.outside_coverage(tile):
            body, ctype = coverage.blank_tile(tile.ext)
            response = HttpResponse(body, content_type=ctype)
            response["Cache-Control"] = f"max-age={coverage.BLANK_MAX_AGE}"
            return response, user
        hit = tilehits.serve_hit(request, tile)
        if hit is not None:
            return hit, user
    environ = dict(request.META)
    environ["PATH_INFO"] = path
    # Behind a TLS proxy (SECURE_PROXY_SSL_HEADER) capabilities must advertise https URLs.
    environ["wsgi.url_scheme"] = request.scheme
    environ["HTTP_HOST"] = host
    for name in _UNTRUSTED_URL_HEADERS:
        environ.pop(name, None)
    environ["mapproxy.authorize"] = make_authorize(user)
    environ["citygis.params"] = params  # auth._explicit_layers reads the same parse
    if tile is not None:
        may_render = not os.path.exists(tile.cache_path)  # no pathlib: one stat
    else:
        may_render = params.get("request", "").lower() in RENDERING_REQUESTS or coverage.is_feature_info(path)
    try:
        with limits.render_slot() if may_render else nullcontext():
            status, headers, body = call_mapproxy(environ)
    except limits.RenderBusy as exc:
        return _retry_later("server busy rendering; retry shortly", "ServerBusy", exc.retry_after, status=503,
                            version=version), user
    except ConfigurationMissing:
        return service_exception("map services not configured: run `citygis generate_mapconfig`",
                                 "NoApplicableCode", version=version, status=503), user
    except Exception:  # a request MapProxy could not parse: still an OGC answer, logged for us
        log.exception("MapProxy failed on %s?%s", path, request.META.get("QUERY_STRING", ""))
        return service_exception("request could not be processed", "NoApplicableCode", version=version), user
    if status == 500 and b"exit code: %d" % limits.MAPSERV_TIMEOUT_EXIT in body[:4000]:
        return _retry_later("rendering exceeded the time limit", "ServerBusy", 30, status=503, version=version), user
    if status == 500 and (CLIENT_ERROR_CODES.search(body[:2000]) or CLIENT_ERROR_MESSAGES.search(body[:2000])
                          or CLIENT_ERROR_PLAIN.match(body[:200])):
        status = 400
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() not in _HOP_BY_HOP:
            response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = CHALLENGE
    return response, user


@csrf_exempt
@require_http_methods(["GET", "HEAD"])
def ows(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any OGC/tile path: the URLconf passes it without the leading slash."""
    return serve_ogc(request, "/" + (path or "ows"))


@csrf_exempt  # a Transaction authenticates by token, or by the session with its CSRF token (wfst.py)
@require_http_methods(["GET", "HEAD", "POST"])
def ows_endpoint(request: HttpRequest, path: str = "") -> HttpResponse:
    """`/ows` and `/service`: GET/HEAD as `ows`; POST is a WFS-T Transaction (tileserver/wfst.py)."""
    if request.method == "POST":
        from .wfst import serve_transaction  # wfst imports wfs, which imports this module

        response, user = serve_transaction(request)
        return _secure_headers(response, user)
    return ows(request, path)
