"""access.monitor_points, the one rule of a monitor's share: the devices and alerts lists, acknowledging, area
warnings and the hazard map layers' row filter (maplayers) all read it, so they select the same points."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _user(username: str):
    from city_gis.accounts.models import User

    return User.objects.get(username=username)


def test_monitor_points_are_the_points_the_user_monitors():
    from city_gis.hazards.access import monitor_points
    from city_gis.hazards.models import MonitoredPoint

    inspector = _user("inspector1")
    own = set(MonitoredPoint.objects.filter(monitor=inspector).values_list("hazard_point_id", flat=True))
    assert own and MonitoredPoint.objects.exclude(monitor=inspector).exists(), "the demo has other monitors"
    assert set(monitor_points(inspector).values_list("hazard_point_id", flat=True)) == own
    assert not monitor_points(_user("operator")).exists()


def test_the_map_layer_rows_of_a_monitor_are_the_devices_the_api_shows():
    from city_gis.hazards.access import visible_devices
    from city_gis.hazards.maplayers import DEVICES
    from city_gis.hazards.models import Device
    from layers.access import Access, read_access, row_filter
    from layers.models import Layer

    inspector = _user("inspector1")
    layer = Layer(name=DEVICES, classification="internal")
    assert read_access(inspector, layer) is Access.PARTIAL
    sql, params = row_filter(inspector, layer)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {Device._meta.db_table} WHERE {sql}", params)  # noqa: S608 — our filter
        rows = {row[0] for row in cur.fetchall()}
    shown = set(visible_devices(inspector, Device.objects.all()).values_list("id", flat=True))
    assert rows and rows == shown
    assert rows != set(Device.objects.values_list("id", flat=True)), "a monitor sees only his points' devices"
