"""`citygis validate_grid`: a clean grid passes; bad codes, cells leaving their community, overlaps and gaps
are each reported with the offending codes and a non-zero exit."""

import io

import pytest
from django.contrib.gis.geos import Polygon
from django.core.management import CommandError, call_command

from city_gis.grid.models import Cell
from city_gis.grid.validation import validate_grid
from tests.grid.tiny_city import LAT0, LON0, STEP


def run(district="999901"):
    out = io.StringIO()
    call_command("validate_grid", "--district", district, stdout=out)
    return out.getvalue()


def test_a_clean_grid_passes(tiny_city):
    assert "通过" in run()


def test_bad_code_is_reported(tiny_city):
    Cell.objects.filter(code="99990100100101").update(code="9999010010010X")
    assert [p.kind for p in validate_grid("999901")] == ["code_format"]


def test_overlap_and_outside_community_are_reported(tiny_city):
    cell = tiny_city["cells"][1]  # east community, second cell
    Cell.objects.filter(pk=cell.pk).update(geom=Polygon.from_bbox((LON0 + STEP, LAT0, LON0 + 2.5 * STEP, LAT0 + STEP)))
    problems = validate_grid("999901")
    kinds = {p.kind: p for p in problems}
    assert kinds["overlap"].codes == ("99990100100102", "99990100100201")
    assert kinds["outside_community"].codes == ("99990100100102",)
    with pytest.raises(CommandError, match="网格问题"):
        run()


def test_gap_is_reported_with_its_community(tiny_city):
    cell = tiny_city["cells"][3]
    Cell.objects.filter(pk=cell.pk).update(
        geom=Polygon.from_bbox((LON0 + 3 * STEP, LAT0, LON0 + 3.5 * STEP, LAT0 + STEP)))
    gaps = [p for p in validate_grid("999901") if p.kind == "gap"]
    assert [g.codes for g in gaps] == [("999901001002",)]
