"""The HTTP side of /ogcapi/: parameters, negotiation (GeoJSON/JSON or HTML), links, errors.

Order per request, as for WMS/WFS (tileserver.views): one strict parse of the query string (a repeated name is a
400) → the user (tileserver.auth.request_user: session, `Authorization: Basic|Token`, `?token=`; wrong
credentials 401) → the per-client OGC rate (429) → the collection and its access (layers.access through
collections.py: 404 unknown, 401/403 forbidden) → parameters, each checked with a 400 naming it → SQL.
Responses carry the security headers of the OGC endpoints (nosniff, DENY, Vary, CORS only when anonymous).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from tileserver import limits
from tileserver.auth import AuthenticationFailed, request_user

from . import collections as colls
from . import cql, items, writes
from . import crs as crs_module
from .problems import Problem, problem_response

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
SCHEMA_JSON = "application/schema+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    # Part 4 (draft): POST/PUT/DELETE and PATCH on /items, behind layers.access.can_write (tileserver/ogcapi/writes)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
# Parameters of each resource besides `f` and `token` (queryable properties are added for /items).
ITEMS_PARAMS = frozenset({"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
                          "filter-crs"})
ITEM_PARAMS = frozenset({"crs"})
ALWAYS_PARAMS = frozenset({"f", "token"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and return may format a filter
_GEOMETRY_SCHEMA = {"POINT": "point", "LINESTRING": "linestring", "POLYGON": "polygon"}


# ------------------------------------------------------------------------------------------------ plumbing


def parse_query(query_string: str) -> dict[str, str]:
    """{name: value} of the query string; 400 on a repeated name, control characters or invalid UTF-8.
    Names keep their case: parameters and properties of OGC API are case-sensitive."""
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=100)
    except UnicodeDecodeError:
        raise Problem(400, "the query string is not valid UTF-8") from None
    except ValueError:
        raise Problem(400, "more than 100 query parameters") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise Problem(400, f"control character in parameter {name[:40]!r}", name[:40])
        if name in params:
            raise Problem(400, f"parameter {name[:40]} given more than once", name[:40])
        params[name] = value
    return params


def _wants_html(request: HttpRequest, params: dict[str, str], json_formats: tuple[str, ...]) -> bool:
    """`f` decides (json, geojson, html); else the Accept header (HTML only when asked for before JSON)."""
    f = params.get("f")
    if f is not None:
        if f == "html":
            return True
        if f in json_formats:
            return False
        raise Problem(400, f"f: one of {', '.join(('html', *json_formats))}", "f")
    accept = request.META.get("HTTP_ACCEPT", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "application/geo+json", "application/schema+json",
                     "application/vnd.oai.openapi+json"):
            return False
        if media in ("text/html", "application/xhtml+xml"):
            return True
    return False


def _check_names(params: dict[str, str], allowed: frozenset[str] | set[str]) -> None:
    for name in params:
        if name not in allowed and name not in ALWAYS_PARAMS:
            raise Problem(400, f"unknown parameter {name[:60]!r}; this resource takes "
                               f"{', '.join(sorted(allowed | ALWAYS_PARAMS))}", name[:60])


def _secure(response: HttpResponse, user) -> HttpResponse:
    from tileserver.views import _secure_headers  # the OGC endpoints' one set of headers

    return _secure_headers(response, user)


def ogc_view(handler: Callable[..., HttpResponse] | None = None, *,
             writes_by_method: dict[str, Callable[..., HttpResponse]] | None = None) -> Any:
    """GET/HEAD (and the Part 4 `writes_by_method` of tileserver.ogcapi.writes); authenticate and throttle;
    Problems become problem+json; security headers always. CSRF: exempt for reads, writes check it themselves
    (writes.write_user: session writes need the token, Basic never writes)."""
    if handler is None:
        return lambda h: ogc_view(h, writes_by_method=writes_by_method)
    write_handlers = writes_by_method or {}
    allow = ", ".join(["GET", "HEAD", *write_handlers])

    @csrf_exempt
    @wraps(handler)
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        user = None
        try:
            if request.method not in ("GET", "HEAD") and request.method not in write_handlers:
                response = problem_response(Problem(405, f"{request.method} is not allowed here"))
                response["Allow"] = allow
                return _secure(response, None)
            params = parse_query(request.META.get("QUERY_STRING", ""))
            if request.method in write_handlers:
                response, user = writes.handle(request, params, write_handlers[request.method], **kwargs)
                return _secure(response, user)
            try:
                user = request_user(request)
            except AuthenticationFailed as exc:
                raise Problem(401, str(exc)) from None
            retry = limits.throttle(request, user)
            if retry is not None:
                raise Problem(429, "too many requests; slow down", retry_after=retry)
            response = handler(request, user, params, **kwargs)
        except Problem as problem:
            response = problem_response(problem)
        return _secure(response, user)

    return view


def _url(request: HttpRequest, path: str, params: dict[str, str] | None = None) -> str:
    url = request.build_absolute_uri(path)
    return url + ("?" + urlencode(params) if params else "")


def _json(data: Any, content_type: str = JSON, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False, default=str), status=status,
                        content_type=content_type)


def _keep(params: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in params.items() if k in names}


def _alternates(request: HttpRequest, path: str, params: dict[str, str], json_type: str, html: bool,
                title: str) -> list[dict[str, str]]:
    """self + alternate links of a resource in JSON and HTML (`token` never copied into links)."""
    base = {k: v for k, v in params.items() if k not in ("f", "token")}
    links = [
        {"href": _url(request, path, {**base, "f": "json"}), "rel": "alternate" if html else "self",
         "type": json_type, "title": f"{title} (JSON)"},
        {"href": _url(request, path, {**base, "f": "html"}), "rel": "self" if html else "alternate",
         "type": HTML, "title": f"{title} (HTML)"},
    ]
    return sorted(links, key=lambda link: link["rel"] != "self")


def _title(layer) -> str:
    if (get_language() or "").startswith("en") and layer.title_en:
        return layer.title_en
    return layer.title_zh or layer.name


# ------------------------------------------------------------------------------------------------ resources


@ogc_view
def landing(request: HttpRequest, user, params: dict[str, str]) -> HttpResponse:
    _check_names(params, set())
    html = _wants_html(request, params, ("json",))
    links = _alternates(request, "/ogcapi/", params, JSON, html, _("OGC API – Features 服务"))
    links += [
        {"href": _url(request, "/ogcapi/api"), "rel": "service-desc", "type": OPENAPI,
         "title": "OpenAPI 3.0"},
        {"href": _url(request, "/ogcapi/conformance"), "rel": "conformance", "type": JSON,
         "title": _("符合的标准类")},
        {"href": _url(request, "/ogcapi/collections"), "rel": "data", "type": JSON, "title": _("要素集合")},
    ]
    data = {"title": _("CityGIS 要素服务"),
            "description": _("统一图层目录中的矢量图层，按 OGC API – Features 第 1–3 部分发布。"),
            "links": links}
    if html:
        return render(request, "ogcapi/landing.html", {"data": data})
    return _json(data)


@ogc_view
def conformance(request: HttpRequest, user, params: dict[str, str]) -> HttpResponse:
    _check_names(params, set())
    data = {"conformsTo": CONFORMANCE}
    if _wants_html(request, params, ("json",)):
        return render(request, "ogcapi/conformance.html", {"data": data})
    return _json(data)


@ogc_view
def api(request: HttpRequest, user, params: dict[str, str]) -> HttpResponse:
    """A short OpenAPI 3.0 description: enough for clients that read `limit`'s bounds from it (GDAL)."""
    _check_names(params, set())
    limit = {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": limits.ogcapi_max_limit(),
                        "default": limits.ogcapi_default_limit()}}
    simple = {"name": "f", "in": "query", "required": False, "schema": {"type": "string",
                                                                          "enum": ["json", "html"]}}
    query = [limit] + [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                       for name in ("offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
                                    "filter-crs")]
    collection_id = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}}
    feature_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    ok = {"200": {"description": "OK"}, "400": {"description": "bad parameter (problem+json)"}}
    if_match = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
    body = {"required": True, "content": {"application/geo+json": {"schema": {"type": "object"}}}}
    refused = {str(code): {"description": text} for code, text in (
        (400, "invalid feature (problem+json naming the member)"), (401, "no token / session"),
        (403, "not a steward of the owner department"), (404, "no such feature"),
        (412, "If-Match is not the current ETag"), (428, "If-Match missing"))}
    data = {
        "openapi": "3.0.3",
        "info": {"title": "CityGIS OGC API – Features", "version": "1.0.0"},
        "servers": [{"url": _url(request, "/ogcapi")}],
        "paths": {
            "/": {"get": {"operationId": "getLandingPage", "parameters": [simple], "responses": ok}},
            "/conformance": {"get": {"operationId": "getConformance", "parameters": [simple], "responses": ok}},
            "/collections": {"get": {"operationId": "getCollections", "parameters": [simple], "responses": ok}},
            "/collections/{collectionId}": {"get": {"operationId": "describeCollection",
                                                    "parameters": [collection_id, simple], "responses": ok}},
            "/collections/{collectionId}/queryables": {"get": {"operationId": "getQueryables",
                                                               "parameters": [collection_id], "responses": ok}},
            "/collections/{collectionId}/items": {
                "get": {"operationId": "getFeatures", "parameters": [collection_id, *query, simple],
                        "responses": ok},
                "post": {"operationId": "createFeature", "parameters": [collection_id], "requestBody": body,
                         "responses": {"201": {"description": "created (Location, ETag)"}, **refused}}},
            "/collections/{collectionId}/items/{featureId}": {
                "get": {"operationId": "getFeature", "parameters": [collection_id, feature_id, simple],
                        "responses": ok},
                "put": {"operationId": "replaceFeature", "parameters": [collection_id, feature_id, if_match],
                        "requestBody": body, "responses": {"200": {"description": "replaced (ETag)"}, **refused}},
                "patch": {"operationId": "updateFeature", "parameters": [collection_id, feature_id, if_match],
                          "requestBody": body, "responses": {"200": {"description": "updated (ETag)"}, **refused}},
                "delete": {"operationId": "deleteFeature", "parameters": [collection_id, feature_id, if_match],
                           "responses": {"204": {"description": "deleted"}, **refused}}},
        },
    }
    return _json(data, OPENAPI)


