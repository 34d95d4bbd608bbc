"""URL routes of the grid app (mounted under /api/v1/ by city_gis/urls.py)."""

from django.urls import path

from .views import GridLookupView

urlpatterns = [path("grid/lookup/", GridLookupView.as_view(), name="grid-lookup")]
