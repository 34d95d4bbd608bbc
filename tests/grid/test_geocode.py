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


def _lookups(queries) -> list[str]:
    """The statements that looked something up (the one-off PREPARE of a connection left out)."""
    return [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("PREPARE")]


def test_the_road_is_looked_up_only_when_the_address_is_read(tiny_city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        g = geocode(*inside(2))
        assert (g.cell_code, g.community_name, g.street_name, g.district_name) == (
            "99990100100201", "西社区", "测试街道", "测试区")
    assert len(_lookups(q.captured_queries)) == 1 and "layers_road" not in q.captured_queries[-1]["sql"]
    with CaptureQueriesContext(connection) as q:
        assert (g.road_name, g.address) == ("测试路", "测试区 测试街道 西社区 测试路附近")
        assert g.address == "测试区 测试街道 西社区 测试路附近"  # read once
    assert len(_lookups(q.captured_queries)) == 1 and "layers_road" in q.captured_queries[0]["sql"]


def test_address_true_answers_everything_in_one_statement(tiny_city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        g = geocode(*inside(2), address=True)
        assert (g.road_name, g.address) == ("测试路", "测试区 测试街道 西社区 测试路附近")
    assert len(_lookups(q.captured_queries)) == 1


@pytest.mark.parametrize("radius", [10, 200])
def test_eager_and_lazy_road_lookups_agree(tiny_city, settings, radius):
    settings.CITYGIS_ADDRESS_ROAD_RADIUS_M = radius
    for lon, lat in [inside(0), inside(3), (LON0 + 0.0005, LAT0 + 0.0009)]:
        eager, lazy = geocode(lon, lat, address=True), geocode(lon, lat)
        assert eager.as_dict() == lazy.as_dict()
        assert list(eager.as_dict()) == ["cell_id", "cell_code", "community_code", "community_name", "street_code",
                                         "street_name", "district_code", "district_name", "road_name", "address"]


def test_no_road_at_all_is_no_road_name(tiny_city):
    from layers.models import Road

    Road.objects.all().delete()
    for address in (False, True):
        g = geocode(*inside(1), address=address)
        assert (g.road_name, g.address) == ("", "测试区 测试街道 东社区")


def test_behind_a_transaction_pooler_nothing_is_prepared(tiny_city, monkeypatch):
    """pgBouncer in transaction pooling may send a session's next statement to another server connection, which
    would not know a prepared name: there (DISABLE_SERVER_SIDE_CURSORS) the statement is sent in full."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    with CaptureQueriesContext(connection) as q:
        assert geocode(*inside(2), address=True).address == "测试区 测试街道 西社区 测试路附近"
        assert geocode(*inside(1)).cell_code == "99990100100102"
    sql = " ".join(x["sql"] for x in q.captured_queries).upper()
    assert "PREPARE" not in sql and "EXECUTE" not in sql and "ST_CONTAINS" in sql
