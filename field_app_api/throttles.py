"""Scoped rate limits of the field API; rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] or env."""

from __future__ import annotations

import os

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

DEFAULT_RATES = {
    # Login attempts per client address (axes additionally locks a username+address after failures).
    "token": os.environ.get("CITYGIS_THROTTLE_TOKEN", "30/min"),
    # Reports per inspector: a phone flushing its offline queue sends bursts, so this is generous.
    "reports": os.environ.get("CITYGIS_THROTTLE_REPORTS", "600/min"),
    # Open311 writes per API key / address.
    "open311_post": os.environ.get("CITYGIS_THROTTLE_OPEN311_POST", "60/min"),
}


class _ConfiguredRate(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope) or DEFAULT_RATES[self.scope]


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


__all__ = ["AnonRateThrottle", "Open311PostThrottle", "ReportThrottle", "TokenLoginThrottle"]
