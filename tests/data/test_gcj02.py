"""GCJ-02 ↔ WGS84: the forward formula and its iterative inverse."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from data.demo.gcj02 import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    out_of_china,
    transform_coords,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# WGS84 points across China (Liupanshui centre, Beijing, Urumqi, Harbin, Sanya, Lhasa, Shanghai)
POINTS = [(104.83, 26.59), (116.397428, 39.90923), (87.6168, 43.8256), (126.535, 45.8038), (109.512, 18.252),
          (91.1322, 29.6604), (121.4737, 31.2304)]


@pytest.mark.parametrize("wgs", POINTS)
def test_inverse_recovers_forward_pairs_within_half_a_metre(wgs):
    gcj = wgs84_to_gcj02(*wgs)
    assert 50 < metres(wgs, gcj) < 1000  # the obfuscation really moved the point
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 0.5
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 0.001  # in fact millimetres


def test_inverse_matches_an_independent_published_pair():
    # gcoord's documented example: GCJ-02 (123, 45) → WGS84 (122.99395597, 44.99804071)
    assert metres(gcj02_to_wgs84(123.0, 45.0), (122.99395597, 44.99804071)) < 0.05


def test_offset_around_liupanshui_is_400_to_500_m_to_the_south_east():
    glon, glat = wgs84_to_gcj02(104.83, 26.59)
    assert 400 < metres((104.83, 26.59), (glon, glat)) < 500
    assert glon > 104.83 and glat < 26.59


def test_points_outside_china_are_not_shifted():
    assert out_of_china(2.35, 48.85)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_array_and_sequence_forms_agree_with_the_scalar_inverse():
    gcj = np.array([wgs84_to_gcj02(*p) for p in POINTS])
    lon, lat = gcj02_to_wgs84_array(gcj[:, 0], gcj[:, 1])
    for (x, y), (ex, ey) in zip(zip(lon, lat, strict=True), POINTS, strict=True):
        assert metres((x, y), (ex, ey)) < 0.001
    assert transform_coords([tuple(gcj[0])])[0] == pytest.approx(POINTS[0], abs=1e-8)
