"""URL routes of this app (mounted by city_gis/urls.py under /api/v1/)."""

from rest_framework.routers import SimpleRouter

from .api import LayerViewSet
from .jobs_api import JobViewSet
from .versions_api import LayerVersionViewSet

router = SimpleRouter()
router.register("layers", LayerViewSet, basename="layer")
router.register(rf"layers/(?P<name>{LayerViewSet.lookup_value_regex})/versions", LayerVersionViewSet,
                basename="layer-version")
router.register("jobs", JobViewSet, basename="job")

urlpatterns = router.urls
