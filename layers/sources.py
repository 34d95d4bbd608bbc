"""Reading an uploaded vector file into a GeoDataFrame in EPSG:4490.

Formats: zipped Shapefile (or a zip holding one GeoPackage/GeoJSON/CSV), GeoPackage, GeoJSON, and CSV with
lon/lat (or WKT) columns. Archives are checked for paths escaping the target folder and for size.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from django.conf import settings
from django.utils.translation import gettext as _
from pyproj import CRS
from pyproj.exceptions import CRSError

STORAGE_CRS = CRS.from_epsg(4490)
VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".csv"}
SUPPORTED_SUFFIXES = VECTOR_SUFFIXES | {".zip"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")


class LayerImportError(Exception):
    """The input cannot be imported; the message names the file, row or field. `field` names the request field."""

    def __init__(self, message: str, *, field: str = "file", report: dict | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.report = report


def check_size(path: Path) -> None:
    limit = settings.CITYGIS_IMPORT_MAX_BYTES
    if path.stat().st_size > limit:
        raise LayerImportError(_("%(path)s: 文件超过上限 %(limit)s 字节（CITYGIS_IMPORT_MAX_BYTES）") % {"path": path.name, "limit": limit})


def parse_srs(srs: str | int | None) -> CRS | None:
    """`EPSG:4544`, `4544` or any pyproj-known definition → CRS; None stays None."""
    if srs in (None, ""):
        return None
    try:
        return CRS.from_user_input(int(srs) if str(srs).isdigit() else srs)
    except CRSError as exc:
        raise LayerImportError(_("未知坐标系：%(srs)s") % {"srs": srs}, field="srs") from exc


def _safe_extract(archive: Path, target: Path) -> Path:
    """Extract `archive` into `target` refusing absolute paths, `..` and oversized content; return the dataset."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = 0
            for m in members:
                name = PurePosixPath(m.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or (target / name).resolve().is_relative_to(
                    target.resolve()
                ) is False:
                    raise LayerImportError(_("%(archive)s: 压缩包含有越出目标目录的路径：%(filename)s") % {"archive": archive.name, "filename": m.filename})
                total += m.file_size
            if total > settings.CITYGIS_IMPORT_MAX_BYTES:
                raise LayerImportError(_("%(archive)s: 解压后超过上限 %(citygis_import_max_bytes)s 字节") % {"archive": archive.name, "citygis_import_max_bytes": settings.CITYGIS_IMPORT_MAX_BYTES})
            bad = zf.testzip()
            if bad:
                raise LayerImportError(_("%(archive)s: 压缩包已损坏（%(bad)s）") % {"archive": archive.name, "bad": bad})
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise LayerImportError(_("%(archive)s: 不是有效的 zip 压缩包（%(exc)s）") % {"archive": archive.name, "exc": exc}) from exc
    files = [p for p in target.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for suffix in (".shp", ".gpkg", ".geojson", ".json", ".csv"):
        found = sorted(p for p in files if p.suffix.lower() == suffix)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise LayerImportError(_("%(archive)s: 压缩包含有多个 %(suffix)s 数据集，请每次导入一个") % {"archive": archive.name, "suffix": suffix})
    raise LayerImportError(_("%(archive)s: 压缩包中没有 Shapefile/GeoPackage/GeoJSON/CSV 数据") % {"archive": archive.name})


def locate_dataset(path: Path, workdir: Path) -> Path:
    """Check the upload and return the path of the dataset to read (extracting archives into `workdir`)."""
    if not path.exists():
        raise LayerImportError(_("%(path)s: 文件不存在") % {"path": path})
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LayerImportError(
            _('%(path)s: 不支持的文件类型 %(value)s；支持 .zip(Shapefile)、.gpkg、.geojson、.csv') % {'path': path.name, 'value': suffix or '（无扩展名）'}
        )
    check_size(path)
    if suffix == ".zip":
        return _safe_extract(path, workdir)
    return path


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.lower().strip(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _read_csv(path: Path) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """CSV with lon/lat or WKT columns; returns the frame (no CRS) and {row index → reason} of unreadable rows."""
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype_backend="numpy_nullable")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise LayerImportError(_("%(path)s: 无法读取 CSV（%(exc)s）") % {"path": path.name, "exc": exc}) from exc
    columns = list(df.columns)
    wkt = _pick(columns, WKT_NAMES)
    lon, lat = _pick(columns, LON_NAMES), _pick(columns, LAT_NAMES)
    bad: dict[int, str] = {}
    if wkt:
        text = df[wkt].astype("string").fillna("")
        geoms = shapely.from_wkt(text.to_numpy(dtype=object, na_value=""), on_invalid="ignore")
        for i in np.flatnonzero(shapely.is_missing(geoms)):
            bad[int(i)] = _("%(wkt)s: 不是有效的 WKT") % {"wkt": wkt}
        df = df.drop(columns=[wkt])
    elif lon and lat:
        xs = pd.to_numeric(df[lon], errors="coerce").astype(float)
        ys = pd.to_numeric(df[lat], errors="coerce").astype(float)
        for i in np.flatnonzero(xs.isna().to_numpy()):
            bad[int(i)] = _("%(lon)s: 不是数字") % {"lon": lon}
        for i in np.flatnonzero(ys.isna().to_numpy()):
            bad.setdefault(int(i), _("%(lat)s: 不是数字") % {"lat": lat})
        geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
        geoms[list(bad)] = None
        df = df.drop(columns=[lon, lat])
    else:
        raise LayerImportError(_("%(path)s: CSV 需要经纬度列（lon/lat、经度/纬度）或 WKT 列") % {"path": path.name}, field="file")
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index)), bad


def read_frame(path: Path, srs: str | int | None) -> tuple[gpd.GeoDataFrame, CRS, dict[int, str]]:
    """Read `path`, reproject to EPSG:4490; return (frame, source CRS, {row → reason} for unreadable rows).

    `srs` names the source CRS when the file has none, and overrides the file's own.
    """
    given = parse_srs(srs)
    bad: dict[int, str] = {}
    if path.suffix.lower() == ".csv":
        gdf, bad = _read_csv(path)
    else:
        try:
            gdf = pyogrio.read_dataframe(path, use_arrow=False)
        except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, RuntimeError … for broken files
            raise LayerImportError(_("%(path)s: 无法读取数据文件（%(exc)s）") % {"path": path.name, "exc": exc}) from exc
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
            raise LayerImportError(_("%(path)s: 数据没有几何列") % {"path": path.name})
    source = given or (CRS.from_user_input(gdf.crs) if gdf.crs is not None else None)
    if source is None:
        raise LayerImportError(_("%(path)s: 文件没有声明坐标系，请用 --srs（接口参数 srs）指定，例如 EPSG:4490") % {"path": path.name}, field="srs")
    gdf = gdf.set_crs(source, allow_override=True)
    if not source.equals(STORAGE_CRS):
        gdf = gdf.to_crs(STORAGE_CRS)
    return gdf.reset_index(drop=True), source, bad
