"""The MapProxy configuration (a dict dumped as YAML), generated from the layer registry (see specs.py).

Layer tree: one group per theme holding `<theme>.<name>` layers; each layer has a `mapserver` source; cacheable
layers get a file cache (tms layout) on the `webmercator` and `cgcs2000` grids; `base.basemap` composites the
base layers of the base-map departments into one cached tile layer (the web base map, see `in_basemap`).

Every source has a `coverage`: the layer's data extent (specs.advertised_extent). MapProxy advertises it as the
layer's extent in every CRS of its capabilities and requests nothing from MapServer outside it.

Text: MapProxy's capabilities templates (tempita, not HTMLTemplate) insert titles, abstracts and keywords into
XML as they are, so every text we give MapProxy is XML-escaped here, once (`xml_escaped`).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

from city_gis.text_limits import xml_text
from layers.access import basemap_departments
from layers.models import Theme

from . import tilestore
from .limits import mapserver_options
from .mapfile import MAX_SIZE
from .paths import ConfigPaths
from .specs import BBox, LayerSpec, union_extent

GRIDS = {
    "webmercator": {"base": "GLOBAL_WEBMERCATOR", "num_levels": 20},
    # CGCS2000 geographic, two 256 px tiles at level 0 like GLOBAL_GEODETIC, origin top left as in XYZ.
    "cgcs2000": {
        "srs": "EPSG:4490", "bbox": [-180, -90, 180, 90], "bbox_srs": "EPSG:4490", "origin": "nw",
        "min_res": 0.703125, "num_levels": 20, "tile_size": [256, 256],
    },
}
BASEMAP = "base.basemap"
IMAGE_FORMATS = ["image/png", "image/jpeg"]
COVERAGE_SRS = "EPSG:4490"
# Also for attribute values (TMS writes titles into `title="…"`).
_XML_ATTRIBUTE_ENTITIES = {'"': "&quot;", "'": "&apos;"}


def xml_escaped(value: Any) -> str:
    """`value` as XML character data or attribute value: characters XML 1.0 forbids removed, markup escaped."""
    return escape(xml_text(value), _XML_ATTRIBUTE_ENTITIES)


def in_basemap(spec: LayerSpec) -> bool:
    """The one rule of what `base.basemap` draws for everyone: public vector layers of the base theme owned by
    a base-map department (layers.access.basemap_departments, setting CITYGIS_BASEMAP_DEPARTMENTS). Other
    departments' base layers are published as layers of their own but never drawn into the shared map."""
    return (spec.theme == Theme.BASE and spec.kind == "vector" and spec.classification == "public"
            and spec.owner in basemap_departments())


def coverage(bbox: BBox) -> dict[str, Any]:
    return {"bbox": list(bbox), "srs": COVERAGE_SRS}


def tile_cache(bbox: BBox) -> dict[str, Any]:
    """A tile cache (on disk, or the shared Redis: tilestore.py) that stores tiles only where they intersect
    `bbox` (outside: blank, not stored)."""
    return tilestore.cache_config(coverage(bbox))


def source_name(layer_name: str) -> str:
    return f"src_{layer_name}"


def cache_name(layer_name: str) -> str:
    """Cache names are also the tile cache directories: `<cache_dir>/<cache>/<grid>/z/x/y.png`, the same
    path as the `/tiles/<layer>/<grid>/z/x/y.png` URL (nginx can serve the directory as it is)."""
    return layer_name


def _source(layers: list[str], paths: ConfigPaths, raster: bool = False) -> dict[str, Any]:
    return {
        "type": "mapserver",
        "req": {"map": str(paths.mapfile), "layers": ",".join(layers), "transparent": True},
        "supported_srs": list(settings.CITYGIS_OGC_SRS),
        "supported_formats": ["image/png"],
        "wms_opts": {"version": "1.1.1", "featureinfo": not raster, "legendgraphic": True},
        "mapserver": mapserver_options(paths.mapfile_dir),
    }


