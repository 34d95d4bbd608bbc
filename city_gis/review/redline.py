"""Turning what a client sends into a checked redline: a MultiPolygon in EPSG:4490 inside the city.

Sources: a GeoJSON geometry (or Feature) or WKT in any CRS pyproj knows (`srs`, default EPSG:4490); an
uploaded GeoPackage / GeoJSON / zipped Shapefile / CSV (the import pipeline decides the format from the
bytes and opens it with the driver it expects — layers.sources); a CSV of vertices (lon/lat rows in ring
order) becomes one polygon; or a zoning plot by its code. Every refusal is a RedlineError naming the request
field and the problem; nothing here writes to the database.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.utils.translation import gettext as _
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from city_gis.grid.outline import outside_city
from layers.sources import LayerImportError, locate_dataset, parse_srs, read_frame, to_storage

from . import limits

STORAGE = CRS.from_epsg(4490)


class RedlineError(ValueError):
    """The redline (or a proposal value) is refused; `field` is the request field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _crs(srs: str | None, field: str = "srs") -> CRS:
    try:
        crs = parse_srs(srs or "EPSG:4490")
    except LayerImportError as exc:
        raise RedlineError(field, str(exc)) from None
    return crs


def _polygonal(geom: BaseGeometry, field: str) -> MultiPolygon:
    if geom is None or geom.is_empty:
        raise RedlineError(field, _("红线为空"))
    if geom.geom_type == "Polygon":
        return MultiPolygon([geom])
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [p for g in geom.geoms for p in (g.geoms if g.geom_type == "MultiPolygon" else [g])]
        if parts and all(p.geom_type == "Polygon" for p in parts):
            return MultiPolygon(parts)
    raise RedlineError(field, _("红线必须是面（Polygon/MultiPolygon），得到 %(type)s") % {"type": geom.geom_type})


def _count_check(geom: BaseGeometry, field: str) -> None:
    n = shapely.get_num_coordinates(geom)
    if n > limits.max_vertices():
        raise RedlineError(field, _("红线有 %(n)d 个顶点，超过上限 %(limit)d（CITYGIS_REVIEW_MAX_VERTICES）")
                           % {"n": n, "limit": limits.max_vertices()})
    parts = len(getattr(geom, "geoms", [geom]))
    if parts > limits.max_parts():
        raise RedlineError(field, _("红线有 %(n)d 个面，超过上限 %(limit)d（CITYGIS_REVIEW_MAX_PARTS）")
                           % {"n": parts, "limit": limits.max_parts()})


def _to_storage(geom: BaseGeometry, crs: CRS, field: str) -> MultiPolygon:
    """Reproject to 2D EPSG:4490; coordinates the source CRS cannot map (inf/NaN, off the globe) are refused."""
    out = to_storage(crs)(np.array([geom], dtype=object))[0]
    coords = shapely.get_coordinates(out)
    if not np.isfinite(coords).all() or (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        raise RedlineError(field, _("红线坐标超出坐标系 %(crs)s 的范围（坐标系是否正确？）") % {"crs": crs.to_string()})
    return _polygonal(out, field)


def _checked(geom: BaseGeometry, field: str) -> MultiPolygon:
    geom = _polygonal(geom, field)
    _count_check(geom, field)
    if not geom.is_valid:
        raise RedlineError(field, _("红线几何无效：%(why)s") % {"why": explain_validity(geom)})
    if geom.area == 0:
        raise RedlineError(field, _("红线面积为零"))
    return geom


def from_geometry(value: object, srs: str | None = None, field: str = "geometry") -> MultiPolygon:
    """A GeoJSON geometry / Feature (dict or JSON text) or WKT in `srs` → checked MultiPolygon in EPSG:4490."""
    crs = _crs(srs)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > limits.WKT_MAX_CHARS:
            raise RedlineError(field, _("几何文本超过 %(n)d 个字符") % {"n": limits.WKT_MAX_CHARS})
        if not text:
            raise RedlineError(field, _("红线为空"))
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise RedlineError(field, _("不是有效的 GeoJSON")) from None
        else:
            try:
                geom = shapely.from_wkt(text)
            except shapely.errors.GEOSException:
                raise RedlineError(field, _("不是有效的 WKT")) from None
            return _to_storage(_checked(geom, field), crs, field)
    if not isinstance(value, dict):
        raise RedlineError(field, _("需要 GeoJSON 几何对象或 WKT 文本"))
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise RedlineError(field, _("红线为空"))
    try:
        geom = shape(value)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.GEOSException):
        raise RedlineError(field, _("不是有效的 GeoJSON 几何")) from None
    return _to_storage(_checked(geom, field), crs, field)


