"""The tile cache on disk: which files cover an extent, and removing them when features change.

Layout (MapProxy file cache, `directory_layout: tms`, `use_grid_names`): `<cache_dir>/<layer>/<grid>/<z>/<x>/<y>.png`
with both grids' origin at the top left (north-west): the very path and XYZ scheme of `/tiles/…`.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from pyproj import Transformer

from . import tilestore
from .mapproxy_conf import BASEMAP, GRIDS
from .paths import config_paths

WEBMERCATOR_HALF = 20037508.342789244
_to_3857 = Transformer.from_crs("EPSG:4490", "EPSG:3857", always_xy=True)


def cache_names_for(layer_name: str) -> list[str]:
    """The caches a layer's features appear in: its own and, for base layers, the composite base map."""
    return [layer_name, BASEMAP] if layer_name.startswith("base.") else [layer_name]


def layer_cache_dirs(layer_name: str) -> list[Path]:
    root = config_paths().cache_dir
    return [root / name / grid for name in cache_names_for(layer_name) for grid in GRIDS]


def tile_range(
    grid: str, z: int, bbox: tuple[float, float, float, float], margin: int = 1
) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) inclusive, y counted from the north, of the tiles at level z covering
    `bbox` (EPSG:4490 lon/lat), widened by `margin` tiles on every side (labels and meta-tile buffers
    reach into neighbouring tiles)."""
    minx, miny, maxx, maxy = bbox
    if grid == "webmercator":
        (x0, y0), (x1, y1) = _to_3857.transform(minx, miny), _to_3857.transform(maxx, maxy)
        size = 2 * WEBMERCATOR_HALF / 2**z
        left, top = -WEBMERCATOR_HALF, WEBMERCATOR_HALF
        cols, rows = 2**z, 2**z
    else:
        x0, y0, x1, y1 = minx, miny, maxx, maxy
        size = 180.0 / 2**z  # 0.703125° × 256 px at level 0: two tiles across
        left, top = -180.0, 90.0
        cols, rows = 2 ** (z + 1), 2**z
    tx0, tx1 = math.floor((x0 - left) / size) - margin, math.floor((x1 - left) / size) + margin
    ty0, ty1 = math.floor((top - y1) / size) - margin, math.floor((top - y0) / size) + margin
    return max(tx0, 0), max(ty0, 0), min(tx1, cols - 1), min(ty1, rows - 1)


def tiles_in(directory: Path, grid: str, bbox: tuple[float, float, float, float]) -> Iterator[Path]:
    """Existing tile files of one cache directory covering bbox (walks only what is on disk)."""
    if not directory.is_dir():
        return
    for zdir in directory.iterdir():
        if not zdir.name.isdigit():
            continue
        x0, y0, x1, y1 = tile_range(grid, int(zdir.name), bbox)
        for xdir in zdir.iterdir():
            if not xdir.name.isdigit() or not x0 <= int(xdir.name) <= x1:
                continue
            for tile in xdir.iterdir():
                stem = tile.name.split(".", 1)[0]
                if stem.isdigit() and y0 <= int(stem) <= y1:
                    yield tile


def invalidate(layer_name: str, bbox: tuple[float, float, float, float] | None = None) -> int:
    """Remove the cached tiles of `layer_name` covering bbox (all of them when None); returns files removed
    (−1 when whole directories were dropped)."""
    if tilestore.is_shared():
        return _invalidate_shared(layer_name, bbox)
    removed = 0
    for directory in layer_cache_dirs(layer_name):
        grid = directory.name
        if bbox is None:
            # Rename first: a concurrent request then never serves a half-deleted tree.
            if directory.is_dir():
                doomed = directory.with_name(f".{directory.name}.deleting-{os.getpid()}-{time.monotonic_ns()}")
                os.replace(directory, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            removed = -1
            continue
        for tile in list(tiles_in(directory, grid, bbox)):
            tile.unlink(missing_ok=True)
            removed += 1
    return removed


def _invalidate_shared(layer_name: str, bbox: tuple[float, float, float, float] | None) -> int:
    """invalidate() on the shared Redis tile cache: every node sees the removal at once (−1: all removed)."""
    removed = 0
    for name in cache_names_for(layer_name):
        for grid in GRIDS:
            covering = None if bbox is None else (lambda z, grid=grid: tile_range(grid, z, bbox))
            removed += tilestore.remove_shared(name, grid, covering)
    return -1 if bbox is None else removed
