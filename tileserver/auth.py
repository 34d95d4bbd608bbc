"""Who is asking (session, HTTP Basic or a personal DRF token) and which layers they may get.

The decision is made by layers.access (role + department); MapProxy applies it through its
`mapproxy.authorize` hook: forbidden layers vanish from capabilities, and explicit requests for them are
refused — 401 with a Basic challenge for anonymous clients, 403 for authenticated ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from layers.access import visible_layers
from layers.models import Classification, Layer, Theme

from .mapproxy_conf import BASEMAP
from .params import parse_ogc_query

ROOT_LAYER = "citygis"
# Group layers (the root and one per theme) are always listed; MapProxy filters their children.
ALWAYS_ALLOWED = frozenset({ROOT_LAYER, *Theme.values})
PERMISSIONS = {"map": True, "featureinfo": True, "legendgraphic": True, "tile": True}
_CACHE_SECONDS = 30
_readable_cache: dict[Any, tuple[float, frozenset[str]]] = {}
_basic_cache: dict[str, tuple[float, Any]] = {}


class AuthenticationFailed(Exception):
    """Credentials were given but are wrong (answered 401, never silently treated as anonymous)."""


def _token_user(key: str):
    """The user of an API token, by the one expiry rule of city_gis.security.tokens."""
    from rest_framework.exceptions import AuthenticationFailed as DRFAuthenticationFailed

    from city_gis.security.tokens import token_user

    try:
        return token_user(key)
    except DRFAuthenticationFailed as exc:
        raise AuthenticationFailed(str(exc.detail)) from None


def request_user(request: HttpRequest):
    """The user behind an OGC request: `Authorization: Basic|Token`, `?token=`, else the session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        # Password hashing costs ~0.1–0.5 s; desktop GIS sends Basic with every tile, so a verified header is
        # remembered briefly (keyed by its keyed hash, never the password itself).
        digest = hmac.new(settings.SECRET_KEY.encode(), header.encode(), hashlib.sha256).hexdigest()
        hit = _basic_cache.get(digest)
        if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
            user = get_user_model().objects.filter(pk=hit[1], is_active=True).first()
            if user is not None:
                return user
        try:
            username, _, password = base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("malformed Basic credentials") from None
        user = authenticate(request, username=username, password=password)
        if user is None or not user.is_active:
            raise AuthenticationFailed("wrong username or password")
        if len(_basic_cache) > 1000:
            _basic_cache.clear()
        _basic_cache[digest] = (time.monotonic(), user.pk)
        return user
    if scheme.lower() in ("token", "bearer"):
        return _token_user(credentials.strip())
    for key, value in request.GET.items():
        if key.lower() == "token":
            return _token_user(value.strip())
    return getattr(request, "user", None) or AnonymousUser()


def registry_version() -> float:
    """Changes whenever the configuration is regenerated (i.e. on every registry change)."""
    from .service import current_yaml_mtime

    return current_yaml_mtime()


def readable_layer_names(user) -> frozenset[str]:
    """Names of the layers `user` may read (cached briefly per user and registry version)."""
    key = (user.pk if user is not None and user.is_authenticated else None, registry_version())
    hit = _readable_cache.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    names = set(visible_layers(user).values_list("name", flat=True))
    # The composite base map is drawn from public base layers only (see mapproxy_conf.py).
    names.add(BASEMAP)
    result = frozenset(names)
    if len(_readable_cache) > 1000:
        _readable_cache.clear()
    _readable_cache[key] = (now, result)
    return result


def public_layer_names() -> frozenset[str]:
    return frozenset(Layer.objects.filter(classification=Classification.PUBLIC).values_list("name", flat=True))


def _explicit_layers(service: str, layers: list[str], environ: dict[str, Any], query_extent) -> list[str]:
    """Layers the client named itself (as opposed to capabilities listings and group expansion)."""
    if service in ("tms", "wmts", "wmts.featureinfo"):
        return list(layers) if query_extent is not None else []
    # The parse views.serve_ogc checked (duplicates refused), else the same parser on the same string.
    params = environ.get("citygis.params")
    if params is None:
        params = parse_ogc_query(environ.get("QUERY_STRING", ""))
    key = "query_layers" if service == "wms.featureinfo" else "layers"
    return [n for n in params.get(key, "").split(",") if n]


def make_authorize(user) -> Callable[..., dict[str, Any]]:
    """The `mapproxy.authorize` callback for one request."""
    readable = readable_layer_names(user)
    anonymous = user is None or not user.is_authenticated

    permitted = {n: PERMISSIONS for n in readable | ALWAYS_ALLOWED}

    def allowed(name: str) -> bool:
        return name in permitted

    def authorize(service: str, layers: list[str] | None = None, environ=None, query_extent=None, **_kw):
        layers = list(layers or [])
        forbidden = [n for n in _explicit_layers(service, layers, environ or {}, query_extent) if not allowed(n)]
        if forbidden and anonymous:
            return {"authorized": "unauthenticated"}
        # Every permitted name, not just `layers`: tile services pass internal keys there but look up names.
        return {"authorized": "partial", "layers": permitted}

    return authorize
