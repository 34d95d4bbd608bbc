"""Rate limits of the API; rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] or env.

Every class here identifies anonymous clients by city_gis.security.clientip.client_ip, which believes
X-Forwarded-For only from CITYGIS_TRUSTED_PROXIES (DRF's own get_ident trusts the header blindly).
Counters live in the default cache, which is Redis (shared by all gunicorn workers) when REDIS_URL is set.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle as _DRFAnonRateThrottle
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.throttling import UserRateThrottle as _DRFUserRateThrottle

from city_gis.security.clientip import client_ip


class ClientIPMixin:
    """get_ident by the trusted-proxy rule (one rule for DRF, axes, Open311 and OGC)."""

    def get_ident(self, request) -> str:
        return client_ip(request)


class _LiveRate:
    """Read the rate when the throttle is built (DRF binds THROTTLE_RATES once, at import)."""

    scope: str

    def get_rate(self) -> str | None:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope)  # every scope's rate is in city_gis/settings.py


class AnonRateThrottle(ClientIPMixin, _LiveRate, _DRFAnonRateThrottle):
    """DRF's anonymous throttle keyed on the trusted client address."""


class UserRateThrottle(ClientIPMixin, _LiveRate, _DRFUserRateThrottle):
    """DRF's per-user throttle (anonymous requests fall back to the trusted client address)."""


class _ConfiguredRate(ClientIPMixin, _LiveRate, SimpleRateThrottle):
    """Base of the scoped limits below."""


class TokenLoginThrottle(_ConfiguredRate):
    """Token requests per client address, authenticated or not."""

    scope = "token"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ReportThrottle(_ConfiguredRate):
    """Report submissions per user."""

    scope = "reports"

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "POST":
            return None
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class Open311PostThrottle(_ConfiguredRate):
    """Open311 service-request submissions per client address."""

    scope = "open311_post"

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


__all__ = ["AnonRateThrottle", "ClientIPMixin", "Open311PostThrottle", "ReportThrottle", "TokenLoginThrottle",
           "UserRateThrottle"]
