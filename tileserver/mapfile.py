"""The MapServer 8 mapfile and config file, generated from the layer registry (see specs.py)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from django.conf import settings

from city_gis.text_limits import xml_text
from layers.style import SYMBOLS, StyleError, is_symbol, normalise_color

from .paths import MAP_ALIAS, ConfigPaths
from .specs import CITY_EXTENT, LayerSpec

__all__ = ["CITY_EXTENT", "MAX_SIZE", "WFS_ONLINE_PLACEHOLDER", "WFS_TYPES_NAME", "build_mapfile",
           "build_mapserver_config", "fontset", "q", "wfs_feature_types", "wfs_max_features"]

FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_NAME = "noto-cjk"
PROJ_DATA = "/usr/share/proj"
MAX_SIZE = 4096
# Control characters end a MapServer string or reach its XML/HTML outputs: flattened to a space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# The point symbols layers.style allows (SYMBOLS), as MapServer draws them.
SYMBOL_DEFS = {
    "circle": "TYPE ELLIPSE FILLED TRUE POINTS 1 1 END",
    "square": "TYPE VECTOR FILLED TRUE POINTS 0 0 0 1 1 1 1 0 0 0 END",
    "triangle": "TYPE VECTOR FILLED TRUE POINTS 0 1 0.5 0 1 1 0 1 END",
    "cross": "TYPE VECTOR POINTS 0 0.5 1 0.5 -99 -99 0.5 0 0.5 1 END",
    "star": "TYPE VECTOR FILLED TRUE POINTS 0 0.375 0.35 0.375 0.5 0 0.65 0.375 1 0.375 0.75 0.625"
            " 0.875 1 0.5 0.75 0.125 1 0.25 0.625 0 0.375 END",
}
# Colour ramps for raster `colormap` (stops spread evenly over min..max).
RAMPS = {
    "terrain": ["#1a9850", "#a6d96a", "#fee08b", "#d8b365", "#8c510a", "#f5f5f5"],
    "slope": ["#ffffcc", "#fd8d3c", "#bd0026"],
    "viridis": ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"],
}
# EPSG:4490 as PROJ defines it. Layers say it as a string: an `init=epsg:` per layer costs a proj.db lookup per
# layer per mapserv process (measured: 3× the CPU of a whole 256 px GetMap in EPSG:3857). The map itself
# keeps `init=epsg:4490` so MapServer knows its native CRS by code.
LAYER_PROJ = "+proj=longlat +ellps=GRS80 +no_defs +type=crs"
GEOMETRY_TO_MS = {"POINT": "POINT", "LINESTRING": "LINE", "POLYGON": "POLYGON", "RASTER": "RASTER"}
# PostGIS geometry types as MapServer's `gml_<geometry>_type` (DescribeFeatureType, and GML writes e.g.
# MultiSurface even for one-part shapes so every feature of a layer has the declared type).
GML_GEOMETRY_TYPES = {"POINT": "point", "MULTIPOINT": "multipoint", "LINESTRING": "line",
                      "MULTILINESTRING": "multiline", "POLYGON": "polygon", "MULTIPOLYGON": "multipolygon"}
# The mapfile cannot know the host a client reached us by: MapServer writes this URL into its WFS documents
# and tileserver/wfs.py replaces it with the request's own `/ows?` URL (never a `map=` path).
WFS_ONLINE_PLACEHOLDER = "http://citygis-wfs.invalid/ows?"
# WFS output formats (OUTPUTFORMAT names below) besides MapServer's built-in GML 2/3/3.2.
WFS_FORMATS = "geojson"
# Beside the mapfile: the names of its WFS feature types (tileserver/wfs.py tells unknown from forbidden).
WFS_TYPES_NAME = "wfs-featuretypes.json"


def wfs_max_features() -> int:
    """Hard page size of WFS GetFeature (setting CITYGIS_WFS_MAX_FEATURES): the mapfile's `wfs_maxfeatures`
    and the cap tileserver/wfs.py puts on COUNT/MAXFEATURES."""
    return max(1, int(getattr(settings, "CITYGIS_WFS_MAX_FEATURES", 10000)))


def wfs_feature_types(specs: list[LayerSpec]) -> list[str]:
    """The layers the mapfile publishes as WFS feature types: every vector layer."""
    return [s.name for s in specs if s.kind == "vector"]


def q(value: Any) -> str:
    """A MapServer double-quoted string: what XML 1.0 forbids removed, control characters (newlines
    included) flattened to a space, backslash and double quote escaped. MapServer XML-escapes the text it
    writes into its own documents, so nothing else is escaped here (escaping it twice would show `&amp;`)."""
    text = _CONTROL.sub(" ", xml_text(value))
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def color(value: Any, default: str) -> str:
    """A quoted "#rrggbb" colour: `value` when layers.style accepts it, else `default`."""
    try:
        return q(normalise_color(value))
    except StyleError:
        return q(default)


def number(value: Any, default: float, lo: float = 0, hi: float = 1000) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return min(max(v, lo), hi)


def connection_string(db: dict[str, Any]) -> str:
    """libpq connection string from Django's DATABASES entry (the test database name included)."""
    parts = [f"dbname={db['NAME']}"]
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key):
            parts.append(f"{name}={db[key]}")
    return " ".join(parts)


