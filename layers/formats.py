"""The one format policy for files we open: GeoPackage, GeoJSON, zipped Shapefile, CSV with lon/lat (or WKT)
columns, and GeoTIFF for raster layers.

The format is decided from the file's bytes, never from its name, before GDAL sees the file (so a VRT, a
KML or anything else GDAL could open never reaches its driver), and it is confirmed afterwards by the
driver GDAL actually picked (`confirm_driver`). Archives are checked from their central directory before
anything is extracted: entry count, total size, compression ratio, paths escaping the target, symlinks,
member types. Members are written under names we choose, never under the names the archive carries.

GDAL runs with network access closed for every read in this process (see `_close_gdal_network`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyogrio
from django.conf import settings
from django.utils.translation import gettext as _

ALLOWED_VECTOR = ("GeoPackage", "GeoJSON", "zipped Shapefile", "CSV")
# what `sniff` answers → the GDAL driver that must open it (CSV is read by pandas, never by GDAL)
DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile", "tiff": "GTiff"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SINGLE_FILE_MEMBERS = (".gpkg", ".geojson", ".json", ".csv")
GPKG_APPLICATION_IDS = {0x47504B47, 0x47503130}  # "GPKG", "GP10"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
SHP_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian
HEAD = 64 * 1024
# references a reader could follow: virtual file systems (/vsicurl/, /vsizip/, …), SQLite extensions, JSON "$ref"
_REFERENCE = re.compile(rb'/vsi[a-z0-9_]*/?|load_extension|VirtualOGR|"\$ref"', re.IGNORECASE)
# only the R*Tree virtual tables a GeoPackage spatial index needs (module names may be quoted)
_VIRTUAL = re.compile(r"^\s*create\s+virtual\s+table\b", re.IGNORECASE)
_MODULE = re.compile(r"\busing\s+[\"'`\[]?(\w+)", re.IGNORECASE)
JSON_FULL_CHECK_BYTES = 16 * 1024 * 1024  # parsed once more in Python only below this (memory ≈ 10× size)
RATIO_FLOOR = 16 * 1024 * 1024  # below this total, a high compression ratio costs nothing


class FormatRefused(ValueError):
    """The file is not in a format we open, or carries a reference we never follow; the message says which."""


def allowed_text() -> str:
    return ", ".join(ALLOWED_VECTOR)


def refuse_format(found: str) -> FormatRefused:
    """The single refusal message: what was found and what is allowed."""
    return FormatRefused(_("不支持的文件类型：%(found)s；支持 %(allowed)s（format not supported: %(found)s; allowed: %(allowed)s）")
                         % {"found": found, "allowed": allowed_text()})


def _close_gdal_network() -> None:
    """Our GDAL reads never touch the network: /vsicurl/ accepts no file, HTTP gives up at once.

    We never pass such paths ourselves (uploads are files we name); this is the second line if a driver
    tries to follow a reference inside a file. OGR_GEOJSON_MAX_OBJ_SIZE bounds one GeoJSON object (MB).
    """
    max_mb = max(1, int(getattr(settings, "CITYGIS_IMPORT_MAX_BYTES", 512 * 1024 * 1024)) // (1024 * 1024))
    pyogrio.set_gdal_config_options({
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".citygis-never",
        "GDAL_HTTP_TIMEOUT": "1",
        "GDAL_HTTP_CONNECTTIMEOUT": "1",
        "GDAL_HTTP_MAX_RETRY": "0",
        "GDAL_HTTP_PROXY": "127.0.0.1:9",  # the discard port: any HTTP attempt fails locally
        "OGR_GEOJSON_MAX_OBJ_SIZE": str(min(max_mb, 200)),
    })


_close_gdal_network()


def refuse_references(path: Path) -> None:
    """Refuse text content that names a GDAL virtual file system or an SQLite extension, scanning in blocks."""
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            found = _REFERENCE.search(tail + block)
            if found:
                raise FormatRefused(_("文件含有不允许的引用 %(ref)s（虚拟文件系统或扩展，不会被打开）")
                                    % {"ref": found.group(0).decode("ascii", "replace")})
            tail = block[-32:]


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).lower().strip(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def geometry_columns(columns: list[str]) -> tuple[str | None, str | None, str | None]:
    """(wkt, lon, lat) column names of a CSV header, None where absent."""
    return _pick(columns, WKT_NAMES), _pick(columns, LON_NAMES), _pick(columns, LAT_NAMES)


def _check_gpkg(path: Path) -> None:
    """A GeoPackage is an SQLite file with the GeoPackage application_id whose schema references nothing else."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            schema = con.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise FormatRefused(_("无法读取 GeoPackage（%(exc)s）") % {"exc": exc}) from exc
    if app_id not in GPKG_APPLICATION_IDS:
        raise refuse_format("SQLite")
    for _kind, name, sql in schema:
        if _REFERENCE.search(sql.encode()):
            raise FormatRefused(_("GeoPackage 的 %(name)s 含有不允许的引用") % {"name": name})
        if _VIRTUAL.search(sql):
            modules = {m.lower() for m in _MODULE.findall(sql)} or {"?"}
            if modules != {"rtree"}:
                raise FormatRefused(_("GeoPackage 含有不允许的虚拟表 %(name)s（%(module)s）")
                                    % {"name": name, "module": ", ".join(sorted(modules - {"rtree"}))})


