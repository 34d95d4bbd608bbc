"""URL routes of the web pages (mounted at / by city_gis/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import emergency_views, review_views, views

urlpatterns = [
    path("", views.home, name="frontend-home"),
    path("console/", views.console, name="frontend-console"),
    path("console/dispatch-preview/<int:case_id>/", views.console_dispatch_preview, name="frontend-dispatch-preview"),
    path("m/", views.mobile, name="frontend-mobile"),
    path("m/sw.js", views.service_worker, name="frontend-service-worker"),
    path("m/manifest.webmanifest", views.manifest, name="frontend-manifest"),
    path("map/", views.layer_map, name="frontend-map"),
    path("evaluation/", views.evaluation, name="frontend-evaluation"),
    path("evaluation/areas/<slug:level>.geojson", views.evaluation_areas, name="frontend-evaluation-areas"),
    path("review/", review_views.review_page, name="frontend-review"),
    path("emergency/", emergency_views.emergency_page, name="frontend-emergency"),
    path("emergency/alerts/<int:alert_id>/evacuation-list/", emergency_views.evacuation_list,
         name="frontend-emergency-evacuation-list"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
]
