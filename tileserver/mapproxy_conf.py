"""The MapProxy configuration (a dict dumped as YAML), generated from the layer registry (see specs.py).

Layer tree: one group per theme holding `<theme>.<name>` layers; each layer has a `mapserver` source; cacheable
layers get a file cache (tms layout) on the `webmercator` and `cgcs2000` grids; `base.basemap` composites the
base layers into one cached tile layer (the web base map).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from layers.models import Theme

from .mapfile import MAX_SIZE
from .paths import ConfigPaths
from .specs import LayerSpec

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
        "mapserver": {"binary": "/usr/bin/mapserv", "working_dir": str(paths.mapfile_dir)},
        "coverage": None,
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
        src.pop("coverage")
        sources[source_name(spec.name)] = src
        layer: dict[str, Any] = {
            "name": spec.name,
            "title": spec.title,
            "md": {"abstract": spec.abstract, "keyword_list": [{"keywords": spec.keywords + [spec.theme]}]},
        }
        if spec.cacheable and caches_enabled:
            caches[cache_name(spec.name)] = {
                "grids": list(GRIDS), "sources": [source_name(spec.name)], "format": "image/png",
                "cache": {"type": "file", "directory_layout": "tms", "use_grid_names": True}, "meta_size": [2, 2], "meta_buffer": 32,
            }
            layer["sources"] = [cache_name(spec.name)]
        else:
            layer["sources"] = [source_name(spec.name)]
        groups[spec.theme].append(layer)
    # Public base layers only: the base map is shown to everyone (see auth.py).
    base_layers = [s.name for s in specs if s.theme == "base" and s.kind == "vector" and s.classification == "public"]
    if base_layers and caches_enabled:
        # One MapServer request draws every base layer with its labels: labels are placed across layers.
        src = _source(base_layers, paths)
        src.pop("coverage")
        src["wms_opts"]["featureinfo"] = False
        src["req"]["transparent"] = False
        sources[source_name(BASEMAP)] = src
        caches[cache_name(BASEMAP)] = {
            "grids": list(GRIDS), "sources": [source_name(BASEMAP)], "format": "image/png",
            "cache": {"type": "file", "directory_layout": "tms", "use_grid_names": True}, "meta_size": [2, 2], "meta_buffer": 64,
        }
        groups["base"].insert(0, {"name": BASEMAP, "title": "底图", "sources": [cache_name(BASEMAP)]})
    theme_labels = dict(Theme.choices)
    tree = [
        {"name": theme, "title": str(theme_labels[theme]), "layers": layers}
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
            "mapserver": {"binary": "/usr/bin/mapserv", "working_dir": str(paths.mapfile_dir)},
        },
        "services": services,
        "grids": GRIDS,
        "sources": sources,
        "caches": caches,
        "layers": [{"name": "citygis", "title": "六盘水城市一张图", "layers": tree}] if tree else [],
    }