def _style_block(spec: LayerSpec, st: dict[str, Any]) -> list[str]:
    geom = spec.geometry_type
    fill = color(st.get("fill"), "#a6cee3")
    stroke = color(st.get("stroke"), "#1f78b4")
    width = number(st.get("stroke_width"), 1.0, 0, 50)
    opacity = int(number(st.get("opacity"), 100, 0, 100))
    if geom == "POINT":
        symbol = st["symbol"] if is_symbol(st.get("symbol")) else "circle"
        size = number(st.get("size"), 8, 1, 64)
        return ["STYLE", f'SYMBOL "{symbol}"', f"SIZE {size}", f"COLOR {fill}", f"OUTLINECOLOR {stroke}",
                f"WIDTH {width}", f"OPACITY {opacity}", "END"]
    if geom == "LINESTRING":
        return ["STYLE", f"COLOR {stroke}", f"WIDTH {max(width, 0.5)}", f"OPACITY {opacity}", "END"]
    return ["STYLE", f"COLOR {fill}", f"OPACITY {opacity}", "END",
            "STYLE", f"OUTLINECOLOR {stroke}", f"WIDTH {width}", "END"]


def _label_block(label: dict[str, Any]) -> list[str]:
    lines = ["LABEL", f'FONT "{FONT_NAME}"', f"SIZE {number(label.get('size'), 9, 4, 48)}",
             f"COLOR {color(label.get('color'), '#333333')}", 'OUTLINECOLOR "#ffffff"', "OUTLINEWIDTH 2",
             "POSITION AUTO", "PARTIALS FALSE", "MINDISTANCE 40"]
    if label.get("max_scale"):
        lines.append(f"MAXSCALEDENOM {number(label['max_scale'], 0, 0, 1e9)}")
    if label.get("min_scale"):
        lines.append(f"MINSCALEDENOM {number(label['min_scale'], 0, 0, 1e9)}")
    lines.append("END")
    return lines


def _classes(spec: LayerSpec) -> list[str]:
    st = spec.style
    label = st.get("label") if isinstance(st.get("label"), dict) else None
    if label and label.get("attribute") not in spec.attributes:
        label = None
    label_lines = _label_block(label) if label else []
    lines: list[str] = []
    classify_by = st.get("classify_by")
    classes = st.get("classes") if isinstance(st.get("classes"), list) else []
    if classify_by in spec.attributes and classes:
        lines.append(f"CLASSITEM {q(classify_by)}")
        for cls in classes:
            if not isinstance(cls, dict) or "value" not in cls:
                continue
            merged = {**st, **cls}
            lines += ["CLASS", f"NAME {q(cls.get('label') or cls['value'])}",
                      f"EXPRESSION {q(cls['value'])}", *_style_block(spec, merged), *label_lines, "END"]
    # Catch-all class: features outside every class still show (in the base style).
    lines += ["CLASS", f"NAME {q(spec.title)}", *_style_block(spec, st), *label_lines, "END"]
    if label:
        lines.insert(0, f"LABELITEM {q(label['attribute'])}")
    return lines


