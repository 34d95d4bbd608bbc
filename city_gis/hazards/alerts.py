"""Alert evaluation: window aggregates over hazards_reading in SQL, then one open alert per point and rule.

Called in the ingesting transaction for the devices that got new readings. Each rule's value per device is one
SQL aggregate over the rule's window ending at the device's newest reading (sum / rate per day / change / last);
a point's value is the largest of its devices'. A level at or above blue opens the alert or raises it
(escalation; it never falls while open); a value below blue for the calm period closes it (all-clear) — with
`all_clear_requires_patrol`, an alert that gave a patrol task only once its newest patrol reported `normal`
(`patrol_holds`; a held alert is passed to the hooks as a `held` change, so the patrols issue a follow-up). A
device silent for its type's `offline.after_minutes` gets its own alert (`check_offline`, run periodically by
the consumer), closed when it reports again. Points are serialised with a transaction-level advisory lock, so
the consumer and the HTTP endpoint may evaluate the same point at once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import sql

from .models import Alert, AlertEvent, Device, DeviceStatus, Patrol, PatrolResult
from .rules import OFFLINE_RULE, Rule, RuleSet, current, level_of

ANTECEDENT = "~antecedent"  # key of the antecedent-rain window (no rule may be named so)
LOCK_CLASS = 4242  # first key of pg_advisory_xact_lock(int, int): "hazard point", second key: its id


@dataclass(frozen=True)
class Change:
    """What evaluation did to an alert (kind: created, escalated, closed, held: calm but waiting for a patrol)."""

    alert_id: int
    kind: str
    level: int
    point_id: int
    rule: str


_NEWEST = "(array_agg(r.{q} ORDER BY r.observed_at DESC) FILTER (WHERE {w}))[1]"
_OLDEST = "(array_agg(r.{q} ORDER BY r.observed_at) FILTER (WHERE {w}))[1]"
_AGGREGATES = {
    "sum": "sum(r.{q}) FILTER (WHERE {w})",
    "last": _NEWEST,
    # |newest − oldest| (rate divides by the seconds between them; both need a minimum span)
    "rate": f"abs({_NEWEST} - {_OLDEST})",
    "change": f"abs({_NEWEST} - {_OLDEST})",
}


# Called with the changes of every evaluation, inside its transaction (the patrols register theirs in
# HazardsConfig.ready: city_gis/hazards/patrols.py); a hook that raises rolls the evaluation back.
CHANGE_HOOKS: list = []


def _run_hooks(changes: list[Change]) -> None:
    if changes:
        for hook in CHANGE_HOOKS:
            hook(changes)


def _evacuation_hook(changes: list[Change]) -> None:
    """Orange/red alert → evacuation plan (city_gis/hazards/evacuation.py; imported late: it imports models)."""
    from .evacuation import on_alert_changes

    on_alert_changes(changes)


CHANGE_HOOKS.append(_evacuation_hook)


@dataclass(frozen=True)
class Window:
    """One aggregate to compute: `method` over the last `hours` of a quantity, spanning at least min_span_hours."""

    key: str
    method: str
    hours: float
    min_span_hours: float = 0.0


def window_values(quantity: str, windows: list[Window], devices: dict[int, dt.datetime]) -> dict[str, dict[int, float]]:
    """{window key: {device id: value}} over the quantity's readings in (newest − hours, newest] of each device of
    `devices` ({id: newest observed_at}), every window in one scan of the longest; a device whose readings span
    less than a window's min_span_hours has no value for it."""
    out: dict[str, dict[int, float]] = {w.key: {} for w in windows}
    if not devices or not windows:
        return out
    longest = dt.timedelta(hours=max(w.hours for w in windows))
    columns, params = [], []
    for w in windows:
        cond = "r.observed_at > d.last_reading_at - %s"
        columns.append(sql.SQL("(" + _AGGREGATES[w.method] + ")::float8").format(
            q=sql.Identifier(quantity), w=sql.SQL(cond)))
        columns.append(sql.SQL("extract(epoch FROM max(r.observed_at) FILTER (WHERE {w}) - "
                               "min(r.observed_at) FILTER (WHERE {w}))::float8").format(w=sql.SQL(cond)))
        window = dt.timedelta(hours=w.hours)
        params += [window] * (_AGGREGATES[w.method].count("{w}") + 2)
    query = sql.SQL(
        "SELECT r.device_id, {columns} FROM hazards_reading r JOIN hazards_device d ON d.id = r.device_id"
        " WHERE d.id = ANY(%s) AND r.{q} IS NOT NULL"
        " AND r.observed_at > d.last_reading_at - %s AND r.observed_at <= d.last_reading_at"
        # constant bounds as well, so the planner prunes the month partitions outside the window
        " AND r.observed_at > %s AND r.observed_at <= %s"
        " GROUP BY r.device_id"
    ).format(columns=sql.SQL(", ").join(columns), q=sql.Identifier(quantity))
    with connection.cursor() as cur:
        cur.execute(query, [*params, list(devices), longest, min(devices.values()) - longest, max(devices.values())])
        rows = cur.fetchall()
    for row in rows:
        device_id = row[0]
        for i, w in enumerate(windows):
            value, span = row[1 + 2 * i], row[2 + 2 * i]
            if value is None:
                continue
            if w.method in ("rate", "change") and (span or 0) < w.min_span_hours * 3600:
                continue
            if w.method == "rate":
                value = value / (span / 86400.0) if span else 0.0
            out[w.key][device_id] = float(value)
    return out


