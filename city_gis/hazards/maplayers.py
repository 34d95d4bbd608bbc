"""The hazards app's entries in the layer registry: open alerts, devices and active area warnings.

All three are live (not cached: an alert must show the moment it is raised) and internal; who reads them is
decided by city_gis/hazards/access.py, registered here into layers.access for every path.
"""

from __future__ import annotations

from city_gis.accounts.layer_owner import domain_layer_owner
from city_gis.accounts.models import Department
from layers.access import Access, RowFilter, register_read_policy
from layers.models import Layer

from .access import monitor_points, sees_all, sees_warnings

ALERTS, DEVICES, WARNINGS = "disaster.alerts", "disaster.devices", "disaster.area_warnings"

LEVEL_CLASSES = [
    {"value": "blue", "label": "蓝色预警", "fill": "#2c7bb6"},
    {"value": "yellow", "label": "黄色预警", "fill": "#ffd700"},
    {"value": "orange", "label": "橙色预警", "fill": "#fd8d3c"},
    {"value": "red", "label": "红色预警", "fill": "#d7191c"},
]
STATUS_CLASSES = [
    {"value": "active", "label": "运行", "fill": "#1a9641"},
    {"value": "maintenance", "label": "维护", "fill": "#fdae61"},
    {"value": "retired", "label": "停用", "fill": "#999999"},
]


def register_hazard_layers(owner: Department | str | None = None) -> list[Layer]:
    """Register (or update) the three live hazard layers; without an owner department nothing ([])."""
    from layers.registry import register_layer

    owner = owner or domain_layer_owner()
    if owner is None:
        return []
    common = {"owner": owner, "kind": "vector", "id_column": "id", "geom_column": "geom",
              "classification": "internal", "update_frequency": "continual", "cacheable": False}
    return [
        register_layer(
            ALERTS, title_zh="地灾预警", title_en="Geohazard alerts",
            abstract="未解除的地质灾害监测预警，按蓝黄橙红四级着色。", keywords=["地质灾害", "预警"],
            source_table="hazards_alerts_open_v", geometry_type="POINT",
            attribute_columns=["hazard_point_id", "point_code", "rule", "level", "level_name", "opened_at",
                               "acknowledged_at"],
            style={"symbol": "circle", "size": 12, "fill": "#2c7bb6", "stroke": "#ffffff", "stroke_width": 1,
                   "classify_by": "level_name", "classes": LEVEL_CLASSES},
            sort_order=40, **common,
        ),
        register_layer(
            DEVICES, title_zh="监测设备", title_en="Monitoring devices",
            abstract="地质灾害监测设备及其运行状态。", keywords=["地质灾害", "监测设备"],
            source_table="hazards_devices_v", geometry_type="POINT",
            attribute_columns=["hazard_point_id", "code", "type", "status", "last_reading_at"],
            style={"symbol": "square", "size": 7, "fill": "#1a9641", "stroke": "#333333", "stroke_width": 0.5,
                   "classify_by": "status", "classes": STATUS_CLASSES},
            sort_order=41, **common,
        ),
        register_layer(
            WARNINGS, title_zh="区域预警", title_en="Area warnings",
            abstract="生效中的气象地质灾害区域预警，按级别着色。", keywords=["地质灾害", "区域预警"],
            source_table="hazards_warnings_active_v", geometry_type="POLYGON",
            attribute_columns=["level", "level_name", "valid_from", "valid_to", "issuer"],
            style={"fill": "#2c7bb6", "stroke": "#555555", "stroke_width": 0.6, "opacity": 50,
                   "classify_by": "level_name", "classes": LEVEL_CLASSES},
            sort_order=42, **common,
        ),
    ]


# ------------------------------------------------------------------ who reads the hazard layers (every path)


def _point_layer_access(user) -> Access:
    """Alerts and devices follow visible_alerts/visible_devices: the duty side all, a monitor his points."""
    if sees_all(user):
        return Access.FULL
    if getattr(user, "is_authenticated", False) and monitor_points(user).exists():
        return Access.PARTIAL
    return Access.NONE


def _point_rows(user, layer: Layer) -> RowFilter:
    """`hazard_point_id IN (the monitor's points)`, compiled from the same queryset as access.py uses."""
    sql, params = monitor_points(user).query.sql_with_params()
    return f"hazard_point_id IN ({sql})", list(params)


def _warning_access(user) -> Access:
    return Access.FULL if sees_warnings(user) else Access.NONE


register_read_policy(ALERTS, _point_layer_access, _point_rows)
register_read_policy(DEVICES, _point_layer_access, _point_rows)
register_read_policy(WARNINGS, _warning_access)
