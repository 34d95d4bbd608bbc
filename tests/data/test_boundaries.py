"""Real boundaries of Liupanshui: the GCJ-02 finding, and what the city step stored."""

from __future__ import annotations

import pytest
import shapely.ops
from pyproj import Geod
from shapely.geometry import Point

from data.demo import boundaries
from data.demo.gcj02 import wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")
# WGS84 summits that lie on China's border (independent survey positions)
BORDER_SUMMITS = {"Everest": (86.925278, 27.988056), "Cho Oyu": (86.6608, 28.0942), "K2": (76.5133, 35.8825),
                  "Broad Peak": (76.5683, 35.8106), "Gasherbrum I": (76.6964, 35.7244)}


def _distance_m(pt: tuple[float, float], line) -> float:
    near = shapely.ops.nearest_points(line, Point(pt))[0]
    return GEOD.inv(pt[0], pt[1], near.x, near.y)[2]


def test_package_boundaries_are_gcj02_not_wgs84():
    """The national border passes through the summits' GCJ-02 positions, not their WGS84 ones."""

    border = boundaries.read_gcj02("100000").boundary
    for name, wgs in BORDER_SUMMITS.items():
        as_wgs84 = _distance_m(wgs, border)
        as_gcj02 = _distance_m(wgs84_to_gcj02(*wgs), border)
        assert as_gcj02 < as_wgs84, name
        assert as_gcj02 < 100, name


def test_index_finds_the_city_and_its_four_counties():
    for code in [boundaries.CITY_CODE, *boundaries.COUNTY_CODES]:
        assert boundaries.boundary_path(code).name == f"{code}.geojson"
    with pytest.raises(LookupError, match="999999"):
        boundaries.boundary_path("999999")


def test_conversion_moves_every_vertex_back_by_the_local_offset():
    raw = boundaries.read_gcj02("520201")
    fixed = boundaries.load_wgs84("520201")
    shift = GEOD.inv(raw.centroid.x, raw.centroid.y, fixed.centroid.x, fixed.centroid.y)[2]
    assert 400 < shift < 500


@pytest.mark.django_db
def test_four_districts_tile_the_city():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), ST_Area(ST_Transform(ST_Union(d.geom), 4544)), bool_and(ST_IsValid(d.geom)),"
            " (SELECT ST_Area(ST_Transform(geom, 4544)) FROM demo_cityboundary WHERE code = '520200')"
            " FROM grid_district d WHERE code IN ('520201', '520203', '520204', '520281')"
        )
        count, union_area, valid, city_area = cur.fetchone()
    assert count == 4 and valid
    assert union_area == pytest.approx(city_area, rel=0.005)
    assert 9.5e9 < city_area < 10.3e9  # 六盘水市 ≈ 9,914 km²


@pytest.mark.django_db
def test_town_lies_inside_zhongshan_district():
    from city_gis.grid.models import Community, District

    zhongshan = District.objects.get(code="520201")
    assert zhongshan.name == "钟山区" and not zhongshan.synthetic
    assert zhongshan.area_m2 == pytest.approx(zhongshan.geom.transform(4544, clone=True).area, rel=1e-6)
    for community in Community.objects.filter(code__startswith="520201"):
        assert zhongshan.geom.contains(community.geom), community.code