def lock_points(point_ids: Iterable[int]) -> None:
    """Serialise work on these hazard points until the transaction ends (pg_advisory_xact_lock per point): every
    writer of a point's alerts — evaluation, area warnings, patrol results — takes it first, so they never race."""
    ids = sorted(set(point_ids))
    if ids:
        with connection.cursor() as cur:  # in id order, one statement
            cur.execute("SELECT count(pg_advisory_xact_lock(%s, p)) FROM (SELECT unnest(%s::int[]) AS p ORDER BY 1) s",
                        [LOCK_CLASS, ids])


def alert_event(alert: Alert, kind: str, at: dt.datetime, *, value: float | None = None, actor=None,
                note: str = "") -> AlertEvent:
    """An unsaved AlertEvent of `alert` at its current level (the note cut to the column's 500 characters), for
    the caller's one bulk_create of a pass's events."""
    return AlertEvent(alert=alert, at=at, kind=kind, level=alert.level, value=value, actor=actor, note=note[:500])


def patrol_holds(alert_ids, rules: RuleSet) -> set[int]:
    """The alerts of `alert_ids` whose all-clear waits for a patrol: with `all_clear_requires_patrol`, those
    whose newest patrol task is still open or reported something other than `normal` (an alert that never gave
    a patrol task — blue, no monitor, the point's task belonged to another alert — is not held)."""
    ids = list(alert_ids)
    if not rules.all_clear_requires_patrol or not ids:
        return set()
    newest = (Patrol.objects.filter(alert_id__in=ids).order_by("alert_id", "-created_at", "-pk")
              .distinct("alert_id").values_list("alert_id", "result"))
    return {alert_id for alert_id, result in newest if result != PatrolResult.NORMAL}


def _close_all_clear(calm: list[tuple[Alert, bool]], rules: RuleSet, now: dt.datetime,
                     events: list[AlertEvent], changes: list[Change]) -> None:
    """Close the calm alerts (with True: alert.value is the value just evaluated, saved and recorded) unless a
    patrol holds them (a `held` change instead)."""
    held = patrol_holds((a.pk for a, _ in calm), rules)
    for alert, evaluated in calm:
        if alert.pk in held:
            changes.append(Change(alert.pk, "held", alert.level, alert.hazard_point_id, alert.rule))
            continue
        alert.closed_at, alert.close_reason = now, "all_clear"
        alert.save(update_fields=["closed_at", "close_reason", "value"] if evaluated else ["closed_at", "close_reason"])
        events.append(alert_event(alert, AlertEvent.Kind.CLOSED, now, value=alert.value if evaluated else None,
                                  note="all_clear"))
        changes.append(Change(alert.pk, "closed", alert.level, alert.hazard_point_id, alert.rule))


