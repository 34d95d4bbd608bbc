"""Open311 GeoReport v2 routes under /open311/v2/ (format suffix .json or .xml on every path)."""

from django.urls import re_path

from .open311 import views

FMT = r"\.(?P<format>json|xml)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, views.DiscoveryView.as_view(), name="open311-discovery"),
    re_path(r"^services" + FMT, views.ServiceListView.as_view(), name="open311-services"),
    re_path(r"^services/(?P<code>[0-9A-Za-z_:-]{1,20})" + FMT, views.ServiceDefinitionView.as_view(), name="open311-service"),
    re_path(r"^requests" + FMT, views.RequestListView.as_view(), name="open311-requests"),
    re_path(r"^requests/(?P<request_id>[0-9A-Za-z_-]{1,40})" + FMT, views.RequestDetailView.as_view(), name="open311-request"),
]
