"""Which tile a request asks for, and whether it is inside its layer's coverage and levels.

Every tile form — `/tiles/{layer}/{grid}/{z}/{x}/{y}.{ext}`, TMS (`/tms/1.0.0/…`, level − 1 on webmercator, y
from the south), WMTS REST (`/wmts/{layer}/{grid}/{matrix}/{col}/{row}.{ext}`) and WMTS KVP (`/service?…GetTile`)
— is normalised to MapProxy's internal tile (level, x, y counted from the north-west), matched with MapProxy's
own URL patterns so that we check exactly the tile MapProxy would render.

Outside the layer's coverage (the box MapProxy is configured with, i.e. the advertised extent of
specs.advertised_extent, plus one tile for meta-tile buffers, see cache.tile_range) or beyond its `max_zoom`, the answer
is a blank tile of the grid's tile size — transparent PNG (white for JPEG) — that is neither rendered nor stored,
with a short `Cache-Control`: web maps show nothing there without error tiles, and the cache cannot be grown by
walking the world at level 19. Non-numeric, negative or out-of-grid coordinates and unknown grids are 400s.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache as memoise
from pathlib import Path
from typing import Any

import yaml

from . import tilestore
from .cache import tile_range
from .mapproxy_conf import BASEMAP, COVERAGE_SRS, GRIDS, cache_name, source_name
from .params import OGCParamError
from .paths import config_paths

BLANK_MAX_AGE = 300
TILE_SIZE = 256
TILE_FORMATS = ("png", "jpeg", "jpg")
_INT = re.compile(r"[0-9]{1,9}")
# A path shaped like a tile request (five segments, the last with an extension) that MapProxy's own patterns
# refused: some coordinate is not a number.
_TILE_SHAPE = re.compile(r"^/(tiles|tms|wmts)(/1\.0\.0)?(/[^/]+){4,5}\.\w+$")


@dataclass(frozen=True)
class TileRequest:
    layer: str
    grid: str
    z: int  # MapProxy's internal level
    x: int
    y: int  # counted from the north (the grids' origin and the cache's layout)
    ext: str
    # False for `/tiles/{layer}_{grid}/…`: coverage reads it, but MapProxy (use_grid_names) answers it 404.
    named_grid: bool = True

    @property
    def cache_file(self) -> Path:
        """Where MapProxy's file cache (tms layout, grid names, PNG whatever format was asked) keeps this tile."""
        return Path(self.cache_path)

    @property
    def cache_path(self) -> str:
        """cache_file as a string (the cache-hit path opens it without building a Path)."""
        return f"{config_paths().cache_dir}/{cache_name(self.layer)}/{self.grid}/{self.z}/{self.x}/{self.y}.png"


def grid_shape(grid: str, z: int) -> tuple[int, int]:
    """(columns, rows) of `grid` at internal level z."""
    return (2**z, 2**z) if grid == "webmercator" else (2 ** (z + 1), 2**z)


@memoise
def _mapproxy_patterns() -> tuple[Any, Any, Any]:
    from mapproxy.request.tile import TileRequest as MPTileRequest
    from mapproxy.request.wmts import FeatureInfoURLTemplateConverter, URLTemplateConverter
    from mapproxy.service.wmts import WMTSRestServer

    return (MPTileRequest.tile_req_re, URLTemplateConverter(WMTSRestServer.default_template).regexp(),
            FeatureInfoURLTemplateConverter(WMTSRestServer.default_info_template).regexp())


def _number(value: str | None, name: str) -> int:
    if value is None or not _INT.fullmatch(value):
        raise OGCParamError(f"{name} must be a non-negative integer", name)
    return int(value)


def _split_grid(layer: str, grid: str | None) -> tuple[str, str]:
    if grid is None:  # MapProxy also accepts `<layer>_<grid>` as the layer name
        for known in GRIDS:
            if layer.endswith("_" + known):
                return layer[: -len(known) - 1], known
        raise OGCParamError(f"tile matrix set missing; use one of {', '.join(GRIDS)}", "TILEMATRIXSET")
    if grid not in GRIDS:
        raise OGCParamError(f"unknown tile matrix set {grid!r}; use one of {', '.join(GRIDS)}", "TILEMATRIXSET")
    return layer, grid


