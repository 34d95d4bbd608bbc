"""Fixtures of the hazards tests: demo devices, readings written through the one ingestion path."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone


@pytest.fixture
def device(db):
    """device("rain_gauge") → a demo device of that type (changes roll back with the test)."""
    from city_gis.hazards.models import Device

    def pick(kind: str, n: int = 0) -> Device:
        return Device.objects.filter(type=kind).select_related("hazard_point").order_by("code")[n]

    return pick


@pytest.fixture
def put(db):
    """put(device, minutes_ago, rain_mm=…) stores one reading through ingest.store and returns its Result."""
    from city_gis.hazards.ingest import store
    from city_gis.hazards.validation import Reading

    def write(device, at: dt.datetime | float, **values):
        when = at if isinstance(at, dt.datetime) else timezone.now() - dt.timedelta(minutes=at)
        return store([Reading(device.pk, when, values)])

    return write


def reading_count(device_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM hazards_reading WHERE device_id = %s", [device_id])
        return cur.fetchone()[0]
