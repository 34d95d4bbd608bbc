"""GCJ-02 (the offset "Mars" coordinates of Chinese web maps) ↔ WGS84.

`wgs84_to_gcj02` is the published forward obfuscation (Krasovsky 1940 ellipsoid constants, centred on
105°E 35°N). It has no closed-form inverse, so `gcj02_to_wgs84` solves forward(w) = g by fixed-point
iteration: the offset varies slowly (well under 1e-5 per metre), so each step gains several digits and
a handful of iterations reach millimetres. Points outside mainland China's box are returned unchanged,
as the forward transform does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

_A = 6378245.0  # semi-major axis used by the GCJ-02 algorithm (Krasovsky 1940)
_EE = 0.00669342162296594323  # first eccentricity squared of that ellipsoid


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the box in which web maps apply the GCJ-02 offset."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset(lon, lat):
    """Forward offset (dlon, dlat) in degrees at WGS84 (lon, lat); works on floats and numpy arrays."""
    x, y = lon - 105.0, lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = dlat + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon = dlon + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → GCJ-02 (the forward formula web maps apply)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _offset(lon, lat)
    return float(lon + dlon), float(lat + dlat)


def gcj02_to_wgs84(lon: float, lat: float, *, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[float, float]:
    """GCJ-02 → WGS84 by iterating w ← w + (g − forward(w)); converges to < 1e-10° (≈ 0.01 mm)."""
    if out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(max_iter):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = lon - glon, lat - glat
        wlon, wlat = wlon + elon, wlat + elat
        if abs(elon) < tol_deg and abs(elat) < tol_deg:
            break
    return wlon, wlat


def gcj02_to_wgs84_array(lons: np.ndarray, lats: np.ndarray, *, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised inverse for coordinate arrays (all points assumed inside China's box)."""
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    wlon, wlat = lons.copy(), lats.copy()
    for _ in range(iterations):
        dlon, dlat = _offset(wlon, wlat)
        wlon = lons - dlon
        wlat = lats - dlat
    return wlon, wlat


def transform_coords(coords: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """GCJ-02 → WGS84 for a sequence of (lon, lat) pairs."""
    pts = np.asarray(list(coords), dtype=float)
    if not len(pts):
        return []
    lon, lat = gcj02_to_wgs84_array(pts[:, 0], pts[:, 1])
    return list(zip(lon.tolist(), lat.tolist(), strict=True))
