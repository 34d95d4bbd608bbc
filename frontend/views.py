"""The web pages: home routing, dispatcher console, mobile reporter, layer viewer, evaluation dashboard.

Pages are shells: the data comes from the REST API (/api/v1/…) in the browser, with the user's session.
Role checks here only decide who may open a page; the API enforces permissions on the data itself.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from city_gis.grid.areas import AREA_LEVELS
from city_gis.hazards import patrols

from .areas import area_geojson
from .choices import areas, case_states, departments, evaluation_levels
from .dispatch_preview import dispatch_preview
from .i18n_strings import js_strings
from .roles import PAGES, Page, handler_only, landing_url_name, may_open

# EPSG:4544 (CGCS2000 / 3-degree Gauss-Kruger CM 105E) for the cursor read-out on /map/.
EPSG_4544_PROJ4 = "+proj=tmerc +lat_0=0 +lon_0=105 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


def _page(url_name: str) -> Page:
    return next(p for p in PAGES if p.url_name == url_name)


def guard_page(request: HttpRequest, url_name: str, *, anonymous_ok: bool = False) -> None | HttpResponse:
    """Who may open the page named `url_name` (its roles.PAGES entry): the login redirect for an anonymous user
    (unless `anonymous_ok`), PermissionDenied (403) for a user without a role for it, else None."""
    if not request.user.is_authenticated and not anonymous_ok:
        return redirect_to_login(request.get_full_path())
    if request.user.is_authenticated and not may_open(request.user, _page(url_name)):
        raise PermissionDenied
    return None


def page_context(request: HttpRequest, active: str, **extra) -> dict:
    """The template context of a page shell: `active` (the menu entry), `page_config` (the user, the map defaults,
    the API root and the language, updated with the page's own `config=`), the JavaScript strings, and `extra`."""
    user = request.user
    config = {
        "user": {
            "username": user.username if user.is_authenticated else None,
            "label": getattr(user, "label", "") if user.is_authenticated else "",
            "roles": list(getattr(user, "roles", []) or []),
            "department": user.department.code if user.is_authenticated and user.department_id else None,
            "handlerOnly": handler_only(user),
        },
        "center": list(settings.LEAFLET_CONFIG["DEFAULT_CENTER"]),
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
        "baseTiles": settings.LEAFLET_CONFIG["TILES"][0][1],
        "api": "/api/v1/",
        "language": request.LANGUAGE_CODE,
    }
    config.update(extra.pop("config", {}))
    return {"active": active, "page_config": config, "js_i18n": js_strings(), **extra}


def nav_pages(request: HttpRequest) -> dict:
    """Context processor-like helper: the menu entries this user may open."""
    return {"nav": [p for p in PAGES if may_open(request.user, p) and (request.user.is_authenticated or p.roles is None)]}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Route each user to the page of their job (anonymous users to the login page)."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("frontend-home"))
    return redirect(landing_url_name(request.user))


@never_cache
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    """Dispatcher console: map of open cases, filters, case list and case panel with workflow buttons."""
    if denied := guard_page(request, "frontend-console"):
        return denied
    extra = {"states": case_states(), "departments": departments(), **areas()}
    config = {"departments": extra["departments"], "states": dict(extra["states"])}
    if may_open(request.user, _page("frontend-emergency")):  # the new-alert banner (console.js)
        config["hazardAlerts"] = {"url": reverse("frontend-emergency"), "newAlert": _("新预警"),
                                  "levels": {"blue": _("蓝色"), "yellow": _("黄色"), "orange": _("橙色"),
                                             "red": _("红色")}, "more": _("另有 %(n)s 条"),
                                  "open": _("打开应急值守"), "dismiss": _("关闭")}
    return render(
        request, "frontend/console.html", page_context(request, "frontend-console", config=config, **extra, **nav_pages(request))
    )


@never_cache
@require_GET
def console_dispatch_preview(request: HttpRequest, case_id: int) -> HttpResponse:
    """JSON for the dispatch form: default department, urgency levels and the deadline each gives now."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "authentication required"}, status=401)
    if not may_open(request.user, _page("frontend-console")):
        raise PermissionDenied
    preview = dispatch_preview(case_id, request.user)
    if preview is None:  # no such case, or one the user may not see: the same answer, so nothing leaks
        return JsonResponse({"case": f"no case {case_id}"}, status=404)
    return JsonResponse(preview)


@never_cache
@require_GET
def mobile(request: HttpRequest) -> HttpResponse:
    """Mobile reporter for inspectors: report form with offline queue, and my tasks."""
    if denied := guard_page(request, "frontend-mobile"):
        return denied
    # A patrol result's workflow action, the table the API checks (mobile.js sends the action with the result).
    config = {"patrolActions": {result.value: action for result, action in patrols.ACTION_OF.items()}}
    return render(request, "frontend/mobile.html",
                  page_context(request, "frontend-mobile", config=config, **nav_pages(request)))


@never_cache
@require_GET
def layer_map(request: HttpRequest) -> HttpResponse:
    """Layer viewer: catalog tree, legends, identify, filter, export, coordinates, QGIS connection box."""
    guard_page(request, "frontend-map", anonymous_ok=True)
    base = request.build_absolute_uri("/").rstrip("/")
    return render(
        request,
        "frontend/map.html",
        page_context(
            request,
            "frontend-map",
            config={"epsg4544": EPSG_4544_PROJ4},
            wms_url=f"{base}/ows",
            wmts_url=f"{base}/wmts/1.0.0/WMTSCapabilities.xml",
            xyz_url=f"{base}/tiles/{{layer}}/webmercator/{{z}}/{{x}}/{{y}}.png",
            **nav_pages(request),
        ),
    )


@never_cache
@require_GET
def evaluation(request: HttpRequest) -> HttpResponse:
    """Evaluation dashboard: choropleth, rankings, trends, drill-down and export."""
    if denied := guard_page(request, "frontend-evaluation"):
        return denied
    config = {"levels": evaluation_levels()}
    return render(
        request, "frontend/evaluation.html", page_context(request, "frontend-evaluation", config=config, **nav_pages(request))
    )


@require_GET
def evaluation_areas(request: HttpRequest, level: str) -> HttpResponse:
    """Outlines of one area level (GeoJSON) for the dashboard's choropleth; same audience as the dashboard."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    if not may_open(request.user, _page("frontend-evaluation")):
        raise PermissionDenied
    if level not in AREA_LEVELS:
        return JsonResponse({"level": f"unknown level {level!r}; one of {', '.join(AREA_LEVELS)}"}, status=400)
    response = HttpResponse(area_geojson(level), content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The mobile shell's service worker, served from /m/ so its scope covers the reporter page."""
    response = render(request, "frontend/sw.js", content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/m/"
    return response


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    """Web app manifest of the mobile reporter (installable on the phone's home screen)."""
    return render(request, "frontend/manifest.webmanifest", content_type="application/manifest+json")