def _raster_styling(st: dict[str, Any]) -> list[str]:
    """PROCESSING and CLASSes of a raster layer: value-range classes, a colour ramp, or a grey stretch."""
    lo, hi = number(st.get("min"), 0, -1e9, 1e9), number(st.get("max"), 255, -1e9, 1e9)
    lines = ['PROCESSING "RESAMPLE=BILINEAR"']
    if st.get("nodata") is not None:
        lines.append(f'PROCESSING "NODATA={number(st["nodata"], 0, -1e12, 1e12)}"')
    classes = [c for c in st.get("classes") or [] if isinstance(c, dict) and "value" in c]
    if classes:
        for cls in classes:
            a, _, b = str(cls["value"]).partition("-")
            try:
                a_val, b_val = float(a), float(b or a)
            except ValueError:
                continue
            expr = f"([pixel] >= {a_val} AND [pixel] < {b_val})" if b else f"([pixel] = {a_val})"
            lines += ["CLASS", f"NAME {q(cls.get('label') or cls['value'])}", f"EXPRESSION {expr}",
                      "STYLE", f"COLOR {color(cls.get('fill'), '#808080')}", "END", "END"]
        return lines
    ramp = RAMPS.get(str(st.get("colormap", "")))
    if not ramp:
        return lines + [f'PROCESSING "SCALE={lo},{hi}"']
    step = (hi - lo) / (len(ramp) - 1)
    styles = []
    for i in range(len(ramp) - 1):
        styles += ["STYLE", f"COLORRANGE {q(ramp[i])} {q(ramp[i + 1])}",
                   f"DATARANGE {lo + i * step} {lo + (i + 1) * step}", "END"]
    return lines + ["CLASS", f"NAME {q(st.get('colormap'))}", *styles, "END"]


def _metadata(spec: LayerSpec, srs: str) -> list[str]:
    md = {
        "wms_title": spec.title,
        "wms_abstract": spec.abstract,
        "wms_keywordlist": ",".join(spec.keywords + [spec.theme]),
        "wms_srs": srs,
        "wms_enable_request": "*",
        "wms_include_items": "all",
        "gml_include_items": "all",
        "gml_featureid": spec.id_column,
        "wms_getfeatureinfo_formatlist": "application/json,text/html,text/plain,application/vnd.ogc.gml",
    }
    md["wms_extent"] = " ".join(f"{v:.7f}" for v in spec.coverage)
    if spec.kind == "vector":  # raster layers are not WFS feature types
        md.update({
            "wfs_title": spec.title,
            "wfs_abstract": spec.abstract,
            "wfs_keywordlist": md["wms_keywordlist"],
            "wfs_srs": srs,
            "wfs_extent": md["wms_extent"],
            "wfs_enable_request": "*",
            "wfs_getfeature_formatlist": WFS_FORMATS,
            # Attribute types from PostGIS (not all strings) in DescribeFeatureType and GML.
            "gml_types": "auto",
            "gml_geometries": spec.geom_column,
        })
        if spec.geometry_subtype in GML_GEOMETRY_TYPES:
            md[f"gml_{spec.geom_column}_type"] = GML_GEOMETRY_TYPES[spec.geometry_subtype]
    else:
        md["wfs_enable_request"] = "!*"
    return ["METADATA", *[f"{q(k)} {q(v)}" for k, v in md.items()], "END"]


def html_template(spec: LayerSpec) -> str:
    """The GetFeatureInfo text/html template. Every value goes through `[item … escape="html"]`: attribute
    values are any department's data and must not become markup in our origin."""
    e = html.escape
    # [id] would be MapServer's session id, so every column is reached through [item name=…].
    columns = [spec.id_column] + [a for a in spec.attributes if a not in ("id", spec.id_column)]
    rows = "".join(f'<tr><th>{e(a)}</th><td>[item name="{e(a)}" escape="html"]</td></tr>' for a in columns)
    return (f"<!-- MapServer Template -->\n<table class=\"featureinfo\" data-layer=\"{e(spec.name)}\">{rows}"
            "</table>\n")


def layer_block(spec: LayerSpec, conn: str, srs: str, template_dir: Path) -> list[str]:
    lines = ["LAYER", f"NAME {q(spec.name)}", f"GROUP {q(spec.theme)}", "STATUS ON",
             f"TYPE {GEOMETRY_TO_MS.get(spec.geometry_type, 'POLYGON')}", f"PROJECTION {q(LAYER_PROJ)} END"]
    if spec.kind == "raster":
        lines += [f"DATA {q(spec.raster_path)}", *_raster_styling(spec.style), *_metadata(spec, srs), "END"]
        return lines
    data = f"{spec.geom_column} from ({spec.select_sql}) as sub using unique {spec.id_column} using srid=4490"
    lines += ["CONNECTIONTYPE POSTGIS", f"CONNECTION {q(conn)}", f"DATA {q(data)}",
              f"TEMPLATE {q(str(template_dir / (spec.name + '.html')))}", "TOLERANCE 4", "TOLERANCEUNITS PIXELS",
              *_metadata(spec, srs), *_classes(spec), "END"]
    return lines


