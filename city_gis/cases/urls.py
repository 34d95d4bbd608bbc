"""URL routes of this app (mounted by city_gis/urls.py)."""

urlpatterns: list = []