@transaction.atomic
def evaluate_devices(device_ids, *, rules: RuleSet | None = None, now: dt.datetime | None = None) -> list[Change]:
    """Evaluate every rule for the points of `device_ids` (which just got readings); returns the changes."""
    rules = rules or current()
    now = now or timezone.now()
    devices = list(Device.objects.filter(pk__in=list(device_ids), last_reading_at__isnull=False)
                   .values_list("pk", "type", "hazard_point_id", "hazard_point__code", "last_reading_at"))
    if not devices:
        return []
    lock_points(d[2] for d in devices)
    changes: list[Change] = []
    events: list[AlertEvent] = []
    # back online: their offline alerts close
    for alert in Alert.objects.filter(rule=OFFLINE_RULE, device_id__in=[d[0] for d in devices], closed_at=None):
        alert.closed_at, alert.close_reason = now, "back_online"
        alert.save(update_fields=["closed_at", "close_reason"])
        events.append(alert_event(alert, AlertEvent.Kind.CLOSED, now, note="back_online"))
        changes.append(Change(alert.pk, "closed", alert.level, alert.hazard_point_id, alert.rule))

    by_type: dict[str, dict[int, dt.datetime]] = defaultdict(dict)
    point_of: dict[int, tuple[int, str]] = {}
    for pk, kind, point_id, point_code, newest in devices:
        by_type[kind][pk] = newest
        point_of[pk] = (point_id, point_code)
    # one scan per device type and quantity computes every rule's window (and the antecedent rain)
    wet: set[int] = set()  # points after antecedent rain (thresholds lowered)
    results: dict[tuple[int, str], tuple[float | None, dt.datetime]] = {}
    rule_of: dict[str, Rule] = {}
    for kind, members in by_type.items():
        by_quantity: dict[str, list[Window]] = defaultdict(list)
        for rule in rules.for_type(kind):
            rule_of[rule.name] = rule
            by_quantity[rule.quantity].append(Window(rule.name, rule.method, rule.window_hours, rule.min_span_hours))
        if rules.antecedent and kind == "rain_gauge":
            by_quantity["rain_mm"].append(Window(ANTECEDENT, "sum", rules.antecedent.window_hours))
        for quantity, windows in by_quantity.items():
            values = window_values(quantity, windows, members)
            for pk, value in values.pop(ANTECEDENT, {}).items():
                if value >= rules.antecedent.rain_mm:  # type: ignore[union-attr]
                    wet.add(point_of[pk][0])
            for name, per_device in values.items():
                # (point, rule) → (value, evaluation time): the largest value of the point's devices
                for pk, newest in members.items():
                    key = (point_of[pk][0], name)
                    value = per_device.get(pk)
                    old_value, old_t = results.get(key, (None, newest))
                    best = value if old_value is None else (old_value if value is None else max(value, old_value))
                    results[key] = (best, max(newest, old_t))
    codes = {pid: code for pid, code in point_of.values()}
    open_alerts = {(a.hazard_point_id, a.rule): a for a in Alert.objects.filter(
        hazard_point_id__in=list(codes), rule__in=list(rule_of), device=None, closed_at=None)}
    touched: list[Alert] = []
    calm: list[tuple[Alert, bool]] = []
    for (point_id, name), (value, t) in sorted(results.items()):
        rule = rule_of[name]
        thresholds = rules.thresholds(rule, codes[point_id], antecedent_wet=point_id in wet)
        level = level_of(value, thresholds)
        alert = open_alerts.get((point_id, name))
        if level:
            if alert is None:
                alert = Alert.objects.create(hazard_point_id=point_id, rule=name, level=level, value=value,
                                             threshold=thresholds[level - 1], rules_version=rules.version,
                                             opened_at=now, last_exceeded_at=t)
                events.append(alert_event(alert, AlertEvent.Kind.CREATED, now, value=value))
                changes.append(Change(alert.pk, "created", level, point_id, name))
                continue
            if level > alert.level:
                alert.level, alert.escalated_at, alert.threshold = level, now, thresholds[level - 1]
                events.append(alert_event(alert, AlertEvent.Kind.ESCALATED, now, value=value))
                changes.append(Change(alert.pk, "escalated", level, point_id, name))
            alert.value = value
            alert.last_exceeded_at = max(alert.last_exceeded_at, t)
            touched.append(alert)
        elif alert is not None and t - alert.last_exceeded_at >= dt.timedelta(hours=rules.calm_for(codes[point_id])):
            alert.value = value  # saved only when it closes
            calm.append((alert, True))
    _close_all_clear(calm, rules, now, events, changes)
    if touched:
        Alert.objects.bulk_update(touched, ["level", "escalated_at", "threshold", "value", "last_exceeded_at"])
    AlertEvent.objects.bulk_create(events)
    _run_hooks(changes)
    return changes


