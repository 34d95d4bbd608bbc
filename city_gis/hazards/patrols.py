"""Patrol tasks (巡查) of yellow-or-higher alerts, on the case workflow and the inspector's `/m/` task list.

An alert that opens or escalates to yellow (level 2) or higher gets one patrol for its point's monitor, unless
the point already has an open patrol: a case of category 0705 地质灾害巡查 at the hazard point, created in
待核实 (pending verification) and assigned to the monitor, so it is a "verify" task of GET /api/v1/tasks/.
The monitor completes it with a result: `normal` (workflow action verify_not_found: nothing found, the case
ends) or `deformation` / `evacuate` (verify_confirmed: the case goes on to the centre like any confirmed
report). The result is written to the alert's audit trail (AlertEvent `patrol`: actor, note "result: note");
`evacuate` raises the alert to red. With the rules' `all_clear_requires_patrol` the all-clear of an alert that
gave a task waits for its newest patrol to report `normal` (alerts.patrol_holds); an alert held after its calm
period by a `deformation` / `evacuate` result gets a follow-up patrol (the after-rain check), so a `normal`
result can still end it. The dependency is one way: hazards calls city_gis.cases, cases knows
nothing of hazards (HazardsConfig.ready registers on_alert_changes with the alert evaluation).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from city_gis.accounts.models import Role, User
from city_gis.cases import services, workflow
from city_gis.cases.models import Case, Source

from . import alerts
from .models import LEVEL_NAMES, Alert, AlertEvent, Level, MonitoredPoint, Patrol, PatrolResult

log = logging.getLogger(__name__)

PATROL_CATEGORY = "event:0705"  # 地质灾害巡查 (city_gis/cases/data/categories.yaml)
MIN_LEVEL = Level.YELLOW
# The workflow action a result completes the task with (city_gis.cases.workflow.TABLE, state 待核实).
ACTION_OF = {PatrolResult.NORMAL: "verify_not_found", PatrolResult.DEFORMATION: "verify_confirmed",
             PatrolResult.EVACUATE: "verify_confirmed"}
RESULTS = tuple(PatrolResult.values)
# The result an action means when the client sends none (field_app_api.domain.complete_task).
DEFAULT_RESULT = {"verify_not_found": PatrolResult.NORMAL.value, "verify_confirmed": PatrolResult.DEFORMATION.value}


def on_alert_changes(changes: list[alerts.Change]) -> None:
    """The evaluation hook: a patrol for every alert created or escalated at yellow or above, and a follow-up
    for every alert held by its patrol after the calm period (none while the point's task is still open)."""
    for change in changes:
        if (change.kind in ("created", "escalated") and change.level >= MIN_LEVEL) or change.kind == "held":
            ensure_patrol(Alert.objects.select_related("hazard_point").get(pk=change.alert_id))


def open_patrol(point_id: int) -> Patrol | None:
    return Patrol.objects.filter(hazard_point_id=point_id, completed_at=None).first()


def ensure_patrol(alert: Alert) -> Patrol | None:
    """The point's open patrol, else a new one for its monitor (None: no monitor, or the point lies outside the
    managed area and cannot become a case). Runs under the point's advisory lock (alert evaluation)."""
    existing = open_patrol(alert.hazard_point_id)
    if existing is not None:
        return None
    mp = MonitoredPoint.objects.filter(hazard_point_id=alert.hazard_point_id).select_related("monitor").first()
    monitor: User | None = mp.monitor if mp else None
    if monitor is None or not monitor.is_active or Role.INSPECTOR not in monitor.roles:
        log.warning("alert %s: hazard point %s has no active monitor, no patrol", alert.pk, alert.hazard_point_id)
        return None
    point = alert.hazard_point
    description = (f"{point.code} {point.name if hasattr(point, 'name') else ''} {LEVEL_NAMES[alert.level]}预警"
                   f"（{alert.rule}），请到现场巡查并上报结果：正常 / 发现变形 / 需要撤离").replace("  ", " ")
    now = timezone.now()
    try:
        with transaction.atomic():
            # Source "public" puts the case in 待核实 (INITIAL_STATE); the assignee is the monitor, not the cell's
            # inspector. A dedicated "system" source would need a change in city_gis.cases (see docs/hazards.md).
            case = services.create_case(source=Source.PUBLIC, category_code=PATROL_CATEGORY, location=point.geom,
                                        description=description, reporter=None, at=now)
            case.assignee = monitor
            case.save(update_fields=["assignee"])
            return Patrol.objects.create(alert=alert, hazard_point_id=alert.hazard_point_id, case=case,
                                         monitor=monitor, created_at=now)
    except ValidationError as exc:
        log.warning("alert %s: no patrol for hazard point %s: %s", alert.pk, point.code, exc)
        return None


def patrol_of(case: Case) -> Patrol | None:
    """The patrol whose task `case` is (None for every other case)."""
    return Patrol.objects.filter(case_id=case.pk).select_related("alert").first()


@transaction.atomic
def complete(case: Case, user: User, action: str, result: str, note: str = "") -> Case:
    """The monitor's patrol result: completes the task (the workflow action of the result), writes the
    `patrol` event to the alert's trail and, for `evacuate`, raises the alert to red.

    Raises ValidationError naming `patrol_result` / `action`, plus whatever workflow.perform raises (the
    assignee check, IllegalTransition when the task is already done).
    """
    if result not in RESULTS:
        raise ValidationError({"patrol_result": f"取值无效：{result}（{' / '.join(RESULTS)}）"})
    if action != ACTION_OF[PatrolResult(result)]:
        raise ValidationError({"action": f"巡查结果 {result} 对应操作 {ACTION_OF[PatrolResult(result)]}"})
    patrol = Patrol.objects.select_for_update().get(case_id=case.pk)
    case = workflow.perform(case, action, user, note=note)  # checks the state and the assignee first
    now = timezone.now()
    patrol.completed_at, patrol.result = now, result
    patrol.save(update_fields=["completed_at", "result"])
    alerts.lock_points([patrol.hazard_point_id])
    alert = Alert.objects.select_for_update().get(pk=patrol.alert_id)
    text = f"{result}: {note}" if note else result
    AlertEvent.objects.create(alert=alert, at=now, kind=AlertEvent.Kind.PATROL, level=alert.level, actor=user,
                              note=text[:500])
    if result == PatrolResult.EVACUATE and alert.closed_at is None and alert.level < Level.RED:
        alert.level, alert.escalated_at = Level.RED, now
        alert.save(update_fields=["level", "escalated_at"])
        AlertEvent.objects.create(alert=alert, at=now, kind=AlertEvent.Kind.ESCALATED, level=alert.level,
                                  actor=user, note="patrol: evacuate")
        change = alerts.Change(alert.pk, "escalated", alert.level, alert.hazard_point_id, alert.rule)
        # The other hooks (e.g. evacuation planning) hear of it; no new patrol right after "evacuate".
        for hook in alerts.CHANGE_HOOKS:
            if hook is not on_alert_changes:
                hook([change])
    return case
