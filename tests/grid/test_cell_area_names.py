"""The community/street/district codes and names copied onto grid_cell (geocoding reads them without joins) match
the joins, after creation and after any unit is renamed, recoded or moved."""

from __future__ import annotations

from django.db import connection

from city_gis.grid.geocode import geocode
from city_gis.grid.models import Cell, Community, District, Street

from .tiny_city import inside

JOINED = """
SELECT c.id, co.code, co.name, s.code, s.name, d.code, d.name
FROM grid_cell c JOIN grid_community co ON co.id = c.community_id JOIN grid_street s ON s.id = co.street_id
JOIN grid_district d ON d.id = s.district_id ORDER BY c.id
"""
COPIED = """
SELECT id, community_code, community_name, street_code, street_name, district_code, district_name
FROM grid_cell ORDER BY id
"""


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def assert_in_sync() -> None:
    joined = _rows(JOINED)
    assert joined and _rows(COPIED) == joined


def test_names_on_new_cells_match_the_joins(tiny_city):
    assert_in_sync()
    cell = Cell.objects.get(pk=tiny_city["cells"][0].pk)
    assert (cell.community_name, cell.street_name, cell.district_name) == ("东社区", "测试街道", "测试区")


def test_renamed_recoded_and_moved_units_reach_their_cells(tiny_city):
    District.objects.filter(pk=tiny_city["district"].pk).update(name="改名区", code="999902")
    assert_in_sync()
    Street.objects.filter(pk=tiny_city["street"].pk).update(name="改名街道")
    assert_in_sync()
    Community.objects.filter(pk=tiny_city["east"].pk).update(name="新东社区")
    assert_in_sync()
    other = Street.objects.create(code="999901002", name="另一街道", district=tiny_city["district"],
                                  geom=tiny_city["street"].geom)
    west = Community.objects.get(pk=tiny_city["west"].pk)
    west.street = other
    west.save()
    assert_in_sync()
    g = geocode(*inside(3))
    assert (g.community_name, g.street_code, g.street_name, g.district_code, g.district_name) == (
        "西社区", "999901002", "另一街道", "999902", "改名区")


def test_a_cell_moved_to_another_community_and_a_stale_save_keep_the_names(tiny_city):
    cell = Cell.objects.get(pk=tiny_city["cells"][0].pk)
    Community.objects.filter(pk=tiny_city["east"].pk).update(name="东社区二")
    cell.community = tiny_city["west"]
    cell.save()  # the instance's copied names are stale: the database recomputes them
    assert_in_sync()
    assert Cell.objects.get(pk=cell.pk).community_name == "西社区"