def _checked(layer: str, grid: str | None, z: str, x: str, y: str, ext: str, *, tms: bool = False,
             origin: str | None = None) -> TileRequest:
    named_grid = grid is not None
    layer, grid = _split_grid(layer, grid)
    if ext.lower() not in TILE_FORMATS:
        raise OGCParamError(f"FORMAT not supported; use one of {', '.join(TILE_FORMATS)}", "FORMAT")
    level, col, row = _number(z, "TILEMATRIX"), _number(x, "TILECOL"), _number(y, "TILEROW")
    if tms and grid == "webmercator":
        level += 1  # TMS global-mercator profile: its level 0 is the grid's 2×2 level 1
    max_level = GRIDS[grid]["num_levels"] - 1
    if level > max_level:
        raise OGCParamError(f"TILEMATRIX beyond the grid's levels (0–{max_level})", "TILEMATRIX")
    cols, rows = grid_shape(grid, level)
    if col >= cols or row >= rows:
        raise OGCParamError(f"tile outside the {grid} grid at this level ({cols}×{rows} tiles)",
                            "TILECOL" if col >= cols else "TILEROW")
    if tms or origin == "sw":
        row = rows - 1 - row
    return TileRequest(layer, grid, level, col, row, ext.lower(), named_grid)


def parse_tile_request(path: str, params: dict[str, str]) -> TileRequest | None:
    """The tile a request asks MapProxy to render, or None when it is not a tile request (capabilities, WMS,
    feature info); OGCParamError when a coordinate, level or grid is invalid."""
    tiles_re, wmts_re, wmts_info_re = _mapproxy_patterns()
    if path.startswith(("/tiles/", "/tms/")):
        match = tiles_re.search(path)
        if match and match.group("begin") in ("/tiles", "/tms"):
            tms = match.group("begin") == "/tms"
            z, x, y = match.group("z"), match.group("x"), match.group("y")
            # MapProxy's pattern admits negative numbers: refuse them here (named), not as its 500.
            return _checked(match.group("layer"), match.group("layer_spec"), z, x, y, match.group("format"),
                            tms=tms, origin=None if tms else params.get("origin"))
    elif path.startswith("/wmts/"):
        match = wmts_re.search(path)
        if match:
            v = match.groupdict()
            return _checked(v["Layer"], v["TileMatrixSet"], v["TileMatrix"], v["TileCol"], v["TileRow"],
                            v["Format"])
        match = wmts_info_re.search(path)
        if match:  # feature info of a tile: checked, but nothing is cached (see is_feature_info)
            v = match.groupdict()
            _checked(v["Layer"], v["TileMatrixSet"], v["TileMatrix"], v["TileCol"], v["TileRow"], "png")
            return None
    elif path == "/service" and params.get("service", "").lower() == "wmts" \
            and params.get("request", "").lower() in ("gettile", "getfeatureinfo"):
        for key in ("layer", "tilematrixset", "tilematrix", "tilecol", "tilerow"):
            if not params.get(key):
                raise OGCParamError(f"{key.upper()} is required", key.upper())
        fmt = params.get("format", "image/png").rpartition("/")[2]
        tile = _checked(params["layer"], params["tilematrixset"], params["tilematrix"], params["tilecol"],
                        params["tilerow"], fmt)
        if params["request"].lower() == "gettile":
            return tile
        for key in ("i", "j"):
            _number(params.get(key), key.upper())
        return None
    if _TILE_SHAPE.match(path) and not path.endswith("WMTSCapabilities.xml"):
        raise OGCParamError("tile coordinates must be non-negative integers: /{layer}/{grid}/{z}/{x}/{y}.{format}",
                            "TILEMATRIX")
    return None


def is_feature_info(path: str) -> bool:
    """A WMTS REST GetFeatureInfo path: MapProxy queries mapserv for it (a render slot, never cached)."""
    return path.startswith("/wmts/") and _mapproxy_patterns()[2].search(path) is not None


# Rebuilt when the generated configuration changes: name → (bbox lon/lat or None, max level) under "layers";
# name → grids MapProxy serves from its file cache under "stored"; MapProxy's tile max-age under "max_age".
_coverage: dict[str, Any] = {"version": None, "layers": {}, "stored": {}, "max_age": 0}


