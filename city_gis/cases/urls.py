"""URL routes of the cases app (mounted under /api/v1/ by city_gis/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import CaseViewSet, CategoryTreeView

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="case")

urlpatterns = [path("categories/", CategoryTreeView.as_view(), name="categories"), *router.urls]
