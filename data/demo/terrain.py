"""The demo terrain: one deterministic elevation function shared by the city (hazard points on steep slopes,
land use of hills) and the rasters step (the DEM), so both always agree.

Karst landscape of Liupanshui: a valley floor at about 1,780 m along 水城河 where the town lies, slopes rising
to a plateau near 2,100 m, and karst cones (峰丛) 80–300 m high scattered over it, denser outside the town.
Coordinates are EPSG:4544 metres.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .layout import CENTRE_4544, EXTENT_HALF, Layout, to_local

VALLEY_FLOOR_M = 1780.0
PLATEAU_RISE_M = 330.0
SUMMIT_KNEE_M = 2150.0


@dataclass(frozen=True)
class Cone:
    u: float
    v: float
    height: float
    radius: float


@lru_cache(maxsize=4)
def cones(seed: int) -> tuple[Cone, ...]:
    """Karst cones: a few inside the town (its hills and parks), many in the surrounding hills."""
    rng = random.Random(f"{seed}:terrain")
    hu, hv = EXTENT_HALF
    result = [
        # the hills that shape the town: 钟山 north of the centre and two knolls in the east and west
        Cone(-300.0, 1150.0, 190.0, 320.0),
        Cone(1450.0, 900.0, 150.0, 260.0),
        Cone(-1500.0, -1150.0, 140.0, 250.0),
    ]
    while len(result) < 140:
        u, v = rng.uniform(-hu - 1500, hu + 1500), rng.uniform(-hv - 1500, hv + 1500)
        if abs(u) < 2100 and abs(v) < 1600:
            continue  # keep the built-up valley mostly flat
        result.append(Cone(u, v, rng.uniform(80, 300), rng.uniform(220, 480)))
    return tuple(result)


@lru_cache(maxsize=4)
def waves(seed: int) -> tuple[tuple[float, float, float, float], ...]:
    """(amplitude m, wavelength m, direction rad, phase) of the undulations of the hills."""
    rng = random.Random(f"{seed}:terrain-waves")
    return tuple((rng.uniform(8, 22), rng.uniform(700, 1800), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)) for _ in range(6))


def elevation_local(u: np.ndarray, v: np.ndarray, seed: int, layout: Layout) -> np.ndarray:
    """Elevation (m) at local layout coordinates (metres from the centre, rotated frame)."""
    u = np.atleast_1d(np.asarray(u, dtype=float))
    v = np.atleast_1d(np.asarray(v, dtype=float))
    river_v = layout.river_v(u)
    d = np.abs(v - river_v)
    # valley: flat floor within ~1.4 km of the river, then a smooth rise to the plateau
    t = np.clip((d - 1400.0) / 2200.0, 0.0, 1.0)
    z = VALLEY_FLOOR_M + 8.0 * d / 1000.0 + PLATEAU_RISE_M * t * t * (3 - 2 * t)
    # gentle fall of the valley downstream (eastwards)
    z = z - 0.004 * u
    # uneven ground of the hills: a few long, oblique undulations, fading out towards the valley floor
    rough = np.clip((d - 1400.0) / 1500.0, 0.0, 1.0)
    for amp, wavelength, angle, phase in waves(seed):
        along = u * np.cos(angle) + v * np.sin(angle)
        z = z + rough * amp * np.sin(2 * np.pi * along / wavelength + phase)
    for c in cones(seed):
        r2 = ((u - c.u) ** 2 + (v - c.v) ** 2) / (c.radius**2)
        z = z + c.height * np.exp(-r2 * 1.6)
    # where cones pile up, compress smoothly so summits stay below ~2,300 m as around the real town
    high = z > SUMMIT_KNEE_M
    z[high] = SUMMIT_KNEE_M + 150.0 * np.tanh((z[high] - SUMMIT_KNEE_M) / 150.0)
    return z


def elevation(x: np.ndarray, y: np.ndarray, seed: int, layout: Layout) -> np.ndarray:
    """Elevation (m) at EPSG:4544 easting/northing."""
    u, v = to_local(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return elevation_local(u, v, seed, layout)


def slope_deg(x: float, y: float, seed: int, layout: Layout, step: float = 10.0) -> float:
    """Slope in degrees by central differences over `step` metres (as the slope raster computes it)."""
    xs = np.array([x + step, x - step, x, x])
    ys = np.array([y, y, y + step, y - step])
    z = elevation(xs, ys, seed, layout)
    dzdx = (z[0] - z[1]) / (2 * step)
    dzdy = (z[2] - z[3]) / (2 * step)
    return float(np.degrees(np.arctan(np.hypot(dzdx, dzdy))))


__all__ = ["CENTRE_4544", "Cone", "cones", "elevation", "elevation_local", "slope_deg"]
