"""Expiring API tokens: one rule (:func:`authenticate_token`) for DRF and the OGC endpoints.

A token lives CITYGIS_TOKEN_TTL_HOURS (default 7 days) after it was issued or last renewed. Expiry slides:
a token used after half its lifetime is renewed in place (same key), so a phone used weekly stays logged
in, while a lost phone's token dies within the lifetime. ``POST /api/v1/auth/token/refresh/`` rotates the
key; ``DELETE /api/v1/auth/token/`` and any password change revoke it. ``Token.created`` holds the
issue/renewal time, so no schema change is needed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_ttl() -> timedelta | None:
    """The configured lifetime; None when CITYGIS_TOKEN_TTL_HOURS is 0 (never expire)."""
    hours = float(getattr(settings, "CITYGIS_TOKEN_TTL_HOURS", 7 * 24) or 0)
    return timedelta(hours=hours) if hours > 0 else None


def token_expires(token: Token) -> datetime | None:
    """When `token` expires unless used (or renewed) before."""
    ttl = token_ttl()
    return token.created + ttl if ttl else None


def _renew_if_half_used(token: Token, now: datetime, ttl: timedelta) -> None:
    # Renew at most once per half lifetime: one UPDATE per token per ~3.5 days, not per request.
    if now - token.created > ttl / 2:
        Token.objects.filter(pk=token.pk).update(created=now)
        token.created = now


def authenticate_token(key: str) -> Token:
    """The valid token with `key` (renewed when due); AuthenticationFailed when unknown, expired or inactive."""
    try:
        token = Token.objects.select_related("user").get(key=key)
    except (Token.DoesNotExist, ValueError):
        raise AuthenticationFailed(_("令牌无效。")) from None
    if not token.user.is_active:
        raise AuthenticationFailed(_("用户已停用或已删除。"))
    ttl = token_ttl()
    if ttl:
        now = timezone.now()
        if now - token.created >= ttl:
            token.delete()
            raise AuthenticationFailed(_("令牌已过期，请重新登录。"))
        _renew_if_half_used(token, now, ttl)
    return token


def token_user(key: str) -> Any:
    """The user behind a valid token key (see :func:`authenticate_token`)."""
    return authenticate_token(key).user


def issue_token(user: Any) -> Token:
    """The user's token for a fresh login: the existing one renewed, or a new one if none or expired."""
    token = Token.objects.filter(user=user).first()
    ttl = token_ttl()
    now = timezone.now()
    if token is not None and ttl and now - token.created >= ttl:
        token.delete()
        token = None
    if token is None:
        return Token.objects.create(user=user)
    if ttl:
        Token.objects.filter(pk=token.pk).update(created=now)
        token.created = now
    return token


def rotate_token(user: Any) -> Token:
    """Replace the user's token by a new key (the old key stops working at once)."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def revoke_tokens(user: Any) -> int:
    """Delete the user's API tokens (logout, password change); returns how many."""
    deleted, _by_model = Token.objects.filter(user=user).delete()
    return deleted


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF `Authorization: Token <key>` with the expiry rule above."""

    def authenticate_credentials(self, key: str):
        token = authenticate_token(key)
        return (token.user, token)


__all__ = [
    "ExpiringTokenAuthentication", "authenticate_token", "issue_token", "revoke_tokens", "rotate_token",
    "token_expires", "token_ttl", "token_user",
]
