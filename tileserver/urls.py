"""URL routes of the map services (mounted at / by city_gis/urls.py): see DESIGN.md for the stable paths."""

from django.urls import re_path

from . import views
from .csw import service as csw_service
from .ogcapi import views as ogcapi

app_name = "tileserver"
urlpatterns = [
    re_path(r"^(?P<path>ows)$", views.ows_endpoint, name="ows"),  # + POST: WFS-T
    re_path(r"^(?P<path>(?:wmts|tiles|tms)(?:/.*)?)$", views.ows, name="tiles"),
    re_path(r"^(?P<path>service)$", views.ows_endpoint, name="service"),
    re_path(r"^(?P<path>demo(?:/.*)?)$", views.ows, name="demo"),
    re_path(r"^csw$", csw_service.csw, name="csw"),  # CSW 2.0.2 catalogue of the registry (tileserver/csw/)
    # OGC API – Features (tileserver/ogcapi/); reaches Django: wsgi.OGC_PREFIXES does not include /ogcapi
    re_path(r"^ogcapi/?$", ogcapi.landing, name="ogcapi-landing"),
    re_path(r"^ogcapi/conformance/?$", ogcapi.conformance, name="ogcapi-conformance"),
    re_path(r"^ogcapi/api/?$", ogcapi.api, name="ogcapi-api"),
    re_path(r"^ogcapi/collections/?$", ogcapi.collection_list, name="ogcapi-collections"),
    re_path(r"^ogcapi/collections/(?P<name>[^/]+)/?$", ogcapi.collection, name="ogcapi-collection"),
    re_path(r"^ogcapi/collections/(?P<name>[^/]+)/queryables/?$", ogcapi.queryables, name="ogcapi-queryables"),
    re_path(r"^ogcapi/collections/(?P<name>[^/]+)/items/?$", ogcapi.item_list, name="ogcapi-items"),
    re_path(r"^ogcapi/collections/(?P<name>[^/]+)/items/(?P<feature_id>[^/]+)/?$", ogcapi.item,
            name="ogcapi-item"),
]