def _stored_grids(conf: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Layers whose tiles MapProxy serves from a file cache as they are on disk (the layer's only source is its
    own cache, of type `file`, storing PNG), with the grids of that cache: the layers a cache hit may skip it for."""
    caches = conf.get("caches") or {}
    stored: dict[str, frozenset[str]] = {}
    pending = list(conf.get("layers") or [])
    while pending:
        layer = pending.pop()
        pending.extend(layer.get("layers") or [])
        name = layer.get("name")
        cache = caches.get(cache_name(name)) if name else None
        if (cache and layer.get("sources") == [cache_name(name)] and (cache.get("cache") or {}).get("type") in tilestore.STORED_TYPES
                and cache.get("format", "image/png") == "image/png"):
            stored[name] = frozenset(cache.get("grids") or ())
    return stored


def _layer_coverage() -> dict[str, tuple[tuple[float, float, float, float] | None, int]]:
    """Per layer: the coverage MapProxy was configured with (its source's `coverage`, written by
    mapproxy_conf from specs.advertised_extent — the same box capabilities advertise) and the registry's
    max_zoom (the composite base map: every level of the grids)."""
    from mapproxy.config import defaults

    from layers.models import Layer

    from .auth import registry_version

    version = registry_version()
    if _coverage["version"] == version:
        return _coverage["layers"]
    try:
        conf = yaml.safe_load(config_paths().mapproxy_yaml.read_text()) or {}
    except (OSError, yaml.YAMLError):
        conf = {}
    if not isinstance(conf, dict):
        conf = {}
    sources = conf.get("sources") or {}
    zooms = dict(Layer.objects.values_list("name", "max_zoom"))
    zooms[BASEMAP] = max(g["num_levels"] for g in GRIDS.values()) - 1
    layers: dict[str, tuple[tuple[float, float, float, float] | None, int]] = {}
    for name, max_zoom in zooms.items():
        cov = (sources.get(source_name(name)) or {}).get("coverage") or {}
        bbox = cov.get("bbox") if cov.get("srs", COVERAGE_SRS) == COVERAGE_SRS else None
        layers[name] = (tuple(float(v) for v in bbox) if bbox else None, max_zoom)
    # MapProxy's own rule for a tile's Cache-Control (globals.tiles.expires_hours, else its default).
    hours = ((conf.get("globals") or {}).get("tiles") or {}).get("expires_hours", defaults.tiles["expires_hours"])
    _coverage.update(version=version, layers=layers, ranges={}, stored=_stored_grids(conf),
                     max_age=int(float(hours) * 3600))
    return layers


def stored_tile(tile: TileRequest) -> tuple[str, int] | None:
    """(file, max-age in seconds) that MapProxy would answer this tile from when the file exists: None when
    MapProxy does not serve this layer, grid and format from its file cache as stored (live layers, other
    formats, unknown layers). Authorisation and coverage are the caller's."""
    _layer_coverage()  # refreshes "stored" for the current configuration
    if tile.ext != "png" or not tile.named_grid or tile.grid not in _coverage["stored"].get(tile.layer, ()):
        return None
    return tile.cache_path, _coverage["max_age"]


def outside_coverage(tile: TileRequest) -> bool:
    """True when the tile is beyond its layer's max_zoom or off its extent (plus one tile all round)."""
    known = _layer_coverage().get(tile.layer)
    if known is None:
        return False  # unknown layer: MapProxy answers it (404)
    bbox, max_zoom = known
    if tile.z > max_zoom:
        return True
    if bbox is None:
        return False
    ranges = _coverage.setdefault("ranges", {})
    key = (tile.layer, tile.grid, tile.z, bbox)
    if key not in ranges:  # reprojecting per request would cost as much as serving a cached tile
        ranges[key] = tile_range(tile.grid, tile.z, bbox, margin=1)
    x0, y0, x1, y1 = ranges[key]
    return not (x0 <= tile.x <= x1 and y0 <= tile.y <= y1)


@memoise
def blank_tile(ext: str) -> tuple[bytes, str]:
    """(image bytes, content type) of an empty tile: transparent PNG, white JPEG."""
    from PIL import Image

    buf = io.BytesIO()
    if ext in ("jpg", "jpeg"):
        Image.new("RGB", (TILE_SIZE, TILE_SIZE), (255, 255, 255)).save(buf, "JPEG")
        return buf.getvalue(), "image/jpeg"
    Image.new("RGBA", (TILE_SIZE, TILE_SIZE), (0, 0, 0, 0)).save(buf, "PNG", optimize=True)
    return buf.getvalue(), "image/png"
