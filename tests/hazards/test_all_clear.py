"""All-clear and patrols (all_clear_requires_patrol): after the calm period a yellow+ alert that gave a patrol
task closes only once its patrol reported `normal`; `deformation` (and a task without a result) keep it open, a
held alert gets a follow-up patrol, and with the option off the calm period alone closes it as before."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from city_gis.hazards import alerts, patrols
from city_gis.hazards.models import Alert, Patrol
from city_gis.hazards.rules import DEFAULT_PATH, current

from .test_patrols import gauge, monitor_of  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def storm(gauge, put) -> tuple[Alert, Patrol]:  # noqa: F811
    """A yellow rain_1h alert 30 h ago (so 24 h calm by now) with its patrol task."""
    put(gauge, timezone.now() - dt.timedelta(hours=30), rain_mm=35.0)
    alert = Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h", closed_at=None)
    return alert, Patrol.objects.get(alert=alert)


def report(patrol: Patrol, result: str, note: str = "") -> None:
    patrols.complete(patrol.case, patrol.monitor, patrols.ACTION_OF[result], result, note)


def test_the_packaged_rules_require_a_patrol():
    assert current().all_clear_requires_patrol and current().version == "ps-2026.2"


def test_calm_but_no_patrol_result_stays_open(gauge, put):  # noqa: F811
    alert, patrol = storm(gauge, put)
    [held] = [c for c in alerts.close_calm() if c.alert_id == alert.pk]
    assert held.kind == "held"
    alert.refresh_from_db()
    assert alert.closed_at is None
    assert Patrol.objects.filter(hazard_point=gauge.hazard_point).count() == 1  # the open task is the one


def test_deformation_stays_open_and_gets_a_follow_up_patrol_then_normal_clears(gauge, put):  # noqa: F811
    alert, patrol = storm(gauge, put)
    report(patrol, "deformation", "挡墙鼓胀")
    alerts.close_calm()
    alert.refresh_from_db()
    assert alert.closed_at is None
    follow_up = Patrol.objects.get(alert=alert, completed_at=None)
    assert follow_up.pk != patrol.pk and follow_up.monitor == monitor_of(gauge)
    report(follow_up, "normal")
    alerts.close_calm()
    alert.refresh_from_db()
    assert alert.close_reason == "all_clear" and alert.closed_at is not None
    trail = [(e.kind, e.note) for e in alert.events.order_by("at", "pk")]
    assert trail == [("created", ""), ("patrol", "deformation: 挡墙鼓胀"), ("patrol", "normal"),
                     ("closed", "all_clear")]


def test_normal_clears_after_the_calm_period_also_on_a_new_reading(gauge, put):  # noqa: F811
    alert, patrol = storm(gauge, put)
    report(patrol, "normal")
    put(gauge, 0, rain_mm=0.0)  # the evaluation's all-clear: below blue for 30 h and the patrol normal
    alert.refresh_from_db()
    assert alert.close_reason == "all_clear" and alert.value == 0.0


def test_a_normal_patrol_does_not_shorten_the_calm_period(gauge, put):  # noqa: F811
    put(gauge, 20, rain_mm=35.0)
    alert = Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h", closed_at=None)
    report(Patrol.objects.get(alert=alert), "normal")
    alerts.close_calm()
    assert Alert.objects.get(pk=alert.pk).closed_at is None


def test_evacuate_stays_open(gauge, put):  # noqa: F811
    alert, patrol = storm(gauge, put)
    report(patrol, "evacuate")
    alerts.close_calm()
    alert.refresh_from_db()
    assert alert.closed_at is None and alert.level_name == "red"


def test_without_the_option_the_calm_period_alone_closes(gauge, put, settings, tmp_path):  # noqa: F811
    doc = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    doc["all_clear_requires_patrol"] = False
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc))
    settings.CITYGIS_HAZARD_RULES = str(path)
    alert, patrol = storm(gauge, put)
    alerts.close_calm()
    alert.refresh_from_db()
    assert alert.close_reason == "all_clear" and patrol.completed_at is None
