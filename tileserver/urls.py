"""URL routes of the map services (mounted at / by city_gis/urls.py): see DESIGN.md for the stable paths."""

from django.urls import re_path

from . import views

app_name = "tileserver"
urlpatterns = [
    re_path(r"^(?P<path>ows)$", views.ows, name="ows"),
    re_path(r"^(?P<path>(?:wmts|tiles|tms)(?:/.*)?)$", views.ows, name="tiles"),
    re_path(r"^(?P<path>service)$", views.ows, name="service"),
    re_path(r"^(?P<path>demo(?:/.*)?)$", views.ows, name="demo"),
]