def build_mapfile(specs: list[LayerSpec], paths: ConfigPaths, db: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(mapfile text, {template file name: text})."""
    srs = " ".join(settings.CITYGIS_OGC_SRS)
    conn = connection_string(db)
    template_dir = paths.mapfile_dir / "templates"
    lines = [
        "MAP", 'NAME "citygis"', f"EXTENT {' '.join(map(str, CITY_EXTENT))}", "SIZE 256 256",
        f"MAXSIZE {MAX_SIZE}", "UNITS DD", 'IMAGETYPE "png"', "IMAGECOLOR 255 255 255",
        f"FONTSET {q(str(paths.mapfile_dir / 'fonts.list'))}", 'PROJECTION "init=epsg:4490" END',
        'OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGBA EXTENSION "png"'
        ' TRANSPARENT ON END',
        'OUTPUTFORMAT NAME "jpeg" DRIVER "AGG/JPEG" MIMETYPE "image/jpeg" IMAGEMODE RGB EXTENSION "jpg" END',
        'OUTPUTFORMAT NAME "geojson" DRIVER "OGR/GEOJSON" MIMETYPE "application/json"'
        ' FORMATOPTION "STORAGE=memory" FORMATOPTION "FORM=SIMPLE" END',
        *[f"SYMBOL NAME {q(name)} {SYMBOL_DEFS[name]} END" for name in SYMBOLS],
        # Legend labels are class names (Chinese): MapServer's default bitmap font has no CJK glyphs.
        "LEGEND", "KEYSIZE 18 12", "LABEL", f"FONT {q(FONT_NAME)}", "SIZE 9", "COLOR 0 0 0", "END", "END",
        "WEB", "METADATA",
        f'"wms_title" {q("六盘水城市一张图")}', f'"wms_srs" {q(srs)}', '"wms_enable_request" "*"',
        '"wms_feature_info_mime_type" "text/html"',
        '"wms_getfeatureinfo_formatlist" "application/json,text/html,text/plain,application/vnd.ogc.gml"',
        f'"wfs_title" {q("六盘水城市一张图 WFS")}', f'"wfs_srs" {q(srs)}', '"wfs_enable_request" "*"',
        f'"wfs_onlineresource" {q(WFS_ONLINE_PLACEHOLDER)}', f'"wfs_maxfeatures" "{wfs_max_features()}"',
        # numberMatched in every page (one count query): clients page with it.
        '"wfs_compute_number_matched" "true"', '"wfs_namespace_prefix" "ms"',
        f'"wfs_accessconstraints" {q("依据图层密级授权访问")}',
        f'"wfs_abstract" {q("六盘水市城市一张图矢量要素服务（CGCS2000）")}',
        f'"wfs_contactorganization" {q("六盘水市城市管理局")}', '"wfs_fees" "none"',
        "END", "END",
    ]
    templates = {}
    for spec in specs:
        lines += layer_block(spec, conn, srs, template_dir)
        if spec.kind == "vector":
            templates[spec.name + ".html"] = html_template(spec)
    lines.append("END")
    return "\n".join(lines) + "\n", templates


def build_mapserver_config(paths: ConfigPaths) -> str:
    """MapServer 8's config file: map paths restricted to our directory, PROJ data for MapServer only."""
    # POSIX ERE, not Python's re: escape only its metacharacters.
    escaped = re.sub(r"([.\[\](){}*+?|^$\\])", r"\\\1", str(paths.mapfile_dir))
    pattern = "^" + escaped + r"/[A-Za-z0-9_]+\.map$"
    return "\n".join([
        "CONFIG", "ENV",
        f"MS_MAP_PATTERN {q(pattern)}",
        f"PROJ_DATA {q(PROJ_DATA)}",
        f"PROJ_LIB {q(PROJ_DATA)}",
        'MS_ERRORFILE "stderr"',
        "END", "MAPS",
        f"{MAP_ALIAS} {q(str(paths.mapfile))}",
        "END", "END",
    ]) + "\n"


def fontset() -> str:
    return f"{FONT_NAME} {FONT_FILE}\n"
