"""Open311 GeoReport v2 routes under /open311/v2/: every resource as .json and as .xml.

Each suffix is its own route (format passed as a fixed kwarg) so the OpenAPI schema lists both.
"""

from django.urls import re_path

from .open311 import views

ROUTES = [
    (r"discovery", views.DiscoveryView, "open311-discovery"),
    (r"services", views.ServiceListView, "open311-services"),
    (r"services/(?P<code>[0-9A-Za-z_:-]{1,20})", views.ServiceDefinitionView, "open311-service"),
    (r"requests", views.RequestListView, "open311-requests"),
    (r"requests/(?P<request_id>[0-9A-Za-z_-]{1,40})", views.RequestDetailView, "open311-request"),
]

urlpatterns = [
    re_path(rf"^{pattern}\.{fmt}$", view.as_view(), {"format": fmt}, name=f"{name}-{fmt}")
    for pattern, view, name in ROUTES
    for fmt in ("json", "xml")
]
