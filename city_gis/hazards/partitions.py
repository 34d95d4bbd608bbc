"""Monthly partitions of `hazards_reading`: created ahead, dropped beyond the retention (settings).

CITYGIS_HAZARD_RETENTION_MONTHS months are kept (the current one included) and CITYGIS_HAZARD_PARTITIONS_AHEAD
months exist ahead; the consumer calls `ensure_partitions` at start and once a day, `citygis hazard_partitions`
does both jobs from cron or by hand. A reading older than the retention window is refused (validation.py).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection as default_connection
from django.utils import timezone


def month_start(day: dt.date, months: int = 0) -> dt.date:
    """First day of the month `months` after (negative: before) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def retention_start(now: dt.datetime | None = None) -> dt.datetime:
    """The oldest observed_at kept: the local start of the first month of the retention window."""
    local = timezone.localtime(now or timezone.now())
    first = month_start(local.date(), -(settings.CITYGIS_HAZARD_RETENTION_MONTHS - 1))
    return timezone.make_aware(dt.datetime(first.year, first.month, 1))


def ensure_partitions(now: dt.datetime | None = None, *, connection=None) -> int:
    """Create the missing partitions from the retention start to the months ahead; returns how many were made."""
    local = timezone.localtime(now or timezone.now()).date()
    first = retention_start(now).date()
    last = month_start(local, settings.CITYGIS_HAZARD_PARTITIONS_AHEAD)
    with (connection or default_connection).cursor() as cur:
        cur.execute("SELECT hazards_ensure_partitions(%s, %s, %s)", [first, last, settings.TIME_ZONE])
        return cur.fetchone()[0]


def drop_expired(now: dt.datetime | None = None, *, connection=None) -> int:
    """Drop the partitions wholly before the retention window; returns how many were dropped."""
    with (connection or default_connection).cursor() as cur:
        cur.execute("SELECT hazards_drop_partitions(%s)", [retention_start(now).date()])
        return cur.fetchone()[0]


def partition_names(*, connection=None) -> list[str]:
    """Names of the existing partitions, oldest first."""
    with (connection or default_connection).cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'hazards_reading'::regclass ORDER BY c.relname")
        return [r[0] for r in cur.fetchall()]
