"""The hazard layers are live WMS layers under the hazards read policy: a new red alert shows at once
(no cache), and capabilities list them only for those who may see alerts."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone
from PIL import Image

from tests.tileserver.conftest import (  # noqa: F401 — generated configuration in a temporary directory
    tile_data,
    tile_settings,
    tiles_var,
)


@pytest.fixture(scope="module")
def hazard_layers(tile_data, django_db_blocker):  # noqa: F811 — the imported fixture
    """The hazard layers registered (the demo loader does not yet) and the map configuration regenerated."""
    from city_gis.hazards.maplayers import register_hazard_layers
    from tileserver.generate import generate_all

    with django_db_blocker.unblock():
        register_hazard_layers()
        generate_all()


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hazard_layers")]

LAYERS = ("disaster.alerts", "disaster.devices", "disaster.area_warnings")
RULE = "test_maplayers"


def test_the_layers_are_registered_live_internal_and_classed_by_level():
    from layers.models import Layer

    for name in LAYERS:
        layer = Layer.objects.get(name=name)
        assert (layer.cacheable, layer.classification) == (False, "internal"), name
    alerts = Layer.objects.get(name="disaster.alerts")
    assert alerts.style["classify_by"] == "level_name"
    assert [c["value"] for c in alerts.style["classes"]] == ["blue", "yellow", "orange", "red"]


def _committed(sql: str, params: list) -> None:
    """Run `sql` on a connection of its own and commit: MapServer reads the database in its own connection, and
    the test's connection is inside the test's (rolled back) transaction."""
    import psycopg2
    from django.db import connection

    conn = psycopg2.connect(**connection.get_connection_params())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


@pytest.fixture
def quiet_point():
    """A monitored point without an open alert, its small WMS window (lat,lon order), and cleanup of the
    committed test alert."""
    from city_gis.hazards.models import Alert, MonitoredPoint

    busy = Alert.objects.filter(closed_at__isnull=True).values("hazard_point_id")
    point = (MonitoredPoint.objects.exclude(hazard_point_id__in=busy)
             .select_related("hazard_point").order_by("hazard_point__code").first().hazard_point)
    x, y = point.geom.x, point.geom.y
    yield point, f"{y - 0.0005},{x - 0.0005},{y + 0.0005},{x + 0.0005}"
    _committed("DELETE FROM hazards_alert WHERE rule = %s", [RULE])


def _getmap(client, bbox: str):
    return client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "disaster.alerts",
                               "STYLES": "", "FORMAT": "image/png", "TRANSPARENT": "TRUE", "WIDTH": "32",
                               "HEIGHT": "32", "CRS": "EPSG:4490", "BBOX": bbox})


def _red_pixels(content: bytes) -> int:
    img = Image.open(io.BytesIO(content)).convert("RGBA")
    return sum(1 for r, g, b, a in img.getdata() if a > 128 and r > 180 and g < 80 and b < 80)


def test_getmap_shows_a_new_red_alert_at_once(client, quiet_point):
    from city_gis.accounts.models import User
    from city_gis.hazards.models import Level

    point, bbox = quiet_point
    client.force_login(User.objects.get(username="hazard_officer"))
    before = _getmap(client, bbox)
    assert before.status_code == 200 and before["Content-Type"].startswith("image/png"), before.content[:300]
    assert _red_pixels(before.content) == 0
    now = timezone.now()
    _committed("INSERT INTO hazards_alert (rule, level, rules_version, opened_at, last_exceeded_at, close_reason, "
               "hazard_point_id) VALUES (%s, %s, 'test', %s, %s, '', %s)", [RULE, int(Level.RED), now, now, point.pk])
    after = _getmap(client, bbox)
    assert after.status_code == 200
    assert _red_pixels(after.content) > 0  # drawn from the database on this request: nothing cached


def _capability_names(client) -> str:
    r = client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"})
    assert r.status_code == 200
    return r.content.decode()


def test_capabilities_list_the_alerts_only_for_those_who_may_see_them(client):
    from city_gis.accounts.models import User

    assert "<Name>disaster.alerts</Name>" not in _capability_names(client)  # anonymous
    for username in ("planner", "operator", "dept_sanitation"):
        client.force_login(User.objects.get(username=username))
        assert "<Name>disaster.alerts</Name>" not in _capability_names(client), username
    client.force_login(User.objects.get(username="hazard_officer"))
    names = _capability_names(client)
    assert all(f"<Name>{name}</Name>" in names for name in LAYERS)
