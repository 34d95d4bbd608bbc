"""The storm simulator: its series (a pure function) crosses the default rule thresholds at the wettest point in
order blue → yellow → orange and stays below red, less at drier points; deterministic for a seed. End to end: a
short, time-compressed storm published by `citygis simulate_rainstorm` to the real Mosquitto raises alerts at the
storm's centre through the consumer, and a patrol task appears on its monitor's task list."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from city_gis.grid.geocode import OutsideManagedArea, geocode
from city_gis.hazards import storm
from city_gis.hazards.models import LEVEL_NAMES, Alert, Patrol
from city_gis.hazards.rules import current, level_of

START = dt.datetime(2026, 7, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
WET = storm.StormPoint("P-WET", 1.0, (("RG-W", "rain_gauge"), ("GN-W", "gnss"), ("CR-W", "crack_meter")))
DRY = storm.StormPoint("P-DRY", 0.45, (("RG-D", "rain_gauge"), ("GN-D", "gnss")))


def first_crossings(values: list[tuple[dt.datetime, float]], thresholds) -> list[tuple[str, dt.datetime]]:
    """(level name, first time reached) for every level the series reaches, in the order reached."""
    seen: dict[int, dt.datetime] = {}
    for t, v in values:
        for level in range(1, level_of(v, thresholds) + 1):
            seen.setdefault(level, t)
    return [(LEVEL_NAMES[lv], t) for lv, t in sorted(seen.items(), key=lambda x: (x[1], x[0]))]


def rate_per_day(readings, device: str, hours: float = 24, min_span_h: float = 6) -> list[tuple[dt.datetime, float]]:
    """|newest − oldest| per day over the window (span ≥ min_span_h) — what `displacement_rate` computes."""
    mine = [(r.observed_at, next(iter(r.values.values()))) for r in readings if r.device == device]
    out = []
    for t, _ in mine:
        w = [(u, v) for u, v in mine if t - dt.timedelta(hours=hours) < u <= t]
        span = (w[-1][0] - w[0][0]).total_seconds()
        if span >= min_span_h * 3600:
            out.append((t, abs(w[-1][1] - w[0][1]) / (span / 86400)))
    return out


def test_rain_at_the_wettest_point_crosses_blue_yellow_orange_in_order_and_stays_below_red():
    readings = storm.series([WET, DRY], minutes=480, start=START, seed=3)
    rules = current().rules
    wet = first_crossings(storm.rolling_sum(readings, "RG-W", 1), rules["rain_1h"].thresholds)
    assert [name for name, _ in wet] == ["blue", "yellow", "orange"]
    assert wet[0][1] < wet[1][1] < wet[2][1]
    dry = first_crossings(storm.rolling_sum(readings, "RG-D", 1), rules["rain_1h"].thresholds)
    assert [name for name, _ in dry] == ["blue"]  # less than half the rain at the storm's edge
    gnss = first_crossings(rate_per_day(readings, "GN-W"), rules["displacement_rate"].thresholds)
    assert [name for name, _ in gnss] == ["blue", "yellow", "orange"]
    assert gnss[0][1] >= START + dt.timedelta(hours=6)  # a 24-hour rate needs a 6-hour span of readings
    crack = first_crossings(rate_per_day(readings, "CR-W"), rules["crack_rate"].thresholds)
    assert [name for name, _ in crack][-1] == "orange"
    # rain first, then the ground moves
    assert wet[1][1] < gnss[0][1]


def test_the_series_is_deterministic_per_seed_and_advances_in_time():
    a = storm.series([WET, DRY], minutes=120, step_minutes=10, start=START, seed=7)
    assert a == storm.series([WET, DRY], minutes=120, step_minutes=10, start=START, seed=7)
    assert a != storm.series([WET, DRY], minutes=120, step_minutes=10, start=START, seed=8)
    assert len(a) == 12 * 5
    times = [r.observed_at for r in a if r.device == "RG-W"]
    assert times == [START + dt.timedelta(minutes=10 * (i + 1)) for i in range(12)]
    assert all(r.values["rain_mm"] >= 0 for r in a if r.type == "rain_gauge")
    gnss = [r.values["displacement_mm"] for r in a if r.device == "GN-W"]
    assert gnss == sorted(gnss) and gnss[0] > 0  # cumulative, never back
    assert a[0].payload() == {"observed_at": "2026-07-12T00:10:00+08:00", "values": a[0].values}


@pytest.mark.django_db
def test_a_compressed_storm_over_mqtt_raises_alerts_and_a_patrol_task(settings):
    from .test_mqtt import SHARED, consumer, drain

    settings.CITYGIS_MQTT_SESSION_EXPIRY_S = 120
    prefix = f"citygis-test/{uuid.uuid4().hex[:10]}/devices/"
    # a seed whose storm centre can become a case (inside the managed area) and has a monitor
    seed = next(s for s in range(30) if _centre_ok(storm.pick_points(1, s)[0].code))
    points = storm.pick_points(2, seed)
    minutes, step = 180, 10
    expected = sum(len(p.devices) for p in points) * (minutes // step)
    c = consumer(SHARED, prefix)
    errors: list[BaseException] = []

    def simulate() -> None:
        try:  # 180 simulated minutes at 1,800× = 6 s; a step (0.33 s) outlasts the consumer's batch wait
            call_command("simulate_rainstorm", speed=1800, minutes=minutes, points=2, step=step, seed=seed,
                         url=SHARED, prefix=prefix, stdout=io.StringIO())
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    try:
        began = time.monotonic()
        publisher = threading.Thread(target=simulate)
        publisher.start()
        drain(c, expected, timeout=18)  # batches stored in this thread, as the storm arrives
        publisher.join(5)
        assert not errors and time.monotonic() - began < 20
        assert c.stats.inserted == expected and c.stats.dead_letters == 0
    finally:
        c.stop()
    centre = points[0].code
    alert = Alert.objects.get(hazard_point__code=centre, rule="rain_1h", closed_at=None)
    assert alert.level >= 2
    trail = [(e.kind, e.level) for e in alert.events.order_by("at", "pk")]
    assert trail[0][0] == "created" and all(k == "escalated" for k, _ in trail[1:])
    assert [lv for _, lv in trail] == sorted({lv for _, lv in trail})  # blue → yellow → …, each level once
    patrol = Patrol.objects.get(hazard_point__code=centre, completed_at=None)
    assert patrol.case.assignee_id == patrol.monitor_id
    assert patrol.case.state == "pending_verification"


def _centre_ok(code: str) -> bool:
    from layers.models import HazardPoint

    hp = HazardPoint.objects.select_related("monitoring__monitor").get(code=code)
    try:
        geocode(hp.geom.x, hp.geom.y)
    except OutsideManagedArea:
        return False
    return hp.monitoring.monitor is not None
