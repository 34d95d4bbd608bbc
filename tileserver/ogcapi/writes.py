"""OGC API – Features Part 4 (create, replace, update, delete) on /ogcapi/collections/{layer}/items[/{id}].

Every write is one edit session of layers.versions.apply_edits — its validation (geometry valid and of the
layer's type, attributes against the typed model or the generic attribute names), its version, feature history
and tile invalidation (refresh_stats → layer_changed) — so this module only translates HTTP:

- who: `Authorization: Token|Bearer` or the session with Django's CSRF token. HTTP Basic (and `?token=`) never
  authenticate a write: a browser replays cached Basic credentials to any page that asks (docs/security.md,
  class 5). Anonymous: 401; a user who may read but not write the collection (layers.access.can_write): 403.
- concurrency: `ETag` of an item is the version its current state dates from; PUT/PATCH/DELETE need
  `If-Match` (428 without), a stale one is 412 with the current ETag, nothing written.
- what: a GeoJSON Feature (application/geo+json or json; PATCH also merge-patch+json) of at most
  CITYGIS_API_BODY_MAX_BYTES (413), geometry inside the city's extent, properties the collection knows.
  Errors are problem+json naming the member (`geometry`, `properties.landuse_code`).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from city_gis.api_parsers import max_body_bytes
from layers.access import can_write
from layers.models import FeatureHistory, Layer, LayerVersion
from layers.versions import (
    MAX_COMMENT,
    EditConflict,
    VersionError,
    apply_edits,
    current_versions,
    is_versioned,
)
from tileserver import limits
from tileserver.auth import AuthenticationFailed, request_user

from . import collections as colls
from . import crs as crs_module
from . import items
from .problems import Problem

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = (*BODY_TYPES, "application/merge-patch+json")
WRITE_PARAMS = frozenset({"comment"})
TOKEN_CHALLENGE = 'Token realm="CityGIS OGC API writes"'


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason  # the reason, answered as problem+json by the caller


def write_user(request: HttpRequest, *, allow_basic: bool = False):
    """The writer: a token in the Authorization header, or the session with a valid CSRF token. 401 for
    anonymous requests, Basic credentials and query-string tokens; 403 when the session's CSRF check fails.

    `allow_basic`: HTTP Basic authenticates too — for WFS-T only, whose body must be XML. A browser may answer
    with cached Basic credentials, but a page on another site cannot POST text/xml to us without a CORS
    preflight, which we never grant: the XML media type is the CSRF defence there (QGIS 3.22 sends Basic from its
    authentication database and can set no Token header on a WFS connection)."""
    scheme = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[0].lower()
    if scheme == "basic" and not allow_basic:
        raise Problem(401, "HTTP Basic does not authenticate writes; send Authorization: Token <key> "
                           "or use the signed-in session with its CSRF token")
    if scheme not in ("token", "bearer") and any(k.lower() == "token" for k in request.GET):
        raise Problem(401, "a token in the query string does not authenticate writes; send it in the "
                           "Authorization header", "token")
    try:
        user = request_user(request)
    except AuthenticationFailed as exc:
        raise Problem(401, str(exc)) from None
    if user is None or not user.is_authenticated:
        raise Problem(401, "writes need an Authorization: Token header or a signed-in session")
    if scheme not in ("token", "bearer", "basic"):  # the session: a cookie any site can make the browser send
        check = _CsrfCheck(lambda r: HttpResponse())
        check.process_request(request)
        reason = check.process_view(request, lambda r: None, (), {})
        if reason is not None:
            raise Problem(403, f"CSRF check failed: {reason}", "X-CSRFToken")
    return user


def writable_collection(user, name: str) -> Layer:
    """The collection `name` if `user` may write it: 404/401/403 as for reading, then 403 (not a steward of the
    owner department) or 405 (a collection without versioned features, e.g. a database view)."""
    layer = colls.collection_for(user, name)
    if not can_write(user, layer):
        raise Problem(403, f"collection {layer.name} is maintained by {layer.owner.code}; you may not write it")
    if not is_versioned(layer):
        raise Problem(405, f"collection {layer.name} is read-only")
    return layer


# ------------------------------------------------------------------------------------------------ ETag


def feature_version(layer: Layer, feature_id: int) -> int:
    """The version the feature's current state dates from; 0 while the layer has no version at all (its first
    write makes version 1 "baseline" holding every feature as it is)."""
    return current_versions(layer, [feature_id]).get(feature_id, 0)


def etag(version: int) -> str:
    return f'"{version}"'


def _expected(request: HttpRequest, feature_id: int, current: int) -> dict[int, int]:
    """expected_versions for apply_edits from If-Match: 428 without one, 412 when none of its tags is `current`
    (the version the feature's state dates from now)."""
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    if not header:
        raise Problem(428, "If-Match is required: send the ETag of the feature you edited", "If-Match")
    tags = [t.strip() for t in header.split(",")]
    if "*" not in tags and etag(current) not in tags:  # strong comparison: W/"…" never matches
        raise Problem(412, f"feature {feature_id} changed: it is at version {current}", "If-Match",
                      headers={"ETag": etag(current)})
    # "0": the feature predates versioning; apply_edits' baseline then gives it version 1
    return {feature_id: current or 1}


# ------------------------------------------------------------------------------------------------ bodies


def _body(request: HttpRequest, types: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of the request body: 415 wrong type, 413 too large, 400 not a JSON object."""
    media = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if media not in types:
        raise Problem(415, f"Content-Type: one of {', '.join(types)}", "Content-Type")
    limit = max_body_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Problem(400, "Content-Length: not a number", "Content-Length") from None
    if length > limit:
        raise Problem(413, f"the body is larger than {limit} bytes")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise Problem(413, f"the body is larger than {limit} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "the body is not JSON (UTF-8)", "body") from None
    if not isinstance(data, dict):
        raise Problem(400, "the body must be a GeoJSON Feature object", "body")
    return data


def feature_edit(data: dict[str, Any], schema: colls.Schema, feature_id: int | None, partial: bool) -> dict[str, Any]:
    """An edit (without op) from a GeoJSON Feature: {"geometry"?, "properties"?}, checked for what apply_edits
    does not know (the city's extent, the ids, a generic collection's attribute names)."""
    if data.get("type", "Feature") != "Feature" or (not partial and data.get("type") != "Feature"):
        raise Problem(400, "type: must be Feature", "type")
    unknown = set(data) - {"type", "id", "geometry", "properties", "links", "bbox"}
    if unknown:
        name = sorted(unknown)[0][:40]
        raise Problem(400, f"{name}: not a member of a GeoJSON Feature", name)
    if "id" in data and data["id"] is not None and (feature_id is None or str(data["id"]) != str(feature_id)):
        raise Problem(400, "id: the server assigns ids; an id in the body must be the item's own", "id")
    edit: dict[str, Any] = {}
    if "geometry" in data or not partial:
        geometry = data.get("geometry")
        if not isinstance(geometry, dict):
            raise Problem(400, "geometry: a GeoJSON geometry object is required", "geometry")
        edit["geometry"] = geometry  # inside the city: layers.versions checks the districts' outline
    if "properties" in data or not partial:
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            raise Problem(400, "properties: must be an object", "properties")
        props = dict(props)
        if schema.id_column in props and not schema.generic:  # GET's copy of the key, sent back
            if feature_id is None or str(props.pop(schema.id_column)) != str(feature_id):
                raise Problem(400, f"properties.{schema.id_column}: the server assigns ids",
                              f"properties.{schema.id_column}")
        if schema.generic and schema.properties:  # a generic collection's attributes are its keys
            for key in props:
                if key not in schema.properties:
                    raise Problem(400, f"properties.{str(key)[:40]}: unknown attribute of {schema.layer.name} "
                                       f"(it has {', '.join(sorted(schema.properties))[:200]})",
                                  f"properties.{str(key)[:40]}")
        edit["properties"] = props
    return edit


def _apply(layer: Layer, user, edit: dict[str, Any], comment: str,
           expected: dict[int, int] | None) -> LayerVersion:
    """apply_edits with its errors as problems: 403, 412 (EditConflict), 404 (unknown id), 400 naming the member."""
    try:
        return apply_edits(layer, user, [edit], comment, expected)
    except PermissionError as exc:
        raise Problem(403, str(exc)) from None
    except EditConflict as exc:
        if exc.current is None:  # no current state: the feature does not exist (any more)
            raise Problem(404, f"no feature {exc.feature_id} in {layer.name}") from None
        raise Problem(412, str(exc), "If-Match", headers={"ETag": etag(exc.current or 0)}) from None
    except VersionError as exc:
        member = exc.field.removeprefix("edits[0]").lstrip(".") or "body"
        if member == "id":
            raise Problem(404, str(exc)) from None
        raise Problem(400, f"{member}: {exc}", member) from None


def _comment(params: dict[str, str], default: str) -> str:
    text = params.get("comment", "").strip()
    if len(text) > MAX_COMMENT:
        raise Problem(400, f"comment: at most {MAX_COMMENT} characters", "comment")
    return text or default


def _feature_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Problem(404, f"no feature {text[:60]!r}")
    return int(text)


def _existing(user, layer: Layer, schema: colls.Schema, feature_id: str) -> tuple[int, int]:
    """(feature id, the version its state dates from) of an existing feature the user sees, else 404.

    A feature with an open state in the history exists (layers.versions keeps the two together; apply_edits
    answers 404 for one that vanished meanwhile); the table is read only without one (a layer not versioned
    yet) or when a row filter may hide the feature from this user."""
    fid = _feature_id(feature_id)
    current = feature_version(layer, fid)
    rows = colls.rows_for(user, layer)
    if (current == 0 or rows is not None) and items.one(schema, rows, str(fid), crs_module.CRS84) is None:
        raise Problem(404, f"no feature {feature_id[:60]!r} in {layer.name}")
    return fid, current


def _target(request: HttpRequest, user, layer: Layer, schema: colls.Schema, feature_id: str) -> tuple[int, dict[int, int]]:
    """(feature id, expected_versions) of a PUT/PATCH/DELETE: 404 no such feature, 428 no If-Match, 412 stale.

    The usual If-Match of an editing client, one strong tag, is checked by apply_edits under the layer's lock
    (EditConflict: 412, or 404 when the feature has no current state), saving a read; anything else (`*`, a list,
    "0", a row-filtered reader) is checked here first."""
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    tag = header[1:-1] if len(header) > 2 and header[0] == header[-1] == '"' else ""
    if tag.isascii() and tag.isdigit() and 0 < int(tag) < 2 ** 31 and colls.rows_for(user, layer) is None:
        fid = _feature_id(feature_id)
        return fid, {fid: int(tag)}
    fid, current = _existing(user, layer, schema, feature_id)
    return fid, _expected(request, fid, current)


def _answer(layer: Layer, user, schema: colls.Schema, fid: int, status: int, version: int) -> HttpResponse:
    """The feature as it is now, with its ETag `version` (the version its state dates from)."""
    text = items.one(schema, colls.rows_for(user, layer), str(fid), crs_module.CRS84) or "{}"
    response = HttpResponse(text, status=status, content_type="application/geo+json")
    response["ETag"] = etag(version)
    response["Content-Crs"] = f"<{crs_module.CRS84.uri}>"
    return response


def _state_version(version: LayerVersion, before: int) -> int:
    """The version an updated feature's state dates from: the edit's, unless the edit changed nothing in it."""
    return version.number if version.rows_changed or version.rows_added else before


def _check_params(params: dict[str, str]) -> None:
    for name in params:
        if name not in WRITE_PARAMS:
            raise Problem(400, f"unknown parameter {name[:60]!r}; writes take comment", name[:60])


# ------------------------------------------------------------------------------------------------ handlers


def create(request: HttpRequest, user, params: dict[str, str], name: str) -> HttpResponse:
    """POST /items: 201, Location and ETag of the new feature (its body in CRS84)."""
    _check_params(params)
    layer = writable_collection(user, name)
    schema = colls.schema(layer)
    edit = feature_edit(_body(request, BODY_TYPES), schema, None, partial=False)
    version = _apply(layer, user, {"op": "insert", **edit}, _comment(params, _("OGC API 新增要素")), None)
    fid = (FeatureHistory.objects.filter(layer=layer, valid_from=version.number, valid_to__isnull=True)
           .order_by("-feature_id").values_list("feature_id", flat=True).first())
    response = _answer(layer, user, schema, fid, 201, version.number)
    response["Location"] = request.build_absolute_uri(f"/ogcapi/collections/{layer.name}/items/{fid}")
    return response


def replace(request: HttpRequest, user, params: dict[str, str], name: str, feature_id: str) -> HttpResponse:
    """PUT /items/{id}: the feature becomes the body (properties not given return to their defaults)."""
    _check_params(params)
    layer = writable_collection(user, name)
    schema = colls.schema(layer)
    fid, expected = _target(request, user, layer, schema, feature_id)
    edit = feature_edit(_body(request, BODY_TYPES), schema, fid, partial=False)
    version = _apply(layer, user, {"op": "update", "id": fid, "replace": True, **edit},
                     _comment(params, _("OGC API 替换要素 %(id)s") % {"id": fid}), expected)
    return _answer(layer, user, schema, fid, 200, _state_version(version, expected[fid]))


def update(request: HttpRequest, user, params: dict[str, str], name: str, feature_id: str) -> HttpResponse:
    """PATCH /items/{id}: the members given change (JSON merge patch: properties merge, geometry replaces)."""
    _check_params(params)
    layer = writable_collection(user, name)
    schema = colls.schema(layer)
    fid, expected = _target(request, user, layer, schema, feature_id)
    edit = feature_edit(_body(request, PATCH_TYPES), schema, fid, partial=True)
    if not edit:
        raise Problem(400, "body: give geometry and/or properties", "body")
    version = _apply(layer, user, {"op": "update", "id": fid, **edit},
                     _comment(params, _("OGC API 修改要素 %(id)s") % {"id": fid}), expected)
    return _answer(layer, user, schema, fid, 200, _state_version(version, expected[fid]))


def delete(request: HttpRequest, user, params: dict[str, str], name: str, feature_id: str) -> HttpResponse:
    """DELETE /items/{id}: 204."""
    _check_params(params)
    layer = writable_collection(user, name)
    schema = colls.schema(layer)
    fid, expected = _target(request, user, layer, schema, feature_id)
    _apply(layer, user, {"op": "delete", "id": fid}, _comment(params, _("OGC API 删除要素 %(id)s") % {"id": fid}),
           expected)
    return HttpResponse(status=204)


def handle(request: HttpRequest, params: dict[str, str], handler, **kwargs: Any) -> tuple[HttpResponse, Any]:
    """Authenticate the writer, count the request against its rate, run `handler`; (response, user)."""
    try:
        user = write_user(request)
    except Problem as problem:
        if problem.status == 401:  # never the Basic challenge: a browser would answer it with cached passwords
            problem.headers["WWW-Authenticate"] = TOKEN_CHALLENGE
        raise
    retry = limits.throttle(request, user)
    if retry is not None:
        raise Problem(429, "too many requests; slow down", retry_after=retry)
    return handler(request, user, params, **kwargs), user
