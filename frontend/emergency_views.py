"""The /emergency/ page of the geohazard duty officers (live alerts, devices, warnings, plans on a map) and the
printable per-community evacuation list of an alert's newest plan. Shells over /api/v1/hazards/; who may open
them is city_gis.hazards.access's rule (the Page entry in roles.py)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from city_gis.hazards import evacuation
from city_gis.hazards.access import visible_alerts
from city_gis.hazards.models import Alert
from city_gis.hazards.rules import OFFLINE_RULE

from .views import guard_page, nav_pages, page_context

# Registry layers drawn under the alerts (through our own WMS), bottom first.
HAZARD_LAYERS = ("disaster.hazard_zones", "disaster.hazard_points", "disaster.shelters")
POLL_MS = 10_000  # the alert list refreshes this often (the brief of the duty page: ~10 s)


def _strings() -> dict[str, object]:
    """The page's JavaScript strings in the current language."""
    return {
        "levels": {"blue": _("蓝色"), "yellow": _("黄色"), "orange": _("橙色"), "red": _("红色")},
        "deviceStatus": {"online": _("在线"), "offline": _("离线"), "maintenance": _("维护"), "retired": _("停用")},
        "acknowledge": _("确认"),
        "acknowledged": _("已确认"),
        "noAlerts": _("当前无未解除预警"),
        "plan": _("疏散方案"),
        "makePlan": _("编制疏散方案"),
        "noPlan": _("尚无疏散方案"),
        "people": _("人数"),
        "buildings": _("建筑"),
        "shelters": _("避难场所"),
        "assigned": _("已安置"),
        "unassigned": _("未安置"),
        "capacity": _("容量"),
        "printList": _("按社区打印疏散名单"),
        "readings": _("监测数据（最近 72 小时）"),
        "noReadings": _("72 小时内无监测数据"),
        "updated": _("更新于"),
    }


@never_cache
@require_GET
def emergency_page(request: HttpRequest) -> HttpResponse:
    """The duty side of the hazards app works here; everyone else is refused (anonymous users log in first)."""
    if denied := guard_page(request, "frontend-emergency"):
        return denied
    config = {
        "hazardLayers": list(HAZARD_LAYERS),
        "pollMs": POLL_MS,
        "mayPlan": evacuation.may_plan(request.user),
        "offlineRule": OFFLINE_RULE,  # a device is offline while it has an open alert of this rule
        "strings": _strings(),
    }
    return render(request, "frontend/emergency.html",
                  page_context(request, "frontend-emergency", config=config, **nav_pages(request)))


@never_cache
@require_GET
def evacuation_list(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Print view of the alert's newest evacuation plan, grouped by community; 404 for an alert the user
    may not see or one without a plan."""
    if denied := guard_page(request, "frontend-emergency"):
        return denied
    alert = visible_alerts(request.user, Alert.objects.select_related("hazard_point")).filter(pk=alert_id).first()
    if alert is None:
        raise Http404("no such alert")
    plan_id = evacuation.latest_plan_id(alert)
    if plan_id is None:
        raise Http404("no evacuation plan for this alert")
    plan = evacuation.plan_data(plan_id)
    return render(request, "frontend/emergency_evacuation_list.html", {
        "alert": alert, "plan": plan, "communities": evacuation.community_list(plan),
        "shelters": plan["shelters"]})