def build_mapproxy_conf(
    specs: list[LayerSpec], paths: ConfigPaths, *, demo: bool = False, caches_enabled: bool = True
) -> dict[str, Any]:
    """The MapProxy configuration; `caches_enabled=False` serves every layer from its source (benchmarks)."""
    srs = list(settings.CITYGIS_OGC_SRS)
    sources: dict[str, Any] = {}
    caches: dict[str, Any] = {}
    groups: dict[str, list[dict[str, Any]]] = {t: [] for t in Theme.values}
    for spec in specs:
        src = _source([spec.name], paths, raster=spec.kind == "raster")
        src["coverage"] = coverage(spec.coverage)
        sources[source_name(spec.name)] = src
        layer: dict[str, Any] = {
            "name": spec.name,
            "title": xml_escaped(spec.title),
            "md": {"abstract": xml_escaped(spec.abstract),
                   "keyword_list": [{"keywords": [xml_escaped(k) for k in spec.keywords + [spec.theme]]}]},
        }
        if spec.cacheable and caches_enabled:
            caches[cache_name(spec.name)] = {
                "grids": list(GRIDS), "sources": [source_name(spec.name)], "format": "image/png",
                "cache": tile_cache(spec.coverage), "meta_size": [2, 2], "meta_buffer": 32,
            }
            layer["sources"] = [cache_name(spec.name)]
        else:
            layer["sources"] = [source_name(spec.name)]
        groups[spec.theme].append(layer)
    # The base map is shown to everyone (see auth.py): public layers of the base-map departments only.
    base_specs = [s for s in specs if in_basemap(s)]
    base_layers = [s.name for s in base_specs]
    if base_layers and caches_enabled:
        # One MapServer request draws every base layer with its labels: labels are placed across layers.
        src = _source(base_layers, paths)
        base_coverage = union_extent([s.coverage for s in base_specs])
        src["coverage"] = coverage(base_coverage)
        src["wms_opts"]["featureinfo"] = False
        src["req"]["transparent"] = False
        sources[source_name(BASEMAP)] = src
        caches[cache_name(BASEMAP)] = {
            "grids": list(GRIDS), "sources": [source_name(BASEMAP)], "format": "image/png",
            "cache": tile_cache(base_coverage), "meta_size": [2, 2], "meta_buffer": 64,
        }
        groups["base"].insert(0, {"name": BASEMAP, "title": xml_escaped("底图"), "sources": [cache_name(BASEMAP)]})
    theme_labels = dict(Theme.choices)
    # Group layers: MapProxy advertises the union of their children's extents.
    tree = [
        {"name": theme, "title": xml_escaped(theme_labels[theme]), "layers": layers}
        for theme, layers in groups.items() if layers
    ]
    services: dict[str, Any] = {
        "wms": {
            "versions": ["1.1.1", "1.3.0"],
            "srs": srs,
            "bbox_srs": srs,
            "image_formats": IMAGE_FORMATS,
            "featureinfo_types": ["json", "html", "text", "xml"],
            "max_output_pixels": [MAX_SIZE, MAX_SIZE],
            "strict": False,  # web clients often omit STYLES/FORMAT in GetFeatureInfo
            "on_source_errors": "raise",
            "md": {
                "title": "六盘水城市一张图 CityGIS",
                "abstract": "六盘水市数字城管与城市一张图 OGC 服务（CGCS2000）",
                "keyword_list": [{"keywords": ["六盘水", "CityGIS", "CGCS2000", "一张图"]}],
                "contact": {"organization": "六盘水市城市管理局"},
                "access_constraints": "依据图层密级授权访问",
                "fees": "none",
            },
        },
        "tms": {"use_grid_names": True, "origin": "nw"},
        "wmts": {"restful": True, "kvp": True, "md": {"title": "六盘水城市一张图 WMTS"}},
    }
    if demo:
        services["demo"] = None
    return {
        "globals": {
            "cache": {"base_dir": str(paths.cache_dir), "lock_dir": str(paths.cache_dir / "locks"),
                      "meta_size": [2, 2]},
            "image": {"resampling_method": "bilinear", "paletted": False},
            "mapserver": mapserver_options(paths.mapfile_dir),
        },
        "services": services,
        "grids": GRIDS,
        "sources": sources,
        "caches": caches,
        "layers": [{"name": "citygis", "title": "六盘水城市一张图", "layers": tree}] if tree else [],
    }
