"""Raster layers (GeoTIFF / COG): check the file is readable by rasterio and take its extent, in EPSG:4490."""

from __future__ import annotations

from pathlib import Path

import rasterio
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from .formats import DRIVERS, FormatRefused, refuse_format, sniff

RASTER_SUFFIXES = {".tif", ".tiff", ".gtiff"}


def validate_raster(path: str) -> None:
    """Raise ValidationError on `raster_path` unless `path` is a readable GeoTIFF with a CRS."""
    raster_extent(path)


def raster_extent(path: str) -> Polygon:
    """The file's footprint as a lon/lat EPSG:4490 rectangle; ValidationError naming raster_path otherwise."""
    file = Path(path or "")
    if not path or not file.is_file():
        raise ValidationError({"raster_path": _("栅格文件不存在：%(path)s") % {"path": path}})
    if file.suffix.lower() not in RASTER_SUFFIXES:
        raise ValidationError({"raster_path": _("只支持 GeoTIFF/COG（.tif）：%(file)s") % {"file": file.name}})
    if "/vsi" in str(path).lower():
        raise ValidationError({"raster_path": _("不允许虚拟文件系统路径：%(path)s") % {"path": path}})
    try:  # by the bytes, before GDAL sees it: a VRT named .tif would read other files
        sniff(file, raster=True)
    except FormatRefused as exc:
        raise ValidationError({"raster_path": f"{file.name}: {exc}"}) from exc
    try:
        with rasterio.open(file) as src:
            if src.driver != DRIVERS["tiff"]:
                raise ValidationError({"raster_path": f"{file.name}: {refuse_format(src.driver)}"})
            if src.crs is None:
                raise ValidationError({"raster_path": _("栅格文件没有坐标系：%(file)s") % {"file": file.name}})
            minx, miny, maxx, maxy = transform_bounds(src.crs, "EPSG:4490", *src.bounds, densify_pts=21)
    except RasterioError as exc:
        raise ValidationError({"raster_path": _("无法读取栅格文件 %(file)s：%(exc)s") % {"file": file.name, "exc": exc}}) from exc
    poly = Polygon.from_bbox((minx, miny, maxx, maxy))
    poly.srid = 4490
    return poly
