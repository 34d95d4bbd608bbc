"""What the generators need to know about each registered layer: resolved columns, SQL, style.

Read once per generation from the registry and PostGIS' catalog; layers whose table is missing are skipped
(with a warning) so that one broken registration does not unpublish every other layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from layers.models import Layer
from layers.registry import table_columns

log = logging.getLogger(__name__)

# Types MapServer's PostGIS driver does not map to attributes: published as text.
_TEXT_CAST_TYPES = {"json", "jsonb", "ARRAY", "USER-DEFINED", "interval", "bytea"}


@dataclass
class LayerSpec:
    name: str
    theme: str
    title: str
    abstract: str
    keywords: list[str]
    kind: str  # vector | raster
    geometry_type: str  # POINT | LINESTRING | POLYGON | RASTER
    cacheable: bool
    classification: str
    style: dict[str, Any]
    attributes: list[str] = field(default_factory=list)
    select_sql: str = ""  # vector: "select … from … where …"
    id_column: str = "id"
    geom_column: str = "geom"
    raster_path: str = ""
    extent: tuple[float, float, float, float] | None = None
    min_zoom: int = 0
    max_zoom: int = 19


def _vector_spec(layer: Layer, spec: LayerSpec) -> LayerSpec | None:
    columns = table_columns(layer.source_table)
    if not columns:
        log.warning("layer %s: table %s not found, not published", layer.name, layer.source_table)
        return None
    types = {c: (t, u) for c, t, u in columns}
    if layer.geom_column not in types or layer.id_column not in types:
        log.warning("layer %s: id/geometry column missing in %s, not published", layer.name, layer.source_table)
        return None
    wanted = list(layer.attribute_columns) or [c for c, _t, u in columns if u not in ("geometry", "geography")]
    attrs = [c for c in wanted if c in types and c != layer.geom_column]
    if layer.id_column not in attrs:
        attrs.insert(0, layer.id_column)
    # Identifiers are validated by the registry model ([a-z_][a-z0-9_]*), so they need no quoting here;
    # not quoting keeps the mapfile DATA string free of double quotes.
    select = [layer.geom_column]
    for col in attrs:
        data_type, udt = types[col]
        if data_type in _TEXT_CAST_TYPES or udt in ("json", "jsonb"):
            select.append(f"{col}::text as {col}")
        else:
            select.append(col)
    sql = f"select {', '.join(select)} from {layer.source_table}"
    if layer.source_filter:
        sql += f" where ({layer.source_filter})"
    spec.attributes, spec.select_sql = attrs, sql
    spec.id_column, spec.geom_column = layer.id_column, layer.geom_column
    return spec


def clean_style(layer: Layer) -> dict[str, Any]:
    """The layer's style normalised by layers.style; an invalid style falls back to defaults (logged), so one
    bad document cannot unpublish the layer."""
    raw = layer.style if isinstance(layer.style, dict) else {}
    try:
        from layers.style import StyleError, normalise_style
    except ImportError:  # older registry without the validator: the mapfile writer checks each value itself
        return raw
    try:
        return normalise_style(raw)
    except StyleError as exc:
        log.warning("layer %s: invalid style (%s), default style used", layer.name, exc)
        return {}


def layer_spec(layer: Layer) -> LayerSpec | None:
    """The generator's view of one registry entry, or None when it cannot be published."""
    style = clean_style(layer)
    spec = LayerSpec(
        name=layer.name,
        theme=layer.theme,
        title=layer.title_zh or layer.name,
        abstract=layer.abstract or "",
        keywords=[k for k in (layer.keywords or []) if k],
        kind=layer.kind,
        geometry_type=layer.geometry_type,
        cacheable=bool(layer.cacheable) and layer.theme not in ("cases", "evaluation"),
        classification=layer.classification,
        style=style,
        extent=layer.bbox,
        min_zoom=layer.min_zoom,
        max_zoom=layer.max_zoom,
    )
    if layer.kind == "raster":
        if not layer.raster_path:
            return None
        spec.raster_path = layer.raster_path
        return spec
    if not layer.source_table:
        return None
    return _vector_spec(layer, spec)


def all_layer_specs() -> list[LayerSpec]:
    """Every publishable layer of the registry, in registry order."""
    specs = []
    for layer in Layer.objects.order_by("theme", "sort_order", "name"):
        spec = layer_spec(layer)
        if spec is not None:
            specs.append(spec)
    return specs
