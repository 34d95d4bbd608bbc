"""The cases app's entries in the layer registry: cases.open (by traffic light) and cases.closed."""

from __future__ import annotations

from city_gis.accounts.layer_owner import domain_layer_owner
from city_gis.accounts.models import Department
from layers.access import Access, RowFilter, register_read_policy
from layers.models import Layer

from .access import sees_all_cases, sees_some_cases, visible_cases

LIGHT_CLASSES = [
    {"value": "green", "label": "绿灯（按时）", "fill": "#1a9641"},
    {"value": "yellow", "label": "黄灯（即将超时）", "fill": "#fdae61"},
    {"value": "red", "label": "红灯（超时）", "fill": "#d7191c"},
]


def register_case_layers(owner: Department | str | None = None) -> list[Layer]:
    """Register (or update) cases.open and cases.closed; both are live (not cached), internal.

    `owner` defaults to the CITYGIS_DOMAIN_LAYER_OWNER department; without it nothing is registered ([]).
    """
    from layers.registry import register_layer

    owner = owner or domain_layer_owner()
    if owner is None:
        return []
    common = {"owner": owner, "kind": "vector", "geometry_type": "POINT", "id_column": "id", "geom_column": "geom",
              "classification": "internal", "update_frequency": "continual", "cacheable": False}
    return [
        register_layer(
            "cases.open", title_zh="在办案卷", title_en="Open cases",
            abstract="未办结的城市管理案卷，按红黄绿灯着色（读取时按当前时间计算）。", keywords=["案卷", "数字城管"],
            source_table="cases_open_v",
            attribute_columns=["number", "state", "category_code", "category_name", "urgency", "address",
                               "department_name", "stage_deadline", "light", "supervised"],
            style={"symbol": "circle", "size": 8, "fill": "#1a9641", "stroke": "#ffffff", "stroke_width": 1,
                   "classify_by": "light", "classes": LIGHT_CLASSES,
                   "label": {"attribute": "number", "size": 8, "color": "#333333", "min_scale": 0, "max_scale": 5000}},
            sort_order=30, **common,
        ),
        register_layer(
            "cases.closed", title_zh="已结案案卷", title_en="Closed cases",
            abstract="已结案的城市管理案卷。", keywords=["案卷", "数字城管"], source_table="cases_closed_v",
            attribute_columns=["number", "category_code", "category_name", "address", "department_name",
                               "closed_at", "close_type"],
            style={"symbol": "circle", "size": 6, "fill": "#4575b4", "stroke": "#ffffff", "stroke_width": 0.5},
            sort_order=31, **common,
        ),
    ]


# ------------------------------------------------------------------ who reads the case layers (every path)


def _case_layer_access(user) -> Access:
    """The case layers follow /api/v1/cases/: the centre sees all; handlers and inspectors only their rows
    (REST features, row-filtered); everybody else nothing."""
    if sees_all_cases(user):
        return Access.FULL
    return Access.PARTIAL if sees_some_cases(user) else Access.NONE


def _case_rows(user, layer: Layer) -> RowFilter:
    """`<id> IN (the cases visible_cases gives user)`: the same rule, compiled as a parameterised subquery."""
    from django.db import connection

    sql, params = visible_cases(user).values("pk").query.sql_with_params()
    return f"{connection.ops.quote_name(layer.id_column)} IN ({sql})", list(params)


register_read_policy("cases.", _case_layer_access, _case_rows)
