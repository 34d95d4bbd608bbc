"""The plan of the synthetic town: road lines, blocks, streets and communities, the river — shared by the
city step (which draws roads, parcels, buildings) and the grid step (which cuts the same blocks into cells).

Everything is built in a local frame: metres from the town centre (104.83°E 26.59°N, EPSG:4544), axes along
the valley, which runs about 12° north of east. `to_4544` / `to_local` convert between the frames.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry

CENTRE_LONLAT = (104.83, 26.59)
_TO_4544 = Transformer.from_crs(4490, 4544, always_xy=True)
_TO_4490 = Transformer.from_crs(4544, 4490, always_xy=True)
CENTRE_4544: tuple[float, float] = _TO_4544.transform(*CENTRE_LONLAT)
ROTATION_DEG = 12.0
BLOCK_M = 200.0
MANAGED_HALF = (2000.0, 1500.0)  # the gridded town: 4 km × 3 km
EXTENT_HALF = (3500.0, 2800.0)  # town + surrounding farmland, forest and mines

_COS, _SIN = math.cos(math.radians(ROTATION_DEG)), math.sin(math.radians(ROTATION_DEG))

# street code suffix, name, block index ranges (i0, i1, j0, j1) and its communities (name, ranges)
STREETS: list[tuple[str, str, tuple[int, int, int, int], list[tuple[str, tuple[int, int, int, int]]]]] = [
    ("001", "荷城街道", (0, 10, 7, 15), [
        ("荷泉社区", (0, 5, 11, 15)), ("明湖社区", (5, 10, 11, 15)),
        ("水西社区", (0, 5, 7, 11)), ("人民路社区", (5, 10, 7, 11)),
    ]),
    ("002", "凤凰街道", (10, 20, 7, 15), [
        ("凤凰山社区", (10, 15, 11, 15)), ("麒麟社区", (15, 20, 11, 15)),
        ("碧云社区", (10, 15, 7, 11)), ("东风社区", (15, 20, 7, 11)),
    ]),
    ("003", "黄土坡街道", (0, 10, 0, 7), [
        ("红岩社区", (0, 3, 0, 4)), ("矿工社区", (3, 5, 0, 4)), ("滨河社区", (5, 10, 0, 4)),
        ("黄土坡社区", (0, 5, 4, 7)), ("建设社区", (5, 10, 4, 7)),
    ]),
    ("004", "德坞街道", (10, 20, 0, 7), [
        ("银湖社区", (10, 15, 0, 4)), ("荷花社区", (15, 20, 0, 4)),
        ("德坞社区", (10, 15, 4, 7)), ("大湾路社区", (15, 20, 4, 7)),
    ]),
]
DISTRICT_CODE = "520201"  # 钟山区

# road names, west→east for the north–south lines and south→north for the east–west lines
NS_NAMES = [
    "西环路", "红岩路", "矿工路", "荷泉路", "水西路", "人民路", "文化路", "育才路", "明湖路", "中山路",
    "钟山中路", "麒麟路", "碧云路", "东风路", "康乐路", "凤凰大道", "向阳路", "解放路", "大湾路", "德坞路", "东环路",
]
EW_NAMES = [
    "南环路", "滨河南路", "黄土坡路", "建设路", "荷花路", "银湖路", "广场路", "钟山大道",
    "民族路", "荷城路", "红桥路", "凤凰路", "双桥路", "北京路", "明湖北路", "北环路",
]


def to_4544(u, v):
    """Local frame → EPSG:4544 (easting, northing); works on floats and numpy arrays."""
    cx, cy = CENTRE_4544
    return cx + u * _COS - v * _SIN, cy + u * _SIN + v * _COS


def to_4544_lonlat(lon, lat):
    """EPSG:4490 lon/lat → EPSG:4544 (easting, northing); arrays welcome."""
    return _TO_4544.transform(lon, lat)


def to_local(x, y):
    """EPSG:4544 → local frame."""
    cx, cy = CENTRE_4544
    dx, dy = x - cx, y - cy
    return dx * _COS + dy * _SIN, -dx * _SIN + dy * _COS


def local_to_4490_geom(geom: BaseGeometry) -> BaseGeometry:
    """Local frame → EPSG:4490 lon/lat (through EPSG:4544)."""

    def _tf(coords: np.ndarray) -> np.ndarray:
        x, y = to_4544(coords[:, 0], coords[:, 1])
        lon, lat = _TO_4490.transform(x, y)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _tf)


@dataclass(frozen=True)
class Layout:
    """Road lines (jittered), their grades and names; the river's course."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    river_phase: float
    river_amp: float

    # --- roads ---------------------------------------------------------------------------------------
    @staticmethod
    def x_grade(i: int) -> str:
        return "arterial" if i % 5 == 0 else "secondary" if i % 5 == 2 else "branch"

    @staticmethod
    def y_grade(j: int) -> str:
        return "arterial" if j in (0, 7, 15) else "secondary" if j in (3, 11) else "branch"

    def river_v(self, u):
        """The river's centre line: v as a function of u (local metres)."""
        return -330.0 + self.river_amp * np.sin(2 * math.pi * (u + self.river_phase) / 2900.0) + 45.0 * np.sin(
            2 * math.pi * u / 900.0
        )

    def river_line(self, u0: float, u1: float, step: float = 25.0) -> LineString:
        us = np.arange(u0, u1 + step, step)
        return LineString(np.column_stack([us, self.river_v(us)]))

    # --- blocks, streets, communities ---------------------------------------------------------------
    def block(self, i: int, j: int) -> Polygon:
        return box(self.xs[i], self.ys[j], self.xs[i + 1], self.ys[j + 1])

    @property
    def n_blocks(self) -> tuple[int, int]:
        return len(self.xs) - 1, len(self.ys) - 1

    def blocks(self) -> list[tuple[int, int, Polygon]]:
        nx, ny = self.n_blocks
        return [(i, j, self.block(i, j)) for j in range(ny) for i in range(nx)]

    def ranges_polygon(self, r: tuple[int, int, int, int]) -> Polygon:
        i0, i1, j0, j1 = r
        return box(self.xs[i0], self.ys[j0], self.xs[i1], self.ys[j1])

    def community_of_block(self, i: int, j: int) -> str:
        """12-digit code of the community holding block (i, j)."""
        for s_code, _name, _r, comms in STREETS:
            for k, (_cname, (i0, i1, j0, j1)) in enumerate(comms, start=1):
                if i0 <= i < i1 and j0 <= j < j1:
                    return f"{DISTRICT_CODE}{s_code}{k:03d}"
        raise ValueError(f"block {(i, j)} outside every community")


