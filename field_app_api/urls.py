"""Field app API routes under /api/v1/ (mounted by city_gis/urls.py)."""

from django.urls import path

from . import auth

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
]
