"""A device's stored readings over a time window, for the duty officers' charts (bounded in window and rows).

The window defaults to the last READINGS_DEFAULT_HOURS before `until` (default now); it may span at most
READINGS_MAX_DAYS, and at most READINGS_MAX_ROWS readings are returned (the newest ones; `truncated` says so).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .validation import QUANTITIES

READINGS_DEFAULT_HOURS = int(getattr(settings, "CITYGIS_HAZARD_READINGS_DEFAULT_HOURS", 72))
READINGS_MAX_DAYS = int(getattr(settings, "CITYGIS_HAZARD_READINGS_MAX_DAYS", 31))
READINGS_MAX_ROWS = int(getattr(settings, "CITYGIS_HAZARD_READINGS_MAX_ROWS", 5000))
COLUMNS = tuple(QUANTITIES)  # the quantity columns of hazards_reading, a constant list


class WindowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def window(since: dt.datetime | None, until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The (since, until) asked for, defaults filled in; WindowError naming the field when out of bounds."""
    until = until or timezone.now()
    try:
        since = since or until - dt.timedelta(hours=READINGS_DEFAULT_HOURS)
    except OverflowError:
        raise WindowError("until", "too early") from None
    if since >= until:
        raise WindowError("since", "must be before until")
    if until - since > dt.timedelta(days=READINGS_MAX_DAYS):
        raise WindowError("since", f"the window spans at most {READINGS_MAX_DAYS} days")
    return since, until


def device_readings(device_id: int, since: dt.datetime, until: dt.datetime) -> dict:
    """Readings of one device in [since, until), oldest first: only the quantities that have a value."""
    cols = ", ".join(COLUMNS)
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT observed_at, {cols} FROM (
                SELECT observed_at, {cols} FROM hazards_reading
                WHERE device_id = %s AND observed_at >= %s AND observed_at < %s
                ORDER BY observed_at DESC LIMIT %s) r
            ORDER BY observed_at""", [device_id, since, until, READINGS_MAX_ROWS + 1])
        rows = cur.fetchall()
    truncated = len(rows) > READINGS_MAX_ROWS
    if truncated:
        rows = rows[1:]  # the oldest one goes: the newest READINGS_MAX_ROWS stay
    readings = [{"observed_at": r[0].isoformat(),
                 "values": {c: v for c, v in zip(COLUMNS, r[1:], strict=True) if v is not None}} for r in rows]
    return {"since": since.isoformat(), "until": until.isoformat(), "count": len(readings),
            "truncated": truncated, "readings": readings}
