"""city_gis.grid.outline: the city is the union of its districts; a geometry leaves it by more than the border
slack (1 m² / 1 m, none for points) or not at all, and every edit path (layers.extent) uses that one rule."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import GEOSGeometry, LineString, MultiPolygon, Point, Polygon

from city_gis.grid import models as grid
from city_gis.grid.outline import outside_city
from layers import extent

pytestmark = pytest.mark.django_db


@pytest.fixture
def square_city():
    """One more district, away from the test city's: the square 105.00–105.01 E, 26.00–26.01 N (about 1 km a side)."""
    box = Polygon.from_bbox((105.0, 26.0, 105.01, 26.01))
    box.srid = 4490
    return grid.District.objects.create(code="529981", name="轮廓测试区", geom=MultiPolygon(box, srid=4490))


def g(wkt: str) -> GEOSGeometry:
    return GEOSGeometry(wkt, srid=4490)


def test_inside_outside_and_across_the_border(square_city):
    inside_pt, outside_pt = Point(105.005, 26.005, srid=4490), Point(106.5, 26.0, srid=4490)
    across = LineString((105.005, 26.005), (105.02, 26.005), srid=4490)  # about 1 km, half of it outside
    polygon_in = g("POLYGON((105.001 26.001, 105.002 26.001, 105.002 26.002, 105.001 26.001))")
    result = outside_city([inside_pt, outside_pt, across, polygon_in])
    assert [r.outside for r in result] == [False, True, True, False]
    assert result[0].measure == 0 and result[1].measure == 1  # points are counted
    assert 900 < result[2].measure < 1100  # metres of the line beyond the border
    assert result[3].measure == 0


def test_a_vertex_on_the_border_is_inside(square_city):
    on_border = g("POLYGON((105.005 26.0, 105.006 26.0, 105.006 26.001, 105.005 26.0))")
    assert [r.outside for r in outside_city([on_border])] == [False]


def test_the_edit_paths_use_the_districts_outline(square_city):
    """The grid app registers its outline into layers.extent (what layers.versions.apply_edits asks)."""
    assert extent.outside_city([Point(105.005, 26.005, srid=4490), Point(106.5, 26.0, srid=4490)]) == [False, True]


def test_without_a_registered_outline_edits_are_held_to_lon_lat_only(monkeypatch):
    monkeypatch.setattr(extent, "_check", None)
    assert extent.outside_city([Point(106.5, 26.0, srid=4490)]) is None
