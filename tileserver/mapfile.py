"""The MapServer 8 mapfile and config file, generated from the layer registry (see specs.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings

from .paths import MAP_ALIAS, ConfigPaths
from .specs import LayerSpec

FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_NAME = "noto-cjk"
PROJ_DATA = "/usr/share/proj"
# The Liupanshui prefecture with a margin (EPSG:4490 lon/lat); the map's default extent only.
CITY_EXTENT = (104.3, 25.2, 105.7, 26.9)
MAX_SIZE = 4096
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_SYMBOLS = {"circle", "square", "triangle", "star", "cross"}
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


def q(value: Any) -> str:
    """A MapServer double-quoted string (quotes escaped, newlines flattened)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{text}"'


def color(value: Any, default: str) -> str:
    return q(value if isinstance(value, str) and _HEX.match(value) else default)


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
        symbol = st.get("symbol") if st.get("symbol") in _SYMBOLS else "circle"
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
    if spec.extent:
        md["wms_extent"] = " ".join(f"{v:.7f}" for v in spec.extent)
    return ["METADATA", *[f"{q(k)} {q(v)}" for k, v in md.items()], "END"]


def html_template(spec: LayerSpec) -> str:
    rows = "".join(f"<tr><th>{a}</th><td>[{a}]</td></tr>" for a in spec.attributes if a != "id")
    # [id] would be MapServer's session id, so the id column is reached through [item name=…].
    rows = f'<tr><th>{spec.id_column}</th><td>[item name="{spec.id_column}"]</td></tr>' + rows
    return f"<!-- MapServer Template -->\n<table class=\"featureinfo\" data-layer=\"{spec.name}\">{rows}</table>\n"


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
        'SYMBOL NAME "circle" TYPE ELLIPSE FILLED TRUE POINTS 1 1 END END',
        'SYMBOL NAME "square" TYPE VECTOR FILLED TRUE POINTS 0 0 0 1 1 1 1 0 0 0 END END',
        'SYMBOL NAME "triangle" TYPE VECTOR FILLED TRUE POINTS 0 1 0.5 0 1 1 0 1 END END',
        'SYMBOL NAME "cross" TYPE VECTOR POINTS 0 0.5 1 0.5 -99 -99 0.5 0 0.5 1 END END',
        'SYMBOL NAME "star" TYPE VECTOR FILLED TRUE POINTS 0 0.375 0.35 0.375 0.5 0 0.65 0.375 1 0.375 0.75 0.625'
        ' 0.875 1 0.5 0.75 0.125 1 0.25 0.625 0 0.375 END END',
        "WEB", "METADATA",
        f'"wms_title" {q("六盘水城市一张图")}', f'"wms_srs" {q(srs)}', '"wms_enable_request" "*"',
        '"wms_feature_info_mime_type" "text/html"',
        '"wms_getfeatureinfo_formatlist" "application/json,text/html,text/plain,application/vnd.ogc.gml"',
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
