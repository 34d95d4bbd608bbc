"""Monthly partitions of the case history (`cases_casehistory`, migration 0005): created for a month range and
ahead, rows that reached the catch-all default partition moved into their month's.

The history is kept for ever: nothing is dropped. `citygis case_history_partitions` (run by scripts/setup.sh, so
by every `make run`, and meant for a monthly cron) keeps CITYGIS_CASE_HISTORY_PARTITIONS_AHEAD months ahead and
empties the default partition; bulk writers of past or future history (the demo, the evaluation bench) call
`ensure_partitions(first, last)` for their range first. An insert never fails for want of a partition.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection as default_connection
from django.utils import timezone


def _local_date(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def ensure_partitions(first: dt.datetime | dt.date | None = None, last: dt.datetime | dt.date | None = None, *,
                      connection=None) -> int:
    """Create the missing partitions from `first`'s month (default: the oldest row waiting in the default
    partition, else this month) to `last`'s (default: CITYGIS_CASE_HISTORY_PARTITIONS_AHEAD months ahead),
    moving the default partition's rows of those months into them; returns how many were made."""
    conn = connection or default_connection
    today = timezone.localdate()
    with conn.cursor() as cur:
        cur.execute("SELECT min(at), max(at) FROM cases_casehistory_default")
        waiting_first, waiting_last = cur.fetchone()
        start = min(d for d in (_local_date(first) if first else None,
                                _local_date(waiting_first) if waiting_first else None, today) if d)
        ahead = today.replace(day=1) + dt.timedelta(days=31 * settings.CITYGIS_CASE_HISTORY_PARTITIONS_AHEAD)
        end = max(d for d in (_local_date(last) if last else None,
                              _local_date(waiting_last) if waiting_last else None, ahead) if d)
        cur.execute("SELECT cases_history_ensure_partitions(%s, %s, %s)", [start, end, settings.TIME_ZONE])
        return cur.fetchone()[0]


def partition_names(*, connection=None) -> list[str]:
    """Names of the history's partitions, oldest first, the default partition last."""
    with (connection or default_connection).cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'cases_casehistory'::regclass ORDER BY c.relname = 'cases_casehistory_default', "
                    "c.relname")
        return [r[0] for r in cur.fetchall()]


def waiting_rows(*, connection=None) -> int:
    """Rows in the default partition (none after ensure_partitions)."""
    with (connection or default_connection).cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_casehistory_default")
        return cur.fetchone()[0]
