"""The cache-hit path of the tile services: a tile MapProxy already stored costs a file read (or, behind nginx,
an `X-Accel-Redirect`) after the authorisation decision — never the MapProxy stack (issue 15).

views._serve authorises (layers.access through auth.readable_layer_names), counts the rate (limits.throttle)
and checks coverage first; serve_hit() then answers from the store MapProxy writes, as MapProxy would answer:
the bytes, PNG, its ETag (MD5 of mtime and size), Last-Modified, its public max-age, 304 to a matching
If-None-Match / If-Modified-Since. None means "not a hit": MapProxy answers (and renders a miss) unchanged.

`CITYGIS_TILE_ACCEL_REDIRECT` (settings; off by default) is the prefix of an nginx `internal;` location aliased to
the tile cache directory (docs/deployment.md). Set, a hit on the file cache answers an empty 200 with
`X-Accel-Redirect: <prefix><layer>/<grid>/<z>/<x>/<y>.png` and our headers; nginx sends the file (its own ETag and
Last-Modified from the file, and the 304s). The path is built only from validated parts: a registry layer name
(layers LAYER_NAME_RE), a configured grid and integers — no client text reaches the file system or nginx.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from mapproxy.util.times import format_httpdate, parse_httpdate

from layers.models.registry import LAYER_NAME_RE

from . import coverage, tilestore
from .auth import request_user
from .mapproxy_conf import BASEMAP, GRIDS, cache_name
from .paths import config_paths

CONTENT_TYPE = "image/png"  # stored_tile() admits PNG caches only
_PREFIX = re.compile(r"[A-Za-z0-9_./-]+")


def accel_prefix() -> str:
    """The nginx internal location hits are redirected to ('' = the app sends the file itself)."""
    return _checked_prefix(settings.CITYGIS_TILE_ACCEL_REDIRECT or "")


@lru_cache(maxsize=4)
def _checked_prefix(prefix: str) -> str:
    if prefix and not (prefix.startswith("/") and prefix.endswith("/") and _PREFIX.fullmatch(prefix)):
        raise ImproperlyConfigured(f"CITYGIS_TILE_ACCEL_REDIRECT must be a location path like /_citygis_tilecache/, "
                                   f"not {prefix!r}")
    return prefix


def is_tile_path(path: str, params: dict[str, str]) -> bool:
    """A request that may be a cached tile (XYZ, TMS, WMTS REST or KVP GetTile): cheap, before any parsing."""
    if path.startswith(("/tiles/", "/tms/", "/wmts/")):
        return True
    return path == "/service" and params.get("request", "").lower() == "gettile"


# Seconds a verified credential stands for its user on the tile paths: a map page (or QGIS) asks ~20 tiles at
# once with the same token, Basic header or session, and resolving it costs a database round trip per tile.
# Revoking a token or deactivating a user takes effect on tiles within this time (access itself: auth's 30 s).
USER_SECONDS = 5.0
_users: dict[str, tuple[float, object]] = {}


def tile_user(request: HttpRequest, params: dict[str, str]):
    """auth.request_user (the one rule: header, ?token=, session), remembered USER_SECONDS per credential.

    The key is a keyed hash of *every* input request_user may read — Authorization, the token parameter and the
    session cookie together — so no request is ever answered for a user its own credentials would not give.
    Failures are never remembered (AuthenticationFailed propagates); nor are anonymous answers (free anyway)."""
    meta = request.META
    authorization = meta.get("HTTP_AUTHORIZATION", "")
    token = params.get("token", "")
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "") if "HTTP_COOKIE" in meta else ""
    if not (authorization or token or session):
        return request_user(request)
    credential = "\0".join((authorization, token, session)).encode("utf-8", "surrogateescape")
    digest = hmac.new(settings.SECRET_KEY.encode(), credential, hashlib.sha256).hexdigest()
    now = time.monotonic()
    hit = _users.get(digest)
    if hit is not None and now - hit[0] < USER_SECONDS:
        return hit[1]
    user = request_user(request)
    if user is not None and user.is_authenticated:  # evaluates a session's lazy user
        user = getattr(user, "_wrapped", user)  # the user itself, not the request's lazy proxy
        if len(_users) > 4096:
            _users.clear()
        _users[digest] = (now, user)
    return user


def relative_path(tile: coverage.TileRequest) -> str | None:
    """`<cache>/<grid>/<z>/<x>/<y>.png` of the tile in MapProxy's file cache (tms layout, grid names, y from the
    north: the layout of cache.py), or None when a part is not one the configuration can hold."""
    name = cache_name(tile.layer)
    if not (name == BASEMAP or LAYER_NAME_RE.fullmatch(name)) or tile.grid not in GRIDS:
        return None
    if not all(type(v) is int and v >= 0 for v in (tile.z, tile.x, tile.y)):
        return None
    return f"{name}/{tile.grid}/{tile.z}/{tile.x}/{tile.y}.png"


@lru_cache(maxsize=4096)
def _validators(mtime: float, size: int) -> tuple[str, str]:
    """(ETag, Last-Modified) MapProxy sends for a file of this mtime and size (mapproxy.image.tile)."""
    etag = hashlib.md5(f"{mtime}{size}".encode("ascii"), usedforsecurity=False).hexdigest()
    return etag, format_httpdate(mtime)


def _not_modified(request: HttpRequest, etag: str, mtime: float | None) -> bool:
    if request.META.get("HTTP_IF_NONE_MATCH") == etag:
        return True
    since_header = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if not since_header or mtime is None:
        return False
    try:
        since = parse_httpdate(since_header)
    except (ValueError, OverflowError):  # a date beyond what Python represents: no condition
        return False
    # HTTP dates have whole seconds: compare the mtime at that precision (MapProxy compares the float, so its
    # own Last-Modified echoed back rarely matches).
    return since is not None and int(mtime) <= since


def _answer(request: HttpRequest, body: bytes, etag: str, max_age: int, mtime: float | None = None,
            last_modified: str | None = None) -> HttpResponse:
    if _not_modified(request, etag, mtime):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    else:
        response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = last_modified
    response["Cache-Control"] = f"public, max-age={max_age}, s-maxage={max_age}"
    return response


def serve_hit(request: HttpRequest, tile: coverage.TileRequest) -> HttpResponse | None:
    """The stored tile's answer, or None (MapProxy answers) on a miss or when MapProxy does not serve this
    tile from a stored file. The caller has authorised the layer and checked the rate and the coverage."""
    stored = coverage.stored_tile(tile)
    if stored is None:
        return None
    max_age = stored[1]
    if tilestore.is_shared():
        return _shared_hit(request, tile, max_age)
    relative = relative_path(tile)
    if relative is None:
        return None
    path = f"{config_paths().cache_dir}/{relative}"
    prefix = accel_prefix()
    if prefix:
        return _accel_hit(path, prefix + relative, max_age)
    try:
        with open(path, "rb") as file:  # MapProxy writes tiles atomically (rename): never a partial file
            stat = os.fstat(file.fileno())
            body = file.read()
    except OSError:  # a miss, or an invalidation removed it just now: MapProxy renders it
        return None
    etag, last_modified = _validators(stat.st_mtime, stat.st_size)
    return _answer(request, body, etag, max_age, stat.st_mtime, last_modified)


def _accel_hit(path: str, location: str, max_age: int) -> HttpResponse | None:
    """Hand the file to nginx: an empty 200 naming it. One stat decides hit or miss (a miss renders); nginx sets
    Content-Length, ETag and Last-Modified from the file and answers conditional requests itself."""
    try:
        os.stat(path)
    except OSError:
        return None
    response = HttpResponse(content_type=CONTENT_TYPE)
    response["X-Accel-Redirect"] = location
    response["Cache-Control"] = f"public, max-age={max_age}, s-maxage={max_age}"
    return response


def _shared_hit(request: HttpRequest, tile: coverage.TileRequest, max_age: int) -> HttpResponse | None:
    """A tile in the shared Redis tile cache (tilestore.py), rendered by any node. Redis keeps no mtime: the
    validator is the content's MD5 (ETag only, no Last-Modified); no file, so never an X-Accel-Redirect."""
    body = tilestore.read_shared(cache_name(tile.layer), tile.grid, tile.z, tile.x, tile.y)
    if body is None:
        return None
    return _answer(request, body, hashlib.md5(body, usedforsecurity=False).hexdigest(), max_age)


def nginx_accel_location(prefix: str, cache_dir: str) -> str:
    """The nginx `location` answering our X-Accel-Redirects (docs/deployment.md; the bench and scripts/cluster.sh
    use the same block): `internal;` so no client can name it, aliased to the tile cache directory, with the
    headers our answer carried that nginx does not copy on a redirect (it copies Cache-Control itself)."""
    prefix = _checked_prefix(prefix)
    headers = ("Vary", "X-Content-Type-Options", "X-Frame-Options", "Access-Control-Allow-Origin")
    lines = [f"location {prefix} {{", "    internal;", f"    alias {cache_dir.rstrip('/')}/;",
             "    types { image/png png; }"]
    lines += [f"    add_header {h} $upstream_http_{h.lower().replace('-', '_')};" for h in headers]
    return "\n".join(lines + ["}"]) + "\n"

