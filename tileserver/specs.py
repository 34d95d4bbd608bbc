"""What the generators need to know about each registered layer: resolved columns, SQL, style.

Read once per generation from the registry and PostGIS' catalog; layers whose table is missing are skipped
(with a warning) so that one broken registration does not unpublish every other layer.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from layers import source_filter
from layers.models import Layer
from layers.registry import table_columns
from layers.style import StyleError, normalise_style

log = logging.getLogger(__name__)

# Types MapServer's PostGIS driver does not map to attributes: published as text.
_TEXT_CAST_TYPES = {"json", "jsonb", "ARRAY", "USER-DEFINED", "interval", "bytea"}

BBox = tuple[float, float, float, float]
# The Liupanshui prefecture with a margin (EPSG:4490 lon/lat): the map's default extent and the advertised
# extent of layers that have no data (yet).
CITY_EXTENT: BBox = (104.3, 25.2, 105.7, 26.9)
# Advertised extents (capabilities, MapProxy coverage) are the data extent grown by this much on every side:
# MapProxy requests no tile outside the coverage, so symbols and labels of features at the edge need room.
# Growth beyond it regenerates the configuration (signals.py).
EXTENT_MARGIN_DEG = 0.005
EXTENT_MARGIN_RATIO = 0.05


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
    extent: BBox | None = None  # of the data, EPSG:4490 lon/lat; None when the layer has none
    min_zoom: int = 0
    max_zoom: int = 19
    owner: str = ""  # the owner department's code
    geometry_subtype: str = ""  # vector: PostGIS' type of the geometry column (MULTIPOLYGON, POINT…), "" if generic

    @property
    def coverage(self) -> BBox:
        """The extent to advertise and to limit source requests to (EPSG:4490 lon/lat)."""
        return advertised_extent(self.extent)


def _valid(bbox: Any) -> bool:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return False
    return all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) and minx <= maxx and miny <= maxy


def advertised_extent(extent: BBox | None) -> BBox:
    """`extent` grown by the margin and clipped to lon/lat limits; the city's extent when unknown or invalid."""
    if extent is None or not _valid(extent):
        return CITY_EXTENT
    minx, miny, maxx, maxy = (float(v) for v in extent)
    dx = max(EXTENT_MARGIN_DEG, (maxx - minx) * EXTENT_MARGIN_RATIO)
    dy = max(EXTENT_MARGIN_DEG, (maxy - miny) * EXTENT_MARGIN_RATIO)
    # Rounded outwards to 1e-7° (1 cm): short in the YAML, still holding every feature.
    return (math.floor(max(minx - dx, -180.0) * 1e7) / 1e7, math.floor(max(miny - dy, -90.0) * 1e7) / 1e7,
            math.ceil(min(maxx + dx, 180.0) * 1e7) / 1e7, math.ceil(min(maxy + dy, 90.0) * 1e7) / 1e7)


def union_extent(extents: list[BBox]) -> BBox:
    """The smallest box holding every box of `extents` (the city's extent for none)."""
    if not extents:
        return CITY_EXTENT
    return (min(e[0] for e in extents), min(e[1] for e in extents),
            max(e[2] for e in extents), max(e[3] for e in extents))


def contains(outer: BBox, inner: BBox) -> bool:
    """True when box `inner` lies inside box `outer`."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


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
    where = source_filter.as_sql_text(layer, connection)  # DATA takes no bind parameters: driver-quoted literals
    if where:
        sql += f" where {where}"
    spec.attributes, spec.select_sql = attrs, sql
    spec.geometry_subtype = _geometry_subtype(layer.source_table, layer.geom_column)
    spec.id_column, spec.geom_column = layer.id_column, layer.geom_column
    return spec


def _geometry_subtype(table: str, column: str) -> str:
    """PostGIS' declared type of `table.column` (geometry_columns), "" when generic or unknown."""
    schema, _dot, name = table.rpartition(".")
    with connection.cursor() as cur:
        cur.execute("SELECT type FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s"
                    " AND f_geometry_column = %s", [schema or "public", name, column])
        row = cur.fetchone()
    return "" if row is None or row[0] == "GEOMETRY" else str(row[0]).upper()


def clean_style(layer: Layer) -> dict[str, Any]:
    """The layer's style normalised by layers.style; an invalid style falls back to defaults (logged), so one
    bad document cannot unpublish the layer."""
    raw = layer.style if isinstance(layer.style, dict) else {}
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
        owner=layer.owner.code,
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
    for layer in Layer.objects.select_related("owner").order_by("theme", "sort_order", "name"):
        spec = layer_spec(layer)
        if spec is not None:
            specs.append(spec)
    return specs
