"""Exporting a layer to GeoPackage, GeoJSON, zipped Shapefile or CSV (WKT, or lon/lat for points).

Exports never hold a layer in memory: features are read in pages of `CHUNK` (layers.features.query_features)
and GeoJSON/CSV are streamed page by page; GeoPackage/Shapefile are appended page by page to a temporary
file that is then streamed. One export holds at most CITYGIS_EXPORT_MAX_FEATURES features (checked with a
count before anything is written); beyond it the request is refused and the client narrows it with bbox.
Pages are read with LIMIT/OFFSET ordered by id, so a concurrent import may shift rows between pages.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from django.conf import settings
from django.db import connection
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.translation import gettext as _

from .features import BBox, attribute_columns, query_features
from .models import Layer
from .registry import layer_from_sql, table_columns

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".zip", "csv": ".csv"}
CONTENT_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
}
CHUNK = 5_000
CRS_URN = "urn:ogc:def:crs:EPSG::4490"
ID_COLUMN = "fid_src"


class ExportError(ValueError):
    """Bad export request; `param` names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass(frozen=True)
class ExportPlan:
    """A checked export: what to write, the attribute columns and their kinds (int, float, bool, str)."""

    layer: Layer
    fmt: str
    bbox: BBox | None
    lonlat: bool
    columns: dict[str, str]
    count: int


def max_features() -> int:
    return int(getattr(settings, "CITYGIS_EXPORT_MAX_FEATURES", 200_000))


_PG_KINDS = {"smallint": "int", "integer": "int", "bigint": "int", "boolean": "bool",
             "double precision": "float", "real": "float", "numeric": "float"}


def attribute_kinds(layer: Layer) -> dict[str, str]:
    """{attribute → kind (int, float, bool, str)}: a typed layer's published columns by their column types, or
    every key of a generic layer's attributes by the values it holds (one scan of the JSONB). The export's
    columns and the OGC API's generic schema (tileserver.ogcapi.collections) both come from here."""
    if not layer.is_generic:
        types = {name: data_type for name, data_type, _udt in table_columns(layer.source_table)}
        return {c: _PG_KINDS.get(types.get(c, ""), "str") for c in attribute_columns(layer) if c != ID_COLUMN}
    # One pass over the JSONB: each key and whether all its values are integers, numbers or booleans.
    sql = (
        "SELECT e.key, bool_or(jsonb_typeof(e.value) <> 'null'),"
        " bool_and(jsonb_typeof(e.value) IN ('number', 'null')),"
        " bool_and(jsonb_typeof(e.value) <> 'number' OR (e.value::text)::numeric = trunc((e.value::text)::numeric)),"
        " bool_and(jsonb_typeof(e.value) IN ('boolean', 'null'))"
        f" FROM (SELECT attributes {layer_from_sql(layer)}) t, jsonb_each(t.attributes) e"
        " GROUP BY e.key ORDER BY e.key"
    )
    with connection.cursor() as cur:
        cur.execute(sql)  # no parameters: the registry's filter may hold a literal %
        rows = cur.fetchall()
    kinds = {}
    for key, present, numeric, integral, boolean in rows:
        if key == ID_COLUMN:
            continue
        kinds[key] = "str" if not present else "bool" if boolean else (
            ("int" if integral else "float") if numeric else "str")
    return kinds


def prepare_export(layer: Layer, fmt: str, *, bbox: BBox | None = None, csv_geometry: str = "auto",
                   limit: int | None = None) -> ExportPlan:
    """Check the request and the feature cap before anything is written; ExportError naming the parameter.

    `limit` is the cap (None: CITYGIS_EXPORT_MAX_FEATURES; 0: none, for the trusted CLI operator).
    """
    if fmt not in FORMATS:
        raise ExportError("format", _('取 %(value)s 之一，得到 %(fmt)s') % {'value': ', '.join(FORMATS), 'fmt': repr(fmt)})
    if layer.kind != "vector":
        raise ExportError("layer", _("%(layer)s 不是矢量图层") % {"layer": layer.name})
    if csv_geometry not in ("auto", "wkt", "lonlat"):
        raise ExportError("csv_geometry", _('取 auto、wkt、lonlat 之一'))
    if csv_geometry == "lonlat" and layer.geometry_type != "POINT":
        raise ExportError("csv_geometry", _('lon/lat 只适用于点图层'))
    count = query_features(layer, bbox=bbox, limit=0).number_matched
    limit = max_features() if limit is None else limit
    if limit and count > limit:
        raise ExportError("bbox", _("%(layer)s 有 %(count)s 个要素，超过单次导出上限 %(limit)s（CITYGIS_EXPORT_MAX_FEATURES）；请用 bbox 缩小范围")
                          % {"layer": layer.name, "count": count, "limit": limit})
    lonlat = csv_geometry == "lonlat" or (csv_geometry == "auto" and layer.geometry_type == "POINT")
    return ExportPlan(layer, fmt, bbox, lonlat, attribute_kinds(layer), count)


def _pages(plan: ExportPlan, geometry: str) -> Iterator[list[dict[str, Any]]]:
    """The plan's features in pages of CHUNK, ordered by id."""
    offset = 0
    while True:
        page = query_features(plan.layer, bbox=plan.bbox, geometry=geometry, limit=CHUNK, offset=offset, count=False)
        if page.features:
            yield page.features
        if len(page.features) < CHUNK:
            return
        offset += CHUNK


