"""Exporting a layer to GeoPackage, GeoJSON, zipped Shapefile or CSV (WKT, or lon/lat for points)."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from django.utils.translation import gettext as _

from .features import BBox, query_features
from .models import Layer

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".zip", "csv": ".csv"}
CONTENT_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
}


class ExportError(ValueError):
    """Bad export request; `param` names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def layer_frame(layer: Layer, bbox: BBox | None = None) -> gpd.GeoDataFrame:
    """The layer's features (attributes + geometry, EPSG:4490) as a GeoDataFrame."""
    page = query_features(layer, bbox=bbox, geometry="wkb", count=False)
    records = [{"fid_src": f["id"], **f["properties"]} for f in page.features]
    geoms = shapely.from_wkb([f["geometry"] for f in page.features]) if page.features else []
    df = pd.DataFrame.from_records(records) if records else pd.DataFrame({"fid_src": []})
    for col in df.columns:  # dates/decimals from PostgreSQL → plain types GDAL drivers accept
        if df[col].dtype == object:
            sample = next((v for v in df[col] if v is not None), None)
            if sample is not None and not isinstance(sample, (str, int, float, bool)):
                df[col] = df[col].map(lambda v: None if v is None else str(v))
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4490"), crs="EPSG:4490")


def export_layer(layer: Layer, fmt: str, target: str | Path, *, bbox: BBox | None = None,
                 csv_geometry: str = "auto") -> Path:
    """Write `layer` to `target` in `fmt` (gpkg, geojson, shp → zip, csv); return the written path.

    CSV carries lon/lat columns for point layers (csv_geometry="auto" or "lonlat") and WKT otherwise.
    """
    if fmt not in FORMATS:
        raise ExportError("format", _('取 %(value)s 之一，得到 %(fmt)s') % {'value': ', '.join(FORMATS), 'fmt': repr(fmt)})
    if layer.kind != "vector":
        raise ExportError("layer", _("%(layer)s 不是矢量图层") % {"layer": layer.name})
    target = Path(target)
    frame = layer_frame(layer, bbox)
    short = layer.short_name
    if fmt == "gpkg":
        pyogrio.write_dataframe(frame, target, driver="GPKG", layer=short)
    elif fmt == "geojson":
        pyogrio.write_dataframe(frame, target, driver="GeoJSON")
    elif fmt == "shp":
        with tempfile.TemporaryDirectory(prefix="citygis-export-") as tmp:
            shp = Path(tmp) / f"{short}.shp"
            pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile", encoding="UTF-8")
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).iterdir()):
                    zf.write(part, part.name)
    else:
        lonlat = csv_geometry == "lonlat" or (csv_geometry == "auto" and layer.geometry_type == "POINT")
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        if lonlat:
            if not frame.empty and not (frame.geometry.geom_type == "Point").all():
                raise ExportError("geometry", _('lon/lat 只适用于点图层'))
            table["lon"], table["lat"] = frame.geometry.x.round(8), frame.geometry.y.round(8)
        else:
            table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=8) if len(frame) else []
        table.to_csv(target, index=False, encoding="utf-8")
    return target
