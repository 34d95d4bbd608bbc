"""The grid app's entries in the layer registry: grid.components (the cells layer is registered by the grid demo)."""

from __future__ import annotations

from layers.models import Layer

STATE_CLASSES = [
    {"value": "intact", "label": "完好", "fill": "#1a9641"},
    {"value": "damaged", "label": "损坏", "fill": "#fdae61"},
    {"value": "lost", "label": "丢失", "fill": "#d7191c"},
    {"value": "removed", "label": "废弃", "fill": "#999999"},
]


def register_component_layer() -> Layer:
    """Register (or update) grid.components, backed by the view grid_component_v."""
    from layers.registry import register_layer

    return register_layer(
        "grid.components", owner="urban", title_zh="城市部件", title_en="City components",
        abstract="城市管理部件（井盖、路灯、垃圾箱、行道树、公交站亭等），16 位部件标识码。",
        keywords=["部件", "数字城管"], kind="vector", geometry_type="POINT", source_table="grid_component_v",
        id_column="id", geom_column="geom",
        attribute_columns=["code", "name", "category_code", "category_name", "state", "cell_code",
                           "maintainer_department"],
        style={"symbol": "circle", "size": 5, "fill": "#1a9641", "stroke": "#ffffff", "stroke_width": 0.5,
               "classify_by": "state", "classes": STATE_CLASSES},
        classification="internal", update_frequency="irregular", min_zoom=15, sort_order=20,
    )
