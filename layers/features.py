"""Reading a layer's features in PostGIS: bbox (ST_Intersects with ST_MakeEnvelope), attribute filter,
paging — for the features API and export. Identifiers come from the registry (validated) or the
database catalog; values are always query parameters.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from city_gis.dbrouting import read_connection

from .models import Layer
from .registry import layer_from_sql, table_columns

BBox = tuple[float, float, float, float]


class QueryError(ValueError):
    """A bad query parameter; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def parse_bbox(text: str | None, param: str = "bbox") -> BBox | None:
    """`minx,miny,maxx,maxy` (lon/lat, EPSG:4490) → tuple; None when empty."""
    if text in (None, ""):
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise QueryError(param, _('必须是 minx,miny,maxx,maxy 四个数字')) from exc
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise QueryError(param, _('必须是 minx,miny,maxx,maxy 四个数字'))
    if values[0] > values[2] or values[1] > values[3]:
        raise QueryError(param, _('最小值不能大于最大值'))
    return values  # type: ignore[return-value]


def parse_filter(text: str | None) -> tuple[str, str] | None:
    """`attr=value` → (attr, value)."""
    if text in (None, ""):
        return None
    attr, sep, value = text.partition("=")
    if not sep or not attr.strip():
        raise QueryError("filter", _('格式为 <属性>=<值>'))
    return attr.strip(), value


def attribute_columns(layer: Layer) -> list[str]:
    """The published attribute columns: the registry's list, else every non-geometry column but the id."""
    if layer.is_generic:
        return []
    if layer.attribute_columns:
        return list(layer.attribute_columns)
    return [
        c for c, _type, udt in table_columns(layer.source_table)
        if udt not in ("geometry", "geography") and c not in (layer.geom_column, layer.id_column)
    ]


@dataclass
class FeaturePage:
    number_matched: int
    features: list[dict[str, Any]]  # {"id", "geometry" (GeoJSON text or WKB bytes), "properties"}


def query_features(layer: Layer, *, bbox: BBox | None = None, filter_: tuple[str, str] | None = None,
                   limit: int | None = None, offset: int = 0, geometry: str = "geojson",
                   count: bool = True, rows: tuple[str, list] | None = None) -> FeaturePage:
    """Features of a vector layer, ordered by id; `geometry` is "geojson" (text) or "wkb" (bytes).

    `rows` is a reader's row filter from layers.access.row_filter: (SQL condition, parameters).
    """
    qn = connection.ops.quote_name
    geom, pk = qn(layer.geom_column), qn(layer.id_column)
    columns = attribute_columns(layer)
    conditions, params = [], []
    if rows is not None:
        conditions.append(rows[0])
        params += list(rows[1])
    if bbox:
        conditions.append(f"{geom} && ST_MakeEnvelope(%s, %s, %s, %s, 4490) "
                          f"AND ST_Intersects({geom}, ST_MakeEnvelope(%s, %s, %s, %s, 4490))")
        params += [*bbox, *bbox]
    if filter_:
        attr, value = filter_
        if layer.is_generic:
            conditions.append("attributes ->> %s = %s")
            params += [attr, value]
        else:
            if attr not in columns:
                raise QueryError("filter", _('未知属性 %(attr)s；可用：%(value)s') % {'attr': attr, 'value': ', '.join(columns)})
            conditions.append(f"{qn(attr)}::text = %s")
            params.append(value)
    # the filter's values are literals in the fragment (layers.source_filter): keep a LIKE's % away from the driver
    base = layer_from_sql(layer).replace("%", "%%")
    if conditions:
        base += (" AND " if layer.source_where else " WHERE ") + " AND ".join(f"({c})" for c in conditions)
    select_attrs = ["attributes"] if layer.is_generic else columns
    geom_sql = f"ST_AsGeoJSON({geom}, 7)" if geometry == "geojson" else f"ST_AsBinary({geom})"
    cols_sql = "".join(f", {qn(c)}" for c in select_attrs)
    sql = f"SELECT {pk}, {geom_sql}{cols_sql} {base} ORDER BY {pk}"
    page_params = list(params)
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        page_params += [limit, offset]
    with read_connection().cursor() as cur:  # the read replica inside a GET of /api/v1/layers/ (dbrouting)
        matched = -1
        if count:
            cur.execute(f"SELECT count(*) {base}", params)
            matched = cur.fetchone()[0]
        cur.execute(sql, page_params)
        rows = cur.fetchall()
    features = []
    for row in rows:
        if layer.is_generic:
            # Django's psycopg2 setup hands jsonb back as text
            props = json.loads(row[2]) if isinstance(row[2], str) else (row[2] or {})
        else:
            props = dict(zip(columns, row[2:], strict=True))
        geom_value = bytes(row[1]) if geometry == "wkb" and row[1] is not None else row[1]
        features.append({"id": row[0], "geometry": geom_value, "properties": props})
    return FeaturePage(number_matched=matched, features=features)