def from_upload(path: Path, srs: str | None = None, field: str = "file", name: str | None = None) -> MultiPolygon:
    """An uploaded file → checked MultiPolygon in EPSG:4490. Polygons are united; points (a CSV of vertices,
    in ring order) form one polygon. The format is the import pipeline's decision (layers.sources); a file that
    declares no CRS (CSV always) needs `srs`. `name` is the client's file name, shown in messages."""
    if path.stat().st_size > limits.max_upload_bytes():
        raise RedlineError(field, _("文件超过上限 %(n)d 字节（CITYGIS_REVIEW_MAX_UPLOAD_BYTES）") % {"n": limits.max_upload_bytes()})
    try:
        with tempfile.TemporaryDirectory(prefix="citygis-review-") as work:
            dataset, kind = locate_dataset(path, Path(work))
            frame, _source, bad = read_frame(dataset, srs, kind, name=name or path.name)
    except LayerImportError as exc:
        raise RedlineError("srs" if exc.field == "srs" else field, str(exc)) from None
    if bad:
        row, why = next(iter(sorted(bad.items())))
        raise RedlineError(field, _("第 %(row)d 行：%(why)s") % {"row": row + 1, "why": why})
    geoms = [g for g in frame.geometry if g is not None and not g.is_empty]
    if not geoms:
        raise RedlineError(field, _("红线为空"))
    if len(geoms) > max(limits.max_parts(), limits.max_vertices()):
        raise RedlineError(field, _("文件要素过多（%(n)d）") % {"n": len(geoms)})
    if all(g.geom_type == "Point" for g in geoms):
        if len(geoms) < 3:
            raise RedlineError(field, _("顶点表至少需要 3 个顶点"))
        geom = Polygon([(g.x, g.y) for g in geoms])
    else:
        polys = [_polygonal(g, field) for g in geoms]
        geom = MultiPolygon([p for mp in polys for p in mp.geoms])
    return _checked(_polygonal(geom, field), field)


def from_plot(plot_code: str, field: str = "plot") -> MultiPolygon:
    """The outline of zoning plot `plot_code` (planning.zoning's table)."""
    from layers.models import thematic as tm

    plot = tm.ZoningPlot.objects.filter(plot_code=plot_code).only("geom").first()
    if plot is None:
        raise RedlineError(field, _("没有编号为 %(code)s 的控规地块") % {"code": plot_code})
    return _checked(shapely.from_wkb(bytes(plot.geom.wkb)), field)


def to_geos(geom: MultiPolygon) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4490)


def area_and_city_check(geom: MultiPolygon, field: str) -> float:
    """The redline's area (m², EPSG:4544), refused when above the limit or not inside the city (grid.outline)."""
    with connection.cursor() as cur:
        cur.execute("SELECT ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromWKB(%s), 4490), 4544))",
                    [shapely.to_wkb(geom)])
        area = cur.fetchone()[0]
    if area > limits.max_area_km2() * 1e6:
        raise RedlineError(field, _("红线面积 %(a).2f 平方公里，超过上限 %(limit)g（CITYGIS_REVIEW_MAX_AREA_KM2）")
                           % {"a": area / 1e6, "limit": limits.max_area_km2()})
    outside = outside_city([to_geos(geom)])
    if outside is None or outside[0].outside:
        raise RedlineError(field, _("红线不在市域范围内（超出部分 %(a).1f 平方米）")
                           % {"a": area if outside is None else outside[0].measure})
    return float(area)
