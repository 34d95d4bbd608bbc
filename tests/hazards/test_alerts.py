"""Alert rules on crafted series: levels rise blue → yellow → orange, all-clear after the calm period,
deformation rates, per point overrides, antecedent rain, offline devices, one open alert per point and rule."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from city_gis.hazards import alerts
from city_gis.hazards.models import Alert, Device, Patrol
from city_gis.hazards.patrols import complete
from city_gis.hazards.rules import RulesError, current, level_of, parse

pytestmark = pytest.mark.django_db


def trail(alert: Alert) -> list[tuple[str, str]]:
    from city_gis.hazards.models import LEVEL_NAMES

    return [(e.kind, LEVEL_NAMES[e.level]) for e in alert.events.order_by("at", "pk")]


def test_rainfall_raises_blue_yellow_orange_then_all_clear_after_the_calm_period(device, put):
    gauge = device("rain_gauge")
    t0 = timezone.now() - dt.timedelta(hours=26)
    put(gauge, t0, rain_mm=21.0)  # 1 h: 21 ≥ 20 blue
    alert = Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h", closed_at=None)
    assert (alert.level_name, alert.value, alert.threshold) == ("blue", 21.0, 20.0)
    put(gauge, t0 + dt.timedelta(minutes=10), rain_mm=10.0)  # 31 ≥ 30 yellow
    put(gauge, t0 + dt.timedelta(minutes=20), rain_mm=20.0)  # 51 ≥ 50 orange
    alert.refresh_from_db()
    assert (alert.level_name, alert.value) == ("orange", 51.0)
    put(gauge, t0 + dt.timedelta(minutes=70), rain_mm=0.0)  # (t0+10, t0+70]: 30 still ≥ blue; level stays
    alert.refresh_from_db()
    assert alert.level_name == "orange" and alert.closed_at is None
    assert alert.last_exceeded_at == t0 + dt.timedelta(minutes=70)
    put(gauge, t0 + dt.timedelta(hours=12), rain_mm=0.0)  # below blue, but not calm for 24 h yet
    assert Alert.objects.get(pk=alert.pk).closed_at is None
    put(gauge, t0 + dt.timedelta(minutes=70, hours=24), rain_mm=0.0)  # 24 h below blue, but the patrol is open
    assert Alert.objects.get(pk=alert.pk).closed_at is None
    patrol = Patrol.objects.get(alert=alert)  # yellow gave a patrol task (all_clear_requires_patrol)
    complete(patrol.case, patrol.monitor, "verify_not_found", "normal")
    put(gauge, t0 + dt.timedelta(minutes=80, hours=24), rain_mm=0.0)  # calm and patrolled normal: all-clear
    alert.refresh_from_db()
    assert alert.close_reason == "all_clear" and alert.closed_at is not None
    assert trail(alert) == [("created", "blue"), ("escalated", "yellow"), ("escalated", "orange"),
                            ("patrol", "orange"), ("closed", "orange")]
    # the 24 h sum crossed blue (51 ≥ 50) too: its own alert, still ≥ blue at t0+12 h, so not calm yet
    day = Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_24h")
    assert (day.level_name, day.closed_at, day.last_exceeded_at) == ("blue", None, t0 + dt.timedelta(hours=12))


def test_one_open_alert_per_point_and_rule(device, put):
    gauge = device("rain_gauge")
    for minutes in (50, 40, 30):
        put(gauge, minutes, rain_mm=25.0)
    assert Alert.objects.filter(hazard_point=gauge.hazard_point, rule="rain_1h", closed_at=None).count() == 1


def test_an_out_of_order_reading_counts_in_the_window(device, put):
    gauge = device("rain_gauge")
    put(gauge, 10, rain_mm=15.0)
    assert not Alert.objects.filter(hazard_point=gauge.hazard_point).exists()
    put(gauge, 40, rain_mm=16.0)  # older, arrives later: 1 h sum 31 → yellow
    assert Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h").level_name == "yellow"


def test_a_duplicate_reading_is_ignored_and_changes_nothing(device, put):
    gauge = device("rain_gauge")
    when = timezone.now() - dt.timedelta(minutes=5)
    assert put(gauge, when, rain_mm=15.0).inserted == 1
    again = put(gauge, when, rain_mm=99.0)
    assert (again.inserted, again.duplicates, again.changes) == (0, 1, [])
    assert not Alert.objects.filter(hazard_point=gauge.hazard_point).exists()


def test_displacement_rate_in_mm_per_day_over_the_window(device, put):
    gnss = device("gnss")
    put(gnss, 12 * 60, displacement_mm=100.0)
    put(gnss, 3 * 60, displacement_mm=103.0)  # span 9 h ≥ 6 h: 3 mm / 0.375 d = 8 mm/d → yellow (≥ 5)
    alert = Alert.objects.get(hazard_point=gnss.hazard_point, rule="displacement_rate")
    assert alert.level_name == "yellow" and alert.value == pytest.approx(8.0, rel=1e-3)
    put(gnss, 0, displacement_mm=108.0)  # 8 mm / 0.5 d = 16 mm/d → orange
    alert.refresh_from_db()
    assert alert.level_name == "orange" and alert.value == pytest.approx(16.0, rel=1e-3)


def test_a_rate_needs_the_minimum_span(device, put):
    crack = device("crack_meter")
    put(crack, 60, crack_mm=1.0)
    put(crack, 0, crack_mm=3.0)  # 2 mm in 1 h would be 48 mm/d, but 1 h < min_span 6 h
    assert not Alert.objects.filter(hazard_point=crack.hazard_point).exists()


def test_a_point_override_and_antecedent_rain(device, put, settings, tmp_path):
    gauge = device("rain_gauge")
    doc = json.loads(current().source and open(current().source, encoding="utf-8").read())
    doc["points"] = {gauge.hazard_point.code: {"thresholds": {"rain_1h": [5, 10, 15, 20]}}}
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc))
    settings.CITYGIS_HAZARD_RULES = str(path)
    put(gauge, 20, rain_mm=12.0)
    assert Alert.objects.get(hazard_point=gauge.hazard_point, rule="rain_1h").level_name == "yellow"
    other = device("rain_gauge", 1)
    for hours in range(70, 63, -1):  # 7 × 15 mm an hour apart: 105 mm in 72 h, never 16 mm in one hour
        put(other, hours * 60, rain_mm=15.0)
    assert not Alert.objects.filter(hazard_point=other.hazard_point, rule="rain_1h").exists()
    # 72 h antecedent ≥ 100 mm: the 1 h thresholds × 0.8 → 16/24/40/56
    put(other, 10, rain_mm=17.0)
    assert Alert.objects.get(hazard_point=other.hazard_point, rule="rain_1h").level_name == "blue"


def test_offline_alert_opens_after_silence_and_closes_on_the_next_reading(device, put):
    gauge = device("rain_gauge")
    Device.objects.exclude(pk=gauge.pk).update(last_reading_at=timezone.now())  # the rest are fresh
    put(gauge, 45, rain_mm=0.0)  # rain gauges are offline after 30 min
    [change] = alerts.check_offline()
    alert = Alert.objects.get(pk=change.alert_id)
    assert (alert.rule, alert.device_id, alert.level_name) == ("offline", gauge.pk, "blue")
    assert alerts.check_offline() == []  # one open offline alert per device
    put(gauge, 0, rain_mm=0.0)
    alert.refresh_from_db()
    assert alert.close_reason == "back_online"


def test_levels_and_thresholds():
    assert [level_of(v, (20, 30, 50, 70)) for v in (None, 19.9, 20, 49, 50, 70, 500)] == [0, 0, 1, 2, 3, 4, 4]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["rules"]["rain_1h"].update(thresholds=[30, 20, 50, 70]), "rules.rain_1h.thresholds: thresholds must"),
    (lambda d: d["rules"]["rain_1h"].update(thresholds=[1, 2, 3]), "rules.rain_1h.thresholds"),
    (lambda d: d["rules"]["rain_1h"].update(quantity="tilt_deg"), "rules.rain_1h.quantity: a rain_gauge device"),
    (lambda d: d["rules"]["rain_1h"].update(method="median"), "rules.rain_1h.method"),
    (lambda d: d.update(points={"X": {"thresholds": {"nope": [1, 2, 3, 4]}}}), "points.X.thresholds.nope"),
    (lambda d: d["offline"].update(level="green"), "offline.level"),
    (lambda d: d.update(version=2), "version"),
])
def test_a_bad_rules_file_is_refused_naming_the_key(change, message):
    doc = json.loads(open(current().source, encoding="utf-8").read())
    change(doc)
    with pytest.raises(RulesError) as exc:
        parse(doc, "rules.json")
    assert f"rules.json: {message}" in str(exc.value)
