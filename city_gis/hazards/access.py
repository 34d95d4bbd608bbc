"""Who may see the monitoring network and its alerts, post readings and acknowledge alerts (one place).

The duty side (hazard officers, shift leaders, read-only leaders, the geohazard department and administrators)
sees everything; a monitor (群测群防员, an inspector) sees the devices and alerts of the points he or she is
responsible for; nobody else sees any. Readings are posted by device gateways and hazard officers.
"""

from __future__ import annotations

from django.db.models import QuerySet

from city_gis.accounts.models import Role

HAZARD_DEPARTMENT = "geohazard"  # the department whose staff see the whole network


def sees_all(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_role(Role.HAZARD_OFFICER, Role.LEADER, Role.LEADER_VIEW):
        return True
    return getattr(user.department, "code", None) == HAZARD_DEPARTMENT


def monitor_points(user) -> QuerySet:
    """The hazard points `user` is the monitor of, as a `hazard_point_id` values queryset (a subquery): the one
    rule of a monitor's share of devices and alerts, here and in the map layers' row filter (maplayers)."""
    from .models import MonitoredPoint

    return MonitoredPoint.objects.filter(monitor=user).values("hazard_point_id")


def visible_devices(user, qs: QuerySet) -> QuerySet:
    if sees_all(user):
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(hazard_point_id__in=monitor_points(user))


def visible_alerts(user, qs: QuerySet) -> QuerySet:
    return visible_devices(user, qs)  # both hang on hazard_point


def may_post_readings(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.has_role(Role.DEVICE_GATEWAY, Role.HAZARD_OFFICER)


def may_acknowledge(user, alert) -> bool:
    """Hazard officers, shift leaders and administrators, and the point's own monitor (not read-only roles)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_role(Role.HAZARD_OFFICER, Role.LEADER):
        return True
    return monitor_points(user).filter(hazard_point_id=alert.hazard_point_id).exists()


def sees_warnings(user) -> bool:
    """Area warnings: the duty side and every monitor."""
    if sees_all(user):
        return True
    return getattr(user, "is_authenticated", False) and monitor_points(user).exists()


def may_issue_warnings(user) -> bool:
    """Hazard officers (also the weather bureau's system, through an account holding the role)."""
    return getattr(user, "is_authenticated", False) and user.has_role(Role.HAZARD_OFFICER)
