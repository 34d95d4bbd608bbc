"""URL routes of this app (mounted by city_gis/urls.py under /api/v1/)."""

from rest_framework.routers import SimpleRouter

from .api import LayerViewSet

router = SimpleRouter()
router.register("layers", LayerViewSet, basename="layer")

urlpatterns = router.urls