def _check_geojson(path: Path, text: str) -> None:
    """GeoJSON is one JSON object of type FeatureCollection or Feature, whose `crs` (if any) links nowhere:
    GDAL would fetch a `"type": "link"` CRS from its href. Parsed fully when small, else from its first block.
    """
    if path.stat().st_size <= JSON_FULL_CHECK_BYTES:
        try:
            with path.open("rb") as fh:
                doc = json.load(fh)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting: RecursionError
            raise FormatRefused(_("无法读取 GeoJSON（%(exc)s）") % {"exc": type(exc).__name__ if isinstance(exc, RecursionError) else exc}) from exc
        kind = doc.get("type") if isinstance(doc, dict) else None
        crs = doc.get("crs") if isinstance(doc, dict) else None
        linked = isinstance(crs, dict) and crs.get("type") not in ("name", "EPSG")
    else:  # too big to parse twice: the top-level type must appear near the start
        found = re.search(r'"type"\s*:\s*"(\w+)"', text)
        kind = found.group(1) if found else None
        linked = re.search(r'"crs"\s*:\s*\{\s*"type"\s*:\s*"(?!name"|EPSG")', text) is not None
    if kind not in ("FeatureCollection", "Feature"):
        raise refuse_format(f"JSON ({kind or '?'})")
    if linked:
        raise FormatRefused(_("GeoJSON 的 crs 只能是名称（如 EPSG:4490），不能是外部链接"))


def _check_csv(text: str) -> None:
    """CSV: a header row naming lon/lat (or WKT) columns."""
    try:
        header = next(csv.reader(io.StringIO(text.splitlines()[0] if text else "")), [])
    except (csv.Error, IndexError):
        header = []
    wkt, lon, lat = geometry_columns(header)
    if not (wkt or (lon and lat)):
        raise refuse_format(_("文本（CSV 需要经纬度列 lon/lat、经度/纬度，或 WKT 列）"))


def sniff(path: Path, *, raster: bool = False) -> str:
    """What `path` holds by its bytes: "gpkg", "geojson", "zip", "csv" (or "tiff" when `raster`).

    Raises FormatRefused for anything else, naming what was found.
    """
    with path.open("rb") as fh:
        head = fh.read(HEAD)
    if head.startswith(TIFF_MAGIC):
        if raster:
            return "tiff"
        raise refuse_format("GeoTIFF")
    if raster:
        raise FormatRefused(_("只支持 GeoTIFF/COG"))
    if head.startswith(b"SQLite format 3\x00"):
        _check_gpkg(path)
        return "gpkg"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(SHP_MAGIC):
        raise refuse_format(_("未打包的 Shapefile（请把 .shp/.shx/.dbf/.prj 打成 zip）"))
    if b"\x00" in head:
        raise refuse_format(_("二进制文件"))
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the block end is fine
            raise refuse_format(_("非 UTF-8 文本")) from exc
        text = head[: exc.start].decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        raise refuse_format("VRT" if re.search(r"<\s*OGRVRTDataSource|<\s*VRTDataset", text, re.IGNORECASE)
                            else "XML")
    refuse_references(path)
    if stripped.startswith("{"):
        _check_geojson(path, stripped)
        return "geojson"
    if stripped.startswith("["):
        raise refuse_format("JSON")
    _check_csv(stripped)
    return "csv"


def confirm_driver(path: Path, kind: str) -> dict:
    """After our checks, GDAL must pick the driver we expect for `kind`; any other driver is refused.

    Returns pyogrio's read_info of the file (feature count, declared geometry type …)."""
    expected = DRIVERS[kind]
    try:
        info = pyogrio.read_info(path)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError … for broken files
        raise FormatRefused(_("无法读取数据文件（%(exc)s）") % {"exc": exc}) from exc
    if info["driver"] != expected:
        raise refuse_format(info["driver"])
    return info


# --- archives ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveLimits:
    entries: int
    unzipped_bytes: int
    ratio: int

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        return cls(
            entries=int(getattr(settings, "CITYGIS_IMPORT_MAX_ZIP_ENTRIES", 50)),
            unzipped_bytes=int(getattr(settings, "CITYGIS_IMPORT_MAX_UNZIPPED_BYTES", 1024 ** 3)),
            ratio=int(getattr(settings, "CITYGIS_IMPORT_MAX_ZIP_RATIO", 200)),
        )


def _declared_entries(fh) -> int | None:
    """The entry count of the end-of-central-directory record, read before the directory itself is parsed."""
    endrec = zipfile._EndRecData(fh)  # stable since Python 2; avoids parsing a huge directory first
    return None if endrec is None else int(endrec[zipfile._ECD_ENTRIES_TOTAL])