Rect = tuple[float, float, float, float]
MAX_CELL_M2 = 15_000.0


def split_rect(rect: Rect, max_area: float = MAX_CELL_M2) -> list[Rect]:
    """Halve a rectangle along its long axis until every piece is at most `max_area` (unit grid cells)."""
    minx, miny, maxx, maxy = rect
    w, h = maxx - minx, maxy - miny
    if w * h <= max_area:
        return [rect]
    if w >= h:
        mid = (minx + maxx) / 2
        halves = [(minx, miny, mid, maxy), (mid, miny, maxx, maxy)]
    else:
        mid = (miny + maxy) / 2
        halves = [(minx, miny, maxx, mid), (minx, mid, maxx, maxy)]
    return [piece for half in halves for piece in split_rect(half, max_area)]


def cell_rects(layout: Layout) -> list[tuple[int, int, Rect]]:
    """Every unit grid cell of the town as (block i, block j, local rectangle)."""
    return [(i, j, r) for i, j, blk in layout.blocks() for r in split_rect(blk.bounds)]


@lru_cache(maxsize=4)
def _cell_vertices(layout: Layout) -> np.ndarray:
    pts = {(x, y) for _i, _j, (x0, y0, x1, y1) in cell_rects(layout) for x in (x0, x1) for y in (y0, y1)}
    return np.array(sorted(pts))


def noded(layout: Layout, poly: Polygon) -> Polygon:
    """`poly` (axis-aligned, local frame) with every cell corner lying on its edges inserted as a vertex.

    Projected to EPSG:4490 a straight edge bends slightly; giving neighbours the same vertices keeps shared
    edges identical after projection, so cells and communities tile exactly instead of to a tenth of a mm.
    """
    verts = _cell_vertices(layout)
    coords = list(poly.exterior.coords)
    out = []
    for (x0, y0), (x1, y1) in zip(coords[:-1], coords[1:], strict=True):
        out.append((x0, y0))
        if x0 == x1:
            sel = verts[(verts[:, 0] == x0) & (verts[:, 1] > min(y0, y1)) & (verts[:, 1] < max(y0, y1))]
            sel = sel[np.argsort(sel[:, 1] if y1 > y0 else -sel[:, 1])]
        elif y0 == y1:
            sel = verts[(verts[:, 1] == y0) & (verts[:, 0] > min(x0, x1)) & (verts[:, 0] < max(x0, x1))]
            sel = sel[np.argsort(sel[:, 0] if x1 > x0 else -sel[:, 0])]
        else:
            sel = np.empty((0, 2))
        out.extend(map(tuple, sel))
    return Polygon(out)


@lru_cache(maxsize=4)
def make_layout(seed: int) -> Layout:
    """The town plan for a seed: road lines every ~200 m jittered by up to ±20 m (edges kept straight)."""
    rng = random.Random(f"{seed}:layout")
    hu, hv = MANAGED_HALF
    nx, ny = int(2 * hu / BLOCK_M), int(2 * hv / BLOCK_M)
    xs = [-hu + i * BLOCK_M + (rng.uniform(-20, 20) if 0 < i < nx else 0.0) for i in range(nx + 1)]
    ys = [-hv + j * BLOCK_M + (rng.uniform(-20, 20) if 0 < j < ny else 0.0) for j in range(ny + 1)]
    return Layout(tuple(xs), tuple(ys), river_phase=rng.uniform(0, 2900), river_amp=rng.uniform(90, 130))
