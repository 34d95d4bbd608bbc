"""URL routes of the hazards app (mounted under /api/v1/ by city_gis/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import AlertViewSet, AreaWarningViewSet, DeviceViewSet, ReadingBatchView

router = SimpleRouter()
router.register("hazards/devices", DeviceViewSet, basename="hazard-device")
router.register("hazards/alerts", AlertViewSet, basename="hazard-alert")
router.register("hazards/warnings", AreaWarningViewSet, basename="hazard-warning")

urlpatterns = [path("hazards/readings/", ReadingBatchView.as_view(), name="hazard-readings"), *router.urls]
