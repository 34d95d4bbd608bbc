"""The /review/ page: draw a redline (or name a zoning plot), choose use class, FAR and height, run a compliance
review and see its conflicts on the map, with the PDF link. A shell: the data comes from /api/v1/reviews/."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from city_gis.review.access import may_review
from city_gis.review.rules import get_ruleset, use_classes

from .views import nav_pages, page_context

# The control layers drawn under the redline (through our own WMS), bottom first.
CONTROL_LAYERS = ("land.farmland", "land.eco_redline", "planning.zoning", "planning.urban_boundary")


@never_cache
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    """Planners and admins run reviews here; everyone else is refused (anonymous users log in first)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_review(request.user):
        raise PermissionDenied
    config = {
        "useClasses": [{"code": c.code, "name": c.name} for c in use_classes().values()],
        "controlLayers": list(CONTROL_LAYERS),
        "ruleset": get_ruleset().version,
    }
    return render(request, "frontend/review.html",
                  page_context(request, "frontend-review", config=config, **nav_pages(request)))
