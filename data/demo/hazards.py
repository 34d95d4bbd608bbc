"""Demo step: the monitoring network on the demo hazard points (city step) and the geohazard accounts.

Every hazard point gets a monitor (群测群防员: one of the demo inspectors), a grade from its threatened
people, a rain gauge and the deformation sensors its kind calls for; `hazard_officer` (地灾值班员) and
`hazard_gateway` (device gateway, posts readings) join the geohazard department. Cheap (~100 rows) and
idempotent; it reruns when the city step replaced the hazard points or the demo password changed.
No readings: the consumer, `POST /api/v1/hazards/readings/` or the bench bring them.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.geos import Point

from city_gis.accounts.models import Department, Role, User
from city_gis.hazards.models import Device, DeviceStatus, DeviceType, Grade, MonitoredPoint
from city_gis.hazards.partitions import ensure_partitions
from layers.models import HazardPoint

from .accounts import demo_password

# Sensors per hazard kind besides the rain gauge every point has.
SENSORS = {
    "landslide": [DeviceType.GNSS, DeviceType.CRACK_METER],
    "collapse": [DeviceType.CRACK_METER, DeviceType.INCLINOMETER],
    "debris_flow": [DeviceType.WATER_LEVEL],
    "subsidence": [DeviceType.GNSS],
}
PREFIX = {DeviceType.RAIN_GAUGE: "RG", DeviceType.GNSS: "GN", DeviceType.CRACK_METER: "CM",
          DeviceType.INCLINOMETER: "IN", DeviceType.WATER_LEVEL: "WL"}
ACCOUNTS = [("hazard_officer", "地灾值班员 周敏", [Role.HAZARD_OFFICER]),
            ("hazard_gateway", "监测设备网关", [Role.DEVICE_GATEWAY])]


def grade_of(people: int) -> str:
    """Grade by threatened people (特大型 ≥ 1000, 大型 ≥ 500, 中型 ≥ 100, else 小型)."""
    return (Grade.EXTRA_LARGE if people >= 1000 else Grade.LARGE if people >= 500
            else Grade.MEDIUM if people >= 100 else Grade.SMALL)


def needs_rerun(ctx) -> bool:
    """Rerun when the city step replaced the hazard points or the demo password changed (var/ of another
    checkout); otherwise skip, so concurrent builds never rewrite the device rows."""
    if MonitoredPoint.objects.count() != HazardPoint.objects.count() or not Device.objects.exists():
        return True
    users = {u.username: u for u in User.objects.filter(username__in=[a[0] for a in ACCOUNTS])}
    return len(users) != len(ACCOUNTS) or not users[ACCOUNTS[0][0]].check_password(demo_password())


def run(ctx) -> None:
    rng = ctx.rng("hazards")
    dept = Department.objects.get(code="geohazard")
    password = demo_password()
    for username, display, roles in ACCOUNTS:
        user, _ = User.objects.update_or_create(username=username, defaults={
            "display_name": display, "roles": [str(r) for r in roles], "department": dept})
        user.set_password(password)
        user.save(update_fields=["password"])
    monitors = list(User.objects.filter(roles__contains=[Role.INSPECTOR]).order_by("username"))
    points = list(HazardPoint.objects.order_by("code"))
    for n, hp in enumerate(points):
        MonitoredPoint.objects.update_or_create(hazard_point=hp, defaults={
            "monitor": monitors[n % len(monitors)] if monitors else None, "grade": grade_of(hp.threatened_people)})
        for k, kind in enumerate([DeviceType.RAIN_GAUGE, *SENSORS.get(hp.kind, [])]):
            # a few metres apart around the point (1e-5° ≈ 1 m)
            at = Point(hp.geom.x + rng.uniform(-3e-4, 3e-4), hp.geom.y + rng.uniform(-3e-4, 3e-4), srid=4490)
            Device.objects.update_or_create(code=f"{PREFIX[kind]}-{hp.code}-{k + 1}", defaults={
                "type": kind, "hazard_point": hp, "location": at, "status": DeviceStatus.ACTIVE,
                "installed_on": dt.date(2024, 4, 1) + dt.timedelta(days=rng.randint(0, 400))})
    ensure_partitions()
    # the live alert, device and area-warning layers (city_gis/hazards/maplayers.py), owned as the other domain
    # layers are (CITYGIS_DOMAIN_LAYER_OWNER); the tests register them themselves
    from city_gis.hazards.maplayers import register_hazard_layers

    register_hazard_layers()
