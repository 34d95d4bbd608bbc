"""geocode(): a point inside a current cell → its codes, names and nearest road; outside → OutsideManagedArea."""

import pytest

from city_gis.grid.geocode import OutsideManagedArea, geocode
from tests.grid.tiny_city import LAT0, LON0, inside


def test_point_in_a_cell_gets_the_cell_community_street_district_and_road(tiny_city):
    g = geocode(*inside(2))
    assert g.cell_code == "99990100100201"
    assert (g.community_code, g.community_name) == ("999901001002", "西社区")
    assert (g.street_code, g.street_name) == ("999901001", "测试街道")
    assert (g.district_code, g.district_name) == ("999901", "测试区")
    assert g.road_name == "测试路"
    assert g.address == "测试区 测试街道 西社区 测试路附近"


def test_road_farther_than_the_radius_is_not_named(tiny_city, settings):
    settings.CITYGIS_ADDRESS_ROAD_RADIUS_M = 10
    g = geocode(LON0 + 0.0005, LAT0 + 0.0009)  # ~44 m north of 测试路
    assert g.road_name == ""
    assert g.address == "测试区 测试街道 东社区"


def test_retired_cells_are_ignored(tiny_city):
    import datetime as dt

    tiny_city["cells"][0].__class__.objects.filter(pk=tiny_city["cells"][0].pk).update(valid_to=dt.date(2026, 6, 1))
    with pytest.raises(OutsideManagedArea):
        geocode(*inside(0))


@pytest.mark.parametrize("lon,lat", [(LON0 - 0.01, LAT0), (0.0, 0.0), (181.0, 30.0)])
def test_outside_the_managed_area_is_a_clear_error(tiny_city, lon, lat):
    with pytest.raises(OutsideManagedArea, match="不在城市管理网格范围内|超出范围"):
        geocode(lon, lat)
    assert issubclass(OutsideManagedArea, ValueError)