def _collection(request: HttpRequest, layer, params: dict[str, str], user=None) -> dict[str, Any]:
    path = f"/ogcapi/collections/{layer.name}"
    extent: dict[str, Any] = {"spatial": colls.spatial_extent(layer)}
    interval = colls.temporal_extent(layer)
    if interval is not None:
        extent["temporal"] = {"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return {
        "id": layer.name,
        "title": _title(layer),
        "description": layer.abstract or "",
        "keywords": list(layer.keywords or []),
        "itemType": "feature",
        "extent": extent,
        "crs": crs_module.crs_uris(),
        "storageCrs": crs_module.STORAGE.uri,
        "storageCrsBbox": colls.storage_bbox(layer),
        "links": [
            {"href": _url(request, path, {"f": "json"}), "rel": "self", "type": JSON, "title": _title(layer)},
            {"href": _url(request, path, {"f": "html"}), "rel": "alternate", "type": HTML, "title": _title(layer)},
            {"href": _url(request, path + "/items", {"f": "json"}), "rel": "items", "type": GEOJSON,
             "title": _("要素")},
            {"href": _url(request, path + "/items", {"f": "html"}), "rel": "items", "type": HTML,
             "title": _("要素")},
            {"href": _url(request, path + "/queryables"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": SCHEMA_JSON, "title": _("可查询属性")},
        ],
        # CityGIS registry metadata (not defined by the standard; clients ignore what they do not know)
        "title_zh": layer.title_zh,
        "title_en": layer.title_en or "",
        "owner": {"code": layer.owner.code, "name": layer.owner.name_zh, "name_en": layer.owner.name_en or ""},
        "updateFrequency": layer.update_frequency,
        "theme": layer.theme,
        "geometryType": layer.geometry_type,
        "lastUpdate": layer.last_update.isoformat() if layer.last_update else None,
        # whether this user may POST/PUT/PATCH/DELETE its items (Part 4; the map's editor offers these)
        "writable": user is not None and writes.can_write(user, layer) and writes.is_versioned(layer),
    }


@ogc_view
def collection_list(request: HttpRequest, user, params: dict[str, str]) -> HttpResponse:
    _check_names(params, set())
    html = _wants_html(request, params, ("json",))
    layers = colls.listed_collections(user)
    data = {
        "links": _alternates(request, "/ogcapi/collections", params, JSON, html, _("要素集合")),
        "collections": [_collection(request, layer, params, user) for layer in layers],
        "crs": crs_module.crs_uris(),
    }
    if html:
        return render(request, "ogcapi/collections.html", {"data": data})
    return _json(data)


@ogc_view
def collection(request: HttpRequest, user, params: dict[str, str], name: str) -> HttpResponse:
    _check_names(params, set())
    layer = colls.collection_for(user, name)
    html = _wants_html(request, params, ("json",))
    data = _collection(request, layer, params, user)
    if html:
        return render(request, "ogcapi/collection.html", {"data": data})
    return _json(data)


@ogc_view
def queryables(request: HttpRequest, user, params: dict[str, str], name: str) -> HttpResponse:
    _check_names(params, set())
    layer = colls.collection_for(user, name)
    schema = colls.schema(layer)
    props: dict[str, Any] = {}
    kind = _GEOMETRY_SCHEMA.get(layer.geometry_type)
    props[colls.GEOMETRY_PROPERTY] = {"title": _("几何"), "format": f"geometry-{kind}" if kind else "geometry-any",
                                      "x-ogc-role": "primary-geometry"}
    props[schema.id_column] = {"title": "id", "type": schema.id_type, "x-ogc-role": "id"}
    for prop in schema.properties.values():
        entry: dict[str, Any] = {"title": prop.name, "type": prop.type}
        if prop.format:
            entry["format"] = prop.format
        if prop.name == schema.temporal:
            entry["x-ogc-role"] = "primary-instant"
        if prop.choices:  # a closed list: clients offer a drop-down (the /map/ edit form does)
            entry["enum"] = [value for value, _label in prop.choices]
            entry["x-enum-titles"] = [str(label) for _value, label in prop.choices]
        if prop.max_length:
            entry["maxLength"] = prop.max_length
        props[prop.name] = entry
    data = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": _url(request, f"/ogcapi/collections/{layer.name}/queryables"),
            "type": "object", "title": _title(layer), "properties": props, "additionalProperties": False}
    if _wants_html(request, params, ("json",)):
        rows = [(name, " ".join(filter(None, (spec.get("type"), spec.get("format"))))) for name, spec in props.items()]
        return render(request, "ogcapi/queryables.html", {"data": data, "rows": rows})
    return _json(data, SCHEMA_JSON)


# ------------------------------------------------------------------------------------------------ items


def _int(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < low:
        raise Problem(400, f"{name}: an integer ≥ {low}", name)
    number = int(value)
    if high is not None and number > high:
        raise Problem(400, f"{name}: at most {high}", name)
    return number


def _bbox(params: dict[str, str]) -> tuple[list[float], crs_module.Crs] | None:
    box_crs = crs_module.parse_crs(params.get("bbox-crs"), "bbox-crs")
    text = params.get("bbox")
    if text is None or text == "":
        if "bbox-crs" in params:
            raise Problem(400, "bbox-crs: given without bbox", "bbox-crs")
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise Problem(400, "bbox: four (or six) comma-separated numbers", "bbox") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise Problem(400, "bbox: four (or six) comma-separated numbers", "bbox")
    if values[0] > values[2] or values[1] > values[3]:
        raise Problem(400, "bbox: the lower corner must not exceed the upper corner", "bbox")
    return values, box_crs


def _instant(text: str) -> str | None:
    if text in ("..", ""):
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Problem(400, f"datetime: {text[:40]!r} is not an RFC 3339 date-time, a date or ..",
                      "datetime") from None
    if value.tzinfo is None:
        value = timezone.make_aware(value, dt.UTC)
    return value.isoformat()


def _datetime(params: dict[str, str], schema: colls.Schema) -> tuple[str | None, str | None] | None:
    text = params.get("datetime")
    if text is None:
        return None
    if schema.temporal is None:
        raise Problem(400, f"datetime: collection {schema.layer.name} has no temporal property", "datetime")
    if "/" in text:
        start_text, _sep, end_text = text.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if start is None and end is None:
            raise Problem(400, "datetime: an interval needs at least one end", "datetime")
        if start is not None and end is not None and start > end and len(start) == len(end):
            raise Problem(400, "datetime: the interval's start is after its end", "datetime")
        return start, end
    instant = _instant(text)
    if instant is None:
        raise Problem(400, "datetime: empty", "datetime")
    return instant, instant


def _items_query(params: dict[str, str], schema: colls.Schema, rows) -> items.ItemsQuery:
    allowed = set(ITEMS_PARAMS) | set(schema.properties) | {schema.id_column}
    _check_names(params, allowed)
    out = crs_module.parse_crs(params.get("crs"), "crs")
    limit = _int(params, "limit", limits.ogcapi_default_limit(), 1, None)
    limit = min(limit, limits.ogcapi_max_limit())  # clamped, as Part 1 allows (the next link says so)
    offset = _int(params, "offset", 0, 0, limits.ogcapi_max_offset())
    query = items.ItemsQuery(schema=schema, out_crs=out, rows=rows, bbox=_bbox(params),
                             datetime=_datetime(params, schema), limit=limit, offset=offset)
    query.equals = {k: v for k, v in params.items() if k not in ITEMS_PARAMS and k not in ALWAYS_PARAMS}
    text = params.get("filter")
    lang = params.get("filter-lang", "cql2-text")
    if lang not in cql.LANGS:
        raise Problem(400, f"filter-lang: one of {', '.join(cql.LANGS)}", "filter-lang")
    filter_crs = crs_module.parse_crs(params.get("filter-crs"), "filter-crs")
    if text is not None:
        if len(text) > limits.ogcapi_max_filter_chars():
            raise Problem(400, f"filter: longer than {limits.ogcapi_max_filter_chars()} characters", "filter")
        if not text.strip():
            raise Problem(400, "filter: empty", "filter")
        query.cql = cql.compile_filter(text, lang, schema, filter_crs)
    return query


def _page_links(request: HttpRequest, path: str, params: dict[str, str], query: items.ItemsQuery,
                returned: int, matched: int, html: bool) -> list[dict[str, str]]:
    base = {k: v for k, v in params.items() if k not in ("f", "token", "offset", "limit")}
    base["limit"] = str(query.limit)
    fmt = "html" if html else "json"
    links = [{"href": _url(request, path, {**base, "offset": str(query.offset), "f": fmt}), "rel": "self",
              "type": HTML if html else GEOJSON, "title": _("本页")},
             {"href": _url(request, path, {**base, "offset": str(query.offset), "f": "html" if not html else
                                           "json"}),
              "rel": "alternate", "type": GEOJSON if html else HTML, "title": _("本页")}]
    if query.offset + returned < matched:
        links.append({"href": _url(request, path, {**base, "offset": str(query.offset + query.limit), "f": fmt}),
                      "rel": "next", "type": HTML if html else GEOJSON, "title": _("下一页")})
    if query.offset > 0:
        links.append({"href": _url(request, path, {**base, "offset": str(max(0, query.offset - query.limit)),
                                                   "f": fmt}),
                      "rel": "prev", "type": HTML if html else GEOJSON, "title": _("上一页")})
    links.append({"href": _url(request, path.rsplit("/items", 1)[0]), "rel": "collection", "type": JSON,
                  "title": _("要素集合")})
    return links


def _content_crs(response: HttpResponse, out: crs_module.Crs) -> HttpResponse:
    response["Content-Crs"] = f"<{out.uri}>"
    return response


def _stamp() -> str:
    return timezone.now().astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@ogc_view(writes_by_method={"POST": writes.create})
def item_list(request: HttpRequest, user, params: dict[str, str], name: str) -> HttpResponse:
    layer = colls.collection_for(user, name)
    schema = colls.schema(layer)
    html = _wants_html(request, params, ("json", "geojson"))
    query = _items_query(params, schema, colls.rows_for(user, layer))
    body, returned = items.page(query)
    number_matched = items.matched(query)
    path = f"/ogcapi/collections/{layer.name}/items"
    links = _page_links(request, path, params, query, returned, number_matched, html)
    if html:
        features = json.loads(f"[{body}]")
        columns = list(schema.properties) if not schema.generic else sorted(
            {k for f in features for k in (f.get("properties") or {})})
        rows = [{"id": f["id"], "values": [(f.get("properties") or {}).get(c) for c in columns]} for f in features]
        return _content_crs(render(request, "ogcapi/items.html", {
            "layer": layer, "title": _title(layer), "columns": columns, "rows": rows, "links": links,
            "matched": number_matched, "returned": returned, "offset": query.offset,
            "next": next((link["href"] for link in links if link["rel"] == "next"), None),
            "prev": next((link["href"] for link in links if link["rel"] == "prev"), None)}), query.out_crs)
    head = json.dumps({"type": "FeatureCollection", "numberMatched": number_matched, "numberReturned": returned,
                       "timeStamp": _stamp(), "links": links}, ensure_ascii=False)
    text = head[:-1] + ', "features": [' + body + "]}"
    return _content_crs(HttpResponse(text, content_type=GEOJSON), query.out_crs)


@ogc_view(writes_by_method={"PUT": writes.replace, "PATCH": writes.update, "DELETE": writes.delete})
def item(request: HttpRequest, user, params: dict[str, str], name: str, feature_id: str) -> HttpResponse:
    layer = colls.collection_for(user, name)
    schema = colls.schema(layer)
    _check_names(params, ITEM_PARAMS)
    html = _wants_html(request, params, ("json", "geojson"))
    out = crs_module.parse_crs(params.get("crs"), "crs")
    text = items.one(schema, colls.rows_for(user, layer), feature_id, out)
    if text is None:
        raise Problem(404, f"no feature {feature_id[:60]!r} in {layer.name}")
    path = f"/ogcapi/collections/{layer.name}/items/{feature_id}"
    links = _alternates(request, path, _keep(params, "crs"), GEOJSON, html, _("要素"))
    links.append({"href": _url(request, f"/ogcapi/collections/{layer.name}"), "rel": "collection", "type": JSON,
                  "title": _title(layer)})
    if html:
        feature = json.loads(text)
        return _content_crs(render(request, "ogcapi/item.html", {
            "layer": layer, "title": _title(layer), "feature": feature,
            "properties": sorted((feature.get("properties") or {}).items()), "links": links,
            "geometry": json.dumps(feature.get("geometry"))[:2000]}), out)
    feature = json.loads(text)
    feature["links"] = links
    response = _content_crs(_json(feature, GEOJSON), out)
    if feature_id.isascii() and feature_id.isdigit() and writes.is_versioned(layer):
        # the version the feature's state dates from: what PUT/PATCH/DELETE send back as If-Match
        response["ETag"] = writes.etag(writes.feature_version(layer, int(feature_id)))
    return response