@transaction.atomic
def check_offline(*, rules: RuleSet | None = None, now: dt.datetime | None = None) -> list[Change]:
    """Open an offline alert for every active device silent longer than its type's limit (devices that never
    reported are not commissioned yet and are left alone)."""
    rules = rules or current()
    now = now or timezone.now()
    changes, events = [], []
    for kind, minutes in rules.offline_after_minutes.items():
        silent = (Device.objects.filter(type=kind, status=DeviceStatus.ACTIVE,
                                        last_reading_at__lt=now - dt.timedelta(minutes=minutes))
                  .exclude(alerts__rule=OFFLINE_RULE, alerts__closed_at=None)
                  .values_list("pk", "hazard_point_id", "last_reading_at"))
        rows = list(silent)
        lock_points(r[1] for r in rows)
        for pk, point_id, last in rows:
            if Alert.objects.filter(rule=OFFLINE_RULE, device_id=pk, closed_at=None).exists():
                continue  # opened meanwhile by another checker
            alert = Alert.objects.create(hazard_point_id=point_id, rule=OFFLINE_RULE, device_id=pk,
                                         level=rules.offline_level, rules_version=rules.version, opened_at=now,
                                         last_exceeded_at=last)
            events.append(alert_event(alert, AlertEvent.Kind.CREATED, now, note=f"silent since {last.isoformat()}"))
            changes.append(Change(alert.pk, "created", alert.level, point_id, OFFLINE_RULE))
    AlertEvent.objects.bulk_create(events)
    return changes


@transaction.atomic
def close_calm(*, rules: RuleSet | None = None, now: dt.datetime | None = None) -> list[Change]:
    """All-clear for rule alerts whose last exceedance is older than their point's calm period (no new
    readings came to close them) and, with all_clear_requires_patrol, whose patrol reported normal; the
    change hooks hear of the closed and the held ones."""
    rules = rules or current()
    now = now or timezone.now()
    changes, events = [], []
    # offline alerts end when the device reports, area warning alerts with their warnings
    candidates = (Alert.objects.filter(closed_at=None).exclude(rule__in=[OFFLINE_RULE, "area_warning"])
                  .select_related("hazard_point").order_by("hazard_point_id"))
    calm = [alert for alert in candidates
            if now - alert.last_exceeded_at >= dt.timedelta(hours=rules.calm_for(alert.hazard_point.code))]
    lock_points(a.hazard_point_id for a in calm)
    # under the lock: an evaluation that committed meanwhile may have closed or re-exceeded one
    fresh = dict(Alert.objects.filter(pk__in=[a.pk for a in calm], closed_at=None)
                 .values_list("pk", "last_exceeded_at"))
    calm = [(a, False) for a in calm if a.pk in fresh and now - fresh[a.pk] >= dt.timedelta(
        hours=rules.calm_for(a.hazard_point.code))]
    _close_all_clear(calm, rules, now, events, changes)
    AlertEvent.objects.bulk_create(events)
    _run_hooks(changes)
    return changes


@transaction.atomic
def acknowledge(alert: Alert, user, note: str = "") -> Alert:
    """Record that `user` acknowledged the alert (the first acknowledgement sets acknowledged_at/by)."""
    now = timezone.now()
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    AlertEvent.objects.create(alert=alert, at=now, kind=AlertEvent.Kind.ACKNOWLEDGED, level=alert.level,
                              actor=user, note=note[:500])
    return alert
