"""Reading an uploaded vector file into a GeoDataFrame in EPSG:4490.

Formats: zipped Shapefile (or a zip holding one GeoPackage/GeoJSON/CSV), GeoPackage, GeoJSON, and CSV with
lon/lat (or WKT) columns. Which format a file is, and whether GDAL may open it, is layers.formats' decision
(by content, never by name); archives are checked there before anything is extracted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from django.conf import settings
from django.utils.translation import gettext as _
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from .formats import FormatRefused, confirm_driver, extract_archive, geometry_columns, sniff

STORAGE_CRS = CRS.from_epsg(4490)
CHUNKED_KINDS = ("gpkg", "shp")  # read in chunks by read_chunks


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
    text = str(srs)
    # PROJ would read `+init=` files and follow paths/URLs: a CRS comes as a code or inline definition only
    if len(text) > 10_000 or re.search(r"init\s*=|/vsi|^\s*[./~]|^\s*file:", text, re.IGNORECASE):
        raise LayerImportError(_("坐标系只能是代码（如 EPSG:4544）或内联定义，得到 %(srs)s") % {"srs": repr(text[:80])}, field="srs")
    try:
        return CRS.from_user_input(int(srs) if str(srs).isdigit() else srs)
    except CRSError as exc:
        raise LayerImportError(_("未知坐标系：%(srs)s") % {"srs": srs}, field="srs") from exc


def locate_dataset(path: Path, workdir: Path) -> tuple[Path, str]:
    """Check the upload and return (path of the dataset to read, its kind), extracting archives into `workdir`.

    The kind comes from the bytes (layers.formats), never from the file name.
    """
    if not path.is_file():
        raise LayerImportError(_("%(path)s: 文件不存在") % {"path": path})
    check_size(path)
    try:
        kind = sniff(path)
        if kind == "zip":
            return extract_archive(path, workdir)
    except FormatRefused as exc:
        raise LayerImportError(f"{path.name}: {exc}") from exc
    # GDAL sees a name we chose, with the extension of what the bytes are (a GeoJSON named .csv would
    # otherwise go to GDAL's CSV driver); the link costs nothing, whatever the upload's size.
    named = workdir / f"data.{kind}"
    named.symlink_to(path.resolve())
    return named, kind


def _read_csv(path: Path) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """CSV with lon/lat or WKT columns; returns the frame (no CRS) and {row index → reason} of unreadable rows."""
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype_backend="numpy_nullable")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise LayerImportError(_("%(path)s: 无法读取 CSV（%(exc)s）") % {"path": path.name, "exc": exc}) from exc
    wkt, lon, lat = geometry_columns(list(df.columns))
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


def to_storage(source: CRS) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping an array of geometries in `source` to 2D geometries in EPSG:4490.

    One pyproj Transformer serves every call (building one costs milliseconds, so chunks share it).
    Coordinates outside the source CRS's domain become inf, for the caller to reject.
    """
    if source.equals(STORAGE_CRS):
        def flat(geoms: np.ndarray) -> np.ndarray:
            # most files are 2D already: force_2d would copy every geometry for nothing
            return shapely.force_2d(geoms) if (shapely.has_z(geoms) | shapely.has_m(geoms)).any() else geoms
        return flat
    transformer = Transformer.from_crs(source, STORAGE_CRS, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))

    def reproject(geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, project, include_z=False)  # 2D out: no force_2d pass needed
    return reproject


def read_frame(path: Path, srs: str | int | None, kind: str | None = None,
               name: str | None = None, *, reproject: bool = True) -> tuple[gpd.GeoDataFrame, CRS, dict[int, str]]:
    """Read `path` of `kind` (sniffed when None), reproject to 2D EPSG:4490; return (frame, source CRS,
    {row → reason} for unreadable rows). `name` is the file name shown in messages. Without `reproject`
    the frame stays in the source CRS (the importer reprojects chunk by chunk with `to_storage`).

    `srs` names the source CRS when the file has none, and overrides the file's own. CSV is read by pandas;
    the other kinds by GDAL only after it confirms the driver we expect.
    """
    read = read_chunks(path, srs, kind, name)
    gdf = read.frame
    if reproject:
        gdf[gdf.geometry.name] = gpd.GeoSeries(to_storage(read.source)(np.asarray(gdf.geometry.array)),
                                               index=gdf.index, crs=STORAGE_CRS)
    return gdf, read.source, read.bad


class Read(NamedTuple):
    """What read_chunks read: the first rows (all of them unless `chunked`), their source CRS, unreadable
    rows, and the remaining chunks (read lazily; each one's index continues the row numbers)."""

    frame: gpd.GeoDataFrame
    source: CRS
    bad: dict[int, str]
    rest: Iterator[gpd.GeoDataFrame]
    chunked: bool


def read_chunks(path: Path, srs: str | int | None, kind: str | None = None, name: str | None = None,
                size: int | None = None) -> Read:
    """Like read_frame without reprojection; with `size`, a GeoPackage or Shapefile of more features is read
    `size` features at a time (GDAL seeks to a feature index cheaply in both; GeoJSON is parsed whole), so
    the caller can work on the first chunk while the rest is still unread."""
    given = parse_srs(srs)
    bad: dict[int, str] = {}
    shown = name or path.name
    try:
        kind = kind or sniff(path)
        if kind == "zip":
            raise LayerImportError(_("%(path)s: zip 压缩包需先解压（locate_dataset）") % {"path": shown})
        info = confirm_driver(path, kind) if kind != "csv" else {}
    except FormatRefused as exc:
        raise LayerImportError(f"{shown}: {exc}") from exc
    total = int(info.get("features") or -1)
    chunked = size is not None and kind in CHUNKED_KINDS and total > size
    if kind == "csv":
        gdf, bad = _read_csv(path)
    else:
        gdf = _read_gdal(path, shown, max_features=size if chunked else None)
    source = given or (CRS.from_user_input(gdf.crs) if gdf.crs is not None else None)
    if source is None:
        raise LayerImportError(_("%(path)s: 文件没有声明坐标系，请用 --srs（接口参数 srs）指定，例如 EPSG:4490") % {"path": shown}, field="srs")

    def rest() -> Iterator[gpd.GeoDataFrame]:
        for start in range(size, total, size) if chunked else ():
            chunk = _read_gdal(path, shown, skip_features=start, max_features=size)
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            yield chunk.set_crs(source, allow_override=True)

    return Read(gdf.set_crs(source, allow_override=True).reset_index(drop=True), source, bad, rest(), chunked)


def _read_gdal(path: Path, shown: str, **options: Any) -> gpd.GeoDataFrame:
    try:
        gdf = pyogrio.read_dataframe(path, use_arrow=False, **options)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, RuntimeError … for broken files
        raise LayerImportError(_("%(path)s: 无法读取数据文件（%(exc)s）") % {"path": shown, "exc": exc}) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        raise LayerImportError(_("%(path)s: 数据没有几何列") % {"path": shown})
    return gdf
