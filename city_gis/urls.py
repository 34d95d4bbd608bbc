"""Root URL configuration: every app contributes its own urls module (see DESIGN.md for the stable paths)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("layers.urls")),
    path("api/v1/", include("city_gis.grid.urls")),
    path("api/v1/", include("city_gis.cases.urls")),
    path("api/v1/", include("city_gis.evaluation.urls")),
    path("api/v1/", include("field_app_api.urls")),
    path("open311/v2/", include("field_app_api.open311_urls")),
    path("", include("tileserver.urls")),
    path("", include("frontend.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
