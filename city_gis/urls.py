"""Root URL configuration: every app contributes its own urls module (see DESIGN.md for the stable paths)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from city_gis.health import healthz, readyz
from city_gis.metrics import metrics_view
from field_app_api.auth import TokenRefreshView

# A lost database answers 503 + Retry-After even when the error is raised inside middleware.
handler500 = "city_gis.security.middleware.server_error"
# Unmatched /api/ and /open311/ paths answer in the API's error format (JSON / Open311); pages keep Django's.
handler404 = "city_gis.api_errors.page_not_found"
handler400 = "city_gis.api_errors.bad_request"

urlpatterns = [
    # Load balancer and scraper endpoints (anonymous, never throttled, no-store; /metrics to CITYGIS_METRICS_ALLOWED).
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/token/refresh/", TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("api/v1/", include("layers.urls")),
    path("api/v1/", include("city_gis.grid.urls")),
    path("api/v1/", include("city_gis.cases.urls")),
    path("api/v1/", include("city_gis.evaluation.urls")),
    path("api/v1/", include("city_gis.hazards.urls")),
    path("api/v1/", include("city_gis.review.urls")),
    path("api/v1/", include("field_app_api.urls")),
    path("open311/v2/", include("field_app_api.open311_urls")),
    path("", include("tileserver.urls")),
    path("", include("frontend.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
