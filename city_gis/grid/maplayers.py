"""The grid app's entries in the layer registry: grid.cells and grid.components.

Both take `owner` (default: the CITYGIS_DOMAIN_LAYER_OWNER department) and register nothing (None) without it.
"""

from __future__ import annotations

from city_gis.accounts.layer_owner import domain_layer_owner
from city_gis.accounts.models import Department
from layers.models import Layer

STATE_CLASSES = [
    {"value": "intact", "label": "完好", "fill": "#1a9641"},
    {"value": "damaged", "label": "损坏", "fill": "#fdae61"},
    {"value": "lost", "label": "丢失", "fill": "#d7191c"},
    {"value": "removed", "label": "废弃", "fill": "#999999"},
]


def register_cell_layer(owner: Department | str | None = None) -> Layer | None:
    """Register (or update) grid.cells: the current unit grid cells (public)."""
    from layers.registry import register_layer

    owner = owner or domain_layer_owner()
    if owner is None:
        return None
    return register_layer(
        "grid.cells", owner=owner, kind="vector", geometry_type="POLYGON", source_table="grid_cell",
        source_where=[{"column": "valid_to", "op": "is_null"}], title_zh="单元网格", title_en="Unit grid cells",
        abstract="万米单元网格：按道路切分街区，约 10,000 平方米，编码 = 社区代码 + 序号。", keywords=["数字城管", "单元网格"],
        style={"fill": "#ffffff", "opacity": 0, "stroke": "#d95f02", "stroke_width": 0.8,
               "label": {"attribute": "code", "size": 8, "color": "#d95f02", "min_scale": 0, "max_scale": 8000}},
        classification="public", update_frequency="irregular", sort_order=10,
    )


def register_component_layer(owner: Department | str | None = None) -> Layer | None:
    """Register (or update) grid.components, backed by the view grid_component_v."""
    from layers.registry import register_layer

    owner = owner or domain_layer_owner()
    if owner is None:
        return None
    return register_layer(
        "grid.components", owner=owner, title_zh="城市部件", title_en="City components",
        abstract="城市管理部件（井盖、路灯、垃圾箱、行道树、公交站亭等），16 位部件标识码。",
        keywords=["部件", "数字城管"], kind="vector", geometry_type="POINT", source_table="grid_component_v",
        id_column="id", geom_column="geom",
        attribute_columns=["code", "name", "category_code", "category_name", "state", "cell_code",
                           "maintainer_department"],
        style={"symbol": "circle", "size": 5, "fill": "#1a9641", "stroke": "#ffffff", "stroke_width": 0.5,
               "classify_by": "state", "classes": STATE_CLASSES},
        classification="internal", update_frequency="irregular", min_zoom=15, sort_order=20,
    )
