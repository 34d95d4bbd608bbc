"""Token login (through django-axes, so failed attempts count and lock out), renewal and revocation.

Tokens expire (city_gis.security.tokens: CITYGIS_TOKEN_TTL_HOURS, sliding renewal on use).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.security.tokens import issue_token, revoke_tokens, rotate_token, token_expires

from .serializers import ErrorSerializer
from .throttles import TokenLoginThrottle


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


TokenResponse = inline_serializer(
    "TokenResponse",
    {
        "token": serializers.CharField(),
        "username": serializers.CharField(),
        "display_name": serializers.CharField(),
        "roles": serializers.ListField(child=serializers.CharField()),
        "department": serializers.CharField(allow_null=True),
        "expires": serializers.DateTimeField(allow_null=True),
    },
)


def _token_payload(token, user) -> dict:
    expires = token_expires(token)
    return {
        "token": token.key,
        "username": user.username,
        "display_name": user.label,
        "roles": list(user.roles),
        "department": user.department.code if user.department_id else None,
        # Additive field: when the token lapses unless used (each use after half its lifetime renews it).
        "expires": expires.isoformat() if expires else None,
    }


class TokenView(APIView):
    """POST username + password → token; DELETE revokes the caller's token."""

    throttle_classes = [TokenLoginThrottle]

    def get_authenticators(self):
        # Login must not fail on a stale token header; revocation needs the caller's credentials.
        # self.request is the Django request here (None while drf-spectacular builds a mock request).
        if getattr(self.request, "method", None) == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if getattr(self.request, "method", None) == "POST" else [IsAuthenticated()]

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={200: TokenResponse, 400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
        auth=[],
        summary=_("登录并获取令牌"),
    )
    def post(self, request):
        ser = TokenRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(request=django_request, **ser.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            # Answer the lockout ourselves in JSON; clear the flag so AxesMiddleware does not swap in its page.
            django_request.axes_locked_out = False
            hours = float(getattr(settings, "AXES_COOLOFF_TIME", 0) or 0)
            response = Response(
                {"detail": _("登录失败次数过多，账户已被暂时锁定，请 %(m)d 分钟后再试。") % {"m": round(hours * 60)}},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
            if hours:
                response["Retry-After"] = str(int(hours * 3600))
            return response
        if user is None or not user.is_active:
            return Response({"detail": _("用户名或密码错误。")}, status=status.HTTP_401_UNAUTHORIZED,
                            headers={"WWW-Authenticate": "Token"})
        return Response(_token_payload(issue_token(user), user))

    @extend_schema(operation_id="auth_token_destroy", request=None, responses={204: None, 401: ErrorSerializer},
                   summary=_("注销令牌"))
    def delete(self, request):
        revoke_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRefreshView(APIView):
    """POST with a valid token → a new key (the old one stops working); for apps that rotate periodically."""

    throttle_classes = [TokenLoginThrottle]

    @extend_schema(operation_id="auth_token_refresh", request=None,
                   responses={200: TokenResponse, 401: ErrorSerializer, 429: ErrorSerializer},
                   summary=_("更换令牌"))
    def post(self, request):
        return Response(_token_payload(rotate_token(request.user), request.user))