def _plain(value: Any) -> Any:
    """PostgreSQL/JSON value → a plain value every writer takes (dates, decimals as text; nested as JSON)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- streamed text formats --------------------------------------------------------------------------------------
def geojson_chunks(plan: ExportPlan) -> Iterator[bytes]:
    """A FeatureCollection, one page of features per chunk; geometries come as GeoJSON text from PostGIS."""
    head = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": CRS_URN}}}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "features": ['
    sep = ""
    for page in _pages(plan, "geojson"):
        parts = []
        for f in page:
            props = {ID_COLUMN: f["id"], **{k: _plain(v) for k, v in f["properties"].items() if k != ID_COLUMN}}
            parts.append(f'{{"type": "Feature", "id": {json.dumps(f["id"])}, "geometry": {f["geometry"] or "null"}, '
                         f'"properties": {json.dumps(props, ensure_ascii=False)}}}')
        yield (sep + ",\n".join(parts)).encode()
        sep = ",\n"
    yield b"]}\n"


def csv_chunks(plan: ExportPlan) -> Iterator[bytes]:
    """CSV with a header, then one page of rows per chunk: lon/lat for point layers, WKT otherwise."""
    names = [ID_COLUMN, *plan.columns]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*names, *(("lon", "lat") if plan.lonlat else ("wkt",))])
    yield buf.getvalue().encode()
    for page in _pages(plan, "wkb"):
        buf.seek(0)
        buf.truncate()
        geoms = shapely.from_wkb([f["geometry"] for f in page])
        if plan.lonlat:
            points = [g if g is None or g.geom_type == "Point" else (
                shapely.get_geometry(g, 0) if shapely.get_num_geometries(g) == 1 else None) for g in geoms]
            tail = [("", "") if p is None else (round(p.x, 8), round(p.y, 8)) for p in points]
        else:
            tail = [(w or "",) for w in shapely.to_wkt(geoms, rounding_precision=8)]
        for f, extra in zip(page, tail, strict=True):
            props = f["properties"]
            writer.writerow([f["id"], *(_plain(props.get(c)) for c in plan.columns), *extra])
        yield buf.getvalue().encode()


# --- file formats written page by page ----------------------------------------------------------------------------
_DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean"}


def _page_frame(plan: ExportPlan, page: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """One page as a frame with the same columns and types on every page (so appends share one schema)."""
    data: dict[str, Any] = {ID_COLUMN: pd.array([f["id"] for f in page], dtype="Int64")}
    for col, kind in plan.columns.items():
        values = [_plain(f["properties"].get(col)) for f in page]
        if kind == "str":
            data[col] = pd.Series([None if v is None else str(v) for v in values], dtype=object)
        else:
            data[col] = pd.array(values, dtype=_DTYPES[kind])
    geoms = shapely.from_wkb([f["geometry"] for f in page]) if page else []
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:4490"), crs="EPSG:4490")


def _write_ogr(plan: ExportPlan, target: Path, driver: str, **options: Any) -> None:
    """Append page after page to one file; the first page creates it (an empty layer still gets its schema)."""
    written = False
    for page in _pages(plan, "wkb"):
        pyogrio.write_dataframe(_page_frame(plan, page), target, driver=driver, append=written, **options)
        written = True
    if not written:
        pyogrio.write_dataframe(_page_frame(plan, []), target, driver=driver, **options)


def write_file(plan: ExportPlan, target: Path) -> Path:
    """Write the plan to `target` (a new file); return it."""
    short = plan.layer.short_name
    if plan.fmt == "gpkg":
        _write_ogr(plan, target, "GPKG", layer=short)
    elif plan.fmt == "shp":
        with tempfile.TemporaryDirectory(prefix="citygis-export-") as tmp:
            _write_ogr(plan, Path(tmp) / f"{short}.shp", "ESRI Shapefile", encoding="UTF-8")
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).iterdir()):
                    zf.write(part, part.name)
    else:
        chunks = geojson_chunks(plan) if plan.fmt == "geojson" else csv_chunks(plan)
        with target.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
    return target


def export_layer(layer: Layer, fmt: str, target: str | Path, *, bbox: BBox | None = None,
                 csv_geometry: str = "auto", limit: int | None = None) -> Path:
    """Write `layer` to `target` in `fmt` (gpkg, geojson, shp → zip, csv); return the written path.

    CSV carries lon/lat columns for point layers (csv_geometry="auto" or "lonlat") and WKT otherwise.
    `limit` as in prepare_export.
    """
    return write_file(prepare_export(layer, fmt, bbox=bbox, csv_geometry=csv_geometry, limit=limit), Path(target))


def export_response(layer: Layer, fmt: str, *, bbox: BBox | None = None, csv_geometry: str = "auto") -> HttpResponseBase:
    """The HTTP answer for an export: GeoJSON/CSV streamed page by page, GeoPackage/Shapefile from a temp file.

    Raises ExportError before any byte is sent, so the caller can still answer 400.
    """
    plan = prepare_export(layer, fmt, bbox=bbox, csv_geometry=csv_geometry)
    filename = f"{layer.name.replace('.', '_')}{FORMATS[fmt]}"
    if fmt in ("geojson", "csv"):
        body = geojson_chunks(plan) if fmt == "geojson" else csv_chunks(plan)
        response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    with tempfile.TemporaryDirectory(prefix="citygis-export-") as tmp:
        path = write_file(plan, Path(tmp) / f"export{FORMATS[fmt]}")
        handle = path.open("rb")  # noqa: SIM115 — FileResponse closes it; the open handle outlives the unlink
        os.unlink(path)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt])
