"""Meteorological area warnings: a polygon, a level and a validity window raise every hazard point inside.

`issue` checks the request (400 naming the field: `level`, `area`, `valid_from`, `valid_to`, `issuer`, `note`),
stores the warning and applies it; `apply` makes the `area_warning` alerts match the warnings valid now: a point
covered by one or more valid warnings has an open alert at the highest of their levels (raised, never lowered
while open), a point no valid warning covers any more has its alert closed (`warning_ended`). The consumer runs
`apply` periodically, so warnings start and end on time without a request.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.db import connection, transaction
from django.utils import timezone

from city_gis.text_limits import has_control_chars

from .alerts import Change, alert_event, lock_points
from .models import LEVEL_BY_NAME, Alert, AlertEvent, AreaWarning
from .rules import current

AREA_RULE = "area_warning"
# Cost bounds of one warning (declared here, documented in docs/hazards.md).
MAX_VERTICES = 20_000
MAX_VALIDITY = dt.timedelta(days=7)
ISSUER_MAX, NOTE_MAX = 100, 500


class WarningError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _time(data: dict, name: str) -> dt.datetime:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > 40:
        raise WarningError(name, "required: an ISO 8601 timestamp with offset")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise WarningError(name, "not an ISO 8601 timestamp") from None
    if when.utcoffset() is None:
        raise WarningError(name, "needs a UTC offset (e.g. +08:00)")
    return when


def _area(value: Any) -> MultiPolygon:
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise WarningError("area", "required: a GeoJSON Polygon or MultiPolygon (EPSG:4490 lon/lat)")
    try:
        geom = GEOSGeometry(json.dumps(value, allow_nan=False))
    except (GDALException, GEOSException, ValueError, TypeError):
        raise WarningError("area", "not a readable GeoJSON polygon") from None
    geom.srid = 4490  # GeoJSON reads as EPSG:4326; the contract's coordinates are CGCS2000 lon/lat
    if geom.empty or geom.num_coords > MAX_VERTICES:
        raise WarningError("area", f"empty, or more than {MAX_VERTICES} vertices")
    xmin, ymin, xmax, ymax = geom.extent
    if not all(math.isfinite(v) for v in geom.extent) or xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise WarningError("area", "coordinates are lon −180…180, lat −90…90")
    if not geom.valid:
        raise WarningError("area", f"not a valid polygon ({geom.valid_reason})")
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon(geom, srid=4490)


def parse(data: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """The fields of a new warning from a request body, or WarningError naming the field."""
    now = now or timezone.now()
    if not isinstance(data, dict):
        raise WarningError("body", "a JSON object")
    extra = sorted(set(data) - {"level", "area", "valid_from", "valid_to", "issuer", "note"})
    if extra:
        raise WarningError(str(extra[0]), "unexpected field")
    level = data.get("level")
    if not isinstance(level, str) or level not in LEVEL_BY_NAME:
        raise WarningError("level", f"one of {', '.join(LEVEL_BY_NAME)}")
    area = _area(data.get("area"))
    valid_from, valid_to = _time(data, "valid_from"), _time(data, "valid_to")
    if valid_to <= valid_from:
        raise WarningError("valid_to", "must be after valid_from")
    if valid_to - valid_from > MAX_VALIDITY:
        raise WarningError("valid_to", f"a warning is valid for at most {MAX_VALIDITY.days} days")
    if valid_to <= now:
        raise WarningError("valid_to", "already past")
    texts = {}
    for name, limit in (("issuer", ISSUER_MAX), ("note", NOTE_MAX)):
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > limit or has_control_chars(value):
            raise WarningError(name, f"text of at most {limit} characters, no control characters")
        texts[name] = value
    return {"level": LEVEL_BY_NAME[level], "area": area, "valid_from": valid_from, "valid_to": valid_to, **texts}


@transaction.atomic
def issue(data: Any, user, now: dt.datetime | None = None) -> tuple[AreaWarning, list[Change]]:
    """Store a warning from a request body and apply the warnings valid now."""
    now = now or timezone.now()
    warning = AreaWarning.objects.create(issued_by=user, **parse(data, now))
    return warning, apply(now)


@transaction.atomic
def cancel(warning: AreaWarning, now: dt.datetime | None = None) -> list[Change]:
    now = now or timezone.now()
    AreaWarning.objects.filter(pk=warning.pk, cancelled_at__isnull=True).update(cancelled_at=now)
    return apply(now)


@transaction.atomic
def apply(now: dt.datetime | None = None) -> list[Change]:
    """Make the area_warning alerts match the warnings valid at `now` (see the module docstring)."""
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT hp.id, max(w.level) FROM layers_hazardpoint hp JOIN hazards_areawarning w"
            " ON ST_Covers(w.area, hp.geom) WHERE w.valid_from <= %s AND w.valid_to > %s AND w.cancelled_at IS NULL"
            " GROUP BY hp.id", [now, now])
        covered = dict(cur.fetchall())
    open_alerts = {a.hazard_point_id: a for a in Alert.objects.filter(rule=AREA_RULE, device=None, closed_at=None)}
    lock_points(set(covered) | set(open_alerts))
    version = current().version
    changes, events, touched = [], [], []
    for point_id, level in sorted(covered.items()):
        alert = open_alerts.get(point_id)
        if alert is None:
            alert = Alert.objects.create(hazard_point_id=point_id, rule=AREA_RULE, level=level, rules_version=version,
                                         opened_at=now, last_exceeded_at=now)
            events.append(alert_event(alert, AlertEvent.Kind.CREATED, now))
            changes.append(Change(alert.pk, "created", level, point_id, AREA_RULE))
            continue
        if level > alert.level:
            alert.level, alert.escalated_at = level, now
            events.append(alert_event(alert, AlertEvent.Kind.ESCALATED, now))
            changes.append(Change(alert.pk, "escalated", level, point_id, AREA_RULE))
        alert.last_exceeded_at = now
        touched.append(alert)
    for point_id, alert in open_alerts.items():
        if point_id in covered:
            continue
        alert.closed_at, alert.close_reason = now, "warning_ended"
        alert.save(update_fields=["closed_at", "close_reason"])
        events.append(alert_event(alert, AlertEvent.Kind.CLOSED, now, note="warning_ended"))
        changes.append(Change(alert.pk, "closed", alert.level, point_id, AREA_RULE))
    if touched:
        Alert.objects.bulk_update(touched, ["level", "escalated_at", "last_exceeded_at"])
    AlertEvent.objects.bulk_create(events)
    return changes
