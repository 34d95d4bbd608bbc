"""The readings table is partitioned by month; partitions exist for the retention window and months ahead."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from city_gis.hazards.partitions import (
    drop_expired,
    ensure_partitions,
    month_start,
    partition_names,
    retention_start,
)

pytestmark = pytest.mark.django_db


def test_readings_table_is_range_partitioned_on_observed_at():
    with connection.cursor() as cur:
        cur.execute("SELECT partstrat, pg_get_partkeydef('hazards_reading'::regclass) FROM pg_partitioned_table "
                    "WHERE partrelid = 'hazards_reading'::regclass")
        assert cur.fetchone() == ("r", "RANGE (observed_at)")
        cur.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'hazards_reading'::regclass AND contype = 'p'")
        assert cur.fetchone() == ("PRIMARY KEY (device_id, observed_at)",)


def test_a_partition_per_month_from_retention_start_to_the_months_ahead(settings):
    today = timezone.localdate()
    first = month_start(today, -(settings.CITYGIS_HAZARD_RETENTION_MONTHS - 1))
    last = month_start(today, settings.CITYGIS_HAZARD_PARTITIONS_AHEAD)
    expected, m = [], first
    while m <= last:
        expected.append(f"hazards_reading_{m:%Y}m{m:%m}")
        m = month_start(m, 1)
    names = partition_names()
    assert set(expected) <= set(names)
    assert ensure_partitions() == 0  # idempotent


def test_month_bounds_are_local_month_starts():
    name = f"hazards_reading_{timezone.localdate():%Y}m{timezone.localdate():%m}"
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE relname = %s", [name])
        bound = cur.fetchone()[0]
    start = month_start(timezone.localdate())
    # printed in the session's time zone (UTC under Django): local midnight of the 1st, Asia/Shanghai
    utc = timezone.make_aware(dt.datetime(start.year, start.month, 1)).astimezone(dt.UTC)
    assert bound.startswith(f"FOR VALUES FROM ('{utc:%Y-%m-%d %H:%M:%S}+00')")


def test_retention_drops_only_partitions_before_the_window(settings):
    ahead = month_start(timezone.localdate(), 3)
    later = timezone.make_aware(dt.datetime(ahead.year, ahead.month, 2))
    settings.CITYGIS_HAZARD_PARTITIONS_AHEAD = 0
    oldest_before = partition_names()[0]
    assert drop_expired(now=later) == 3
    names = partition_names()
    assert oldest_before not in names
    start = retention_start(later)
    assert names[0] == f"hazards_reading_{start:%Y}m{start:%m}"  # rolled back with the test