def _member_name(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts:
        raise FormatRefused(_("压缩包含有越出目标目录的路径：%(filename)s") % {"filename": info.filename})
    if stat.S_ISLNK(info.external_attr >> 16):
        raise FormatRefused(_("压缩包含有符号链接：%(filename)s") % {"filename": info.filename})
    if info.flag_bits & 0x1:
        raise FormatRefused(_("压缩包含有加密文件：%(filename)s") % {"filename": info.filename})
    return pure


def check_archive(archive: Path, limits: ArchiveLimits | None = None) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check `archive` without extracting; return [(member, suffix)] of the one dataset it holds."""
    limits = limits or ArchiveLimits.from_settings()
    try:
        with archive.open("rb") as fh:
            declared = _declared_entries(fh)
            if declared is not None and declared > limits.entries:
                raise FormatRefused(_("压缩包有 %(n)s 个条目，超过上限 %(limit)s（CITYGIS_IMPORT_MAX_ZIP_ENTRIES）")
                                    % {"n": declared, "limit": limits.entries})
            with zipfile.ZipFile(fh) as zf:
                members = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError) as exc:  # crafted
        raise FormatRefused(_("不是有效的 zip 压缩包（%(exc)s）") % {"exc": exc}) from exc
    if len(members) > limits.entries:
        raise FormatRefused(_("压缩包有 %(n)s 个条目，超过上限 %(limit)s（CITYGIS_IMPORT_MAX_ZIP_ENTRIES）")
                            % {"n": len(members), "limit": limits.entries})
    files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    total = packed = 0
    for info in members:
        pure = _member_name(info)
        if info.is_dir():
            continue
        suffix = pure.suffix.lower()
        if suffix not in SHAPEFILE_PARTS + SINGLE_FILE_MEMBERS:
            raise refuse_format(_("压缩包中的 %(filename)s") % {"filename": info.filename})
        total += info.file_size
        packed += info.compress_size
        files.append((info, pure))
    if total > limits.unzipped_bytes:
        raise FormatRefused(_("解压后 %(n)s 字节，超过上限 %(limit)s（CITYGIS_IMPORT_MAX_UNZIPPED_BYTES）")
                            % {"n": total, "limit": limits.unzipped_bytes})
    if total > RATIO_FLOOR and total > limits.ratio * max(packed, 1):
        raise FormatRefused(_("压缩比 %(r)s 超过上限 %(limit)s（CITYGIS_IMPORT_MAX_ZIP_RATIO）")
                            % {"r": total // max(packed, 1), "limit": limits.ratio})
    shps = [(i, p) for i, p in files if p.suffix.lower() == ".shp"]
    singles = [(i, p) for i, p in files if p.suffix.lower() in SINGLE_FILE_MEMBERS]
    if len(shps) == 1 and not singles:
        stem = shps[0][1].with_suffix("").as_posix().lower()
        chosen: dict[str, zipfile.ZipInfo] = {}
        for info, pure in files:
            suffix = pure.suffix.lower()
            if pure.with_suffix("").as_posix().lower() != stem or suffix in chosen:
                raise FormatRefused(_("压缩包含有多个数据集，请每次导入一个（%(filename)s）") % {"filename": info.filename})
            chosen[suffix] = info
        for needed in (".shx", ".dbf"):
            if needed not in chosen:
                raise FormatRefused(_("Shapefile 缺少 %(part)s") % {"part": needed})
        return [(info, suffix) for suffix, info in chosen.items()]
    if len(singles) == 1 and not shps and len(files) == 1:
        info, pure = singles[0]
        return [(info, pure.suffix.lower())]
    if not files:
        raise FormatRefused(_("压缩包中没有 Shapefile/GeoPackage/GeoJSON/CSV 数据"))
    raise FormatRefused(_("压缩包含有多个数据集，请每次导入一个"))


def extract_archive(archive: Path, target: Path, limits: ArchiveLimits | None = None) -> tuple[Path, str]:
    """Check `archive`, write its dataset under names we choose (`target/data.<ext>`); return (path, kind)."""
    chosen = check_archive(archive, limits)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info, suffix in chosen:
                # ZipExtFile stops at the declared size and checks the CRC: the sizes checked above hold
                with zf.open(info) as src, (target / f"data{suffix}").open("wb") as out:
                    while block := src.read(1024 * 1024):
                        out.write(block)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError, zlib.error, struct.error) as exc:
        raise FormatRefused(_("压缩包已损坏（%(exc)s）") % {"exc": exc}) from exc
    suffixes = {suffix for _info, suffix in chosen}
    if ".shp" in suffixes:
        path = target / "data.shp"
        with path.open("rb") as fh:
            if fh.read(4) != SHP_MAGIC:
                shp = next(info.filename for info, suffix in chosen if suffix == ".shp")
                raise FormatRefused(_("%(filename)s 不是 Shapefile") % {"filename": shp})
        return path, "shp"
    path = target / f"data{suffixes.pop()}"
    kind = sniff(path)
    if kind == "zip":
        raise refuse_format(_("嵌套的 zip"))
    return path, kind
