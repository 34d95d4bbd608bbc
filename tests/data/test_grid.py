"""Unit grid cells (万米单元网格) of the demo town and the inspectors' responsibility areas."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection

from city_gis.grid.models import Cell, Community, ResponsibilityArea
from data.demo.layout import split_rect

pytestmark = pytest.mark.django_db


def _one(sql: str):
    with connection.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def test_cells_tile_every_community_without_gaps_or_overlaps():
    rows = []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.code, ST_Area(ST_Transform(c.geom, 4544)),"
            " ST_Area(ST_Transform(ST_SymDifference(ST_Union(g.geom), c.geom), 4544)),"
            " sum(ST_Area(ST_Transform(g.geom, 4544))) - ST_Area(ST_Transform(ST_Union(g.geom), 4544))"
            " FROM grid_community c JOIN grid_cell g ON g.community_id = c.id AND g.valid_to IS NULL"
            " WHERE c.synthetic GROUP BY c.id"
        )
        rows = cur.fetchall()
    assert len(rows) == Community.objects.filter(synthetic=True).count()
    for code, area, gap, overlap in rows:
        assert gap < 0.01, code  # m², i.e. the same shape
        assert abs(overlap) < 0.01, code
        assert area > 0


def test_no_two_current_cells_overlap():
    (pairs,) = _one(
        "SELECT count(*) FROM grid_cell a JOIN grid_cell b ON a.id < b.id AND a.valid_to IS NULL AND b.valid_to IS NULL"
        " AND ST_Overlaps(a.geom, b.geom)"
    )
    assert pairs == 0


def test_each_cell_lies_in_exactly_one_community_its_own():
    (bad,) = _one(
        "SELECT count(*) FROM grid_cell g WHERE g.valid_to IS NULL AND ("
        " SELECT count(*) FROM grid_community c WHERE ST_Area(ST_Intersection(c.geom, g.geom)) > 0.999 * ST_Area(g.geom)"
        " AND c.id = g.community_id) <> 1"
        " OR EXISTS (SELECT 1 FROM grid_community c WHERE c.id <> g.community_id"
        " AND ST_Area(ST_Intersection(c.geom, g.geom)) > 1e-6 * ST_Area(g.geom))"
    )
    assert bad == 0


def test_cells_are_about_ten_thousand_square_metres():
    count, avg, low, high = _one("SELECT count(*), avg(area_m2), min(area_m2), max(area_m2) FROM grid_cell WHERE valid_to IS NULL")
    assert count > 500
    assert 8_000 < avg < 12_000
    assert low > 4_000 and high <= 15_000 + 1
    (mismatch,) = _one(
        "SELECT count(*) FROM grid_cell WHERE abs(area_m2 - ST_Area(ST_Transform(geom, 4544))) > 0.01 AND valid_to IS NULL"
    )
    assert mismatch == 0


def test_cell_codes_are_community_code_plus_sequence():
    width = settings.CITYGIS_CELL_SEQ_WIDTH
    for cell in Cell.objects.select_related("community").filter(valid_to__isnull=True)[:400]:
        assert cell.code.startswith(cell.community.code)
        seq = cell.code[len(cell.community.code):]
        assert len(seq) == width and seq.isdigit() and int(seq) >= 1
        assert cell.valid_from == dt.date(2026, 1, 1)


def test_blocks_are_halved_along_their_long_axis_until_at_most_one_and_a_half_hectares():
    pieces = split_rect((0.0, 0.0, 210.0, 190.0))
    assert len(pieces) == 4
    assert all((x1 - x0) * (y1 - y0) <= 15_000 for x0, y0, x1, y1 in pieces)
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in pieces) == pytest.approx(210 * 190)
    assert split_rect((0.0, 0.0, 100.0, 100.0)) == [(0.0, 0.0, 100.0, 100.0)]


def test_twelve_inspectors_patrol_contiguous_areas_covering_every_cell_once():
    areas = list(ResponsibilityArea.objects.filter(inspector__username__startswith="inspector", name__startswith="责任网格"))
    assert len(areas) == 12
    assert len({a.inspector_id for a in areas}) == 12
    (total, distinct) = _one(
        "SELECT count(*), count(DISTINCT rc.cell_id) FROM grid_responsibilityarea_cells rc"
        " JOIN grid_responsibilityarea r ON r.id = rc.responsibilityarea_id WHERE r.name LIKE '责任网格%%'"
    )
    assert total == distinct == Cell.objects.filter(valid_to__isnull=True, community__synthetic=True).count()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT r.name, ST_NumGeometries(ST_Union(g.geom)) FROM grid_responsibilityarea r"
            " JOIN grid_responsibilityarea_cells rc ON rc.responsibilityarea_id = r.id"
            " JOIN grid_cell g ON g.id = rc.cell_id WHERE r.name LIKE '责任网格%%' GROUP BY r.name"
        )
        assert all(parts == 1 for _name, parts in cur.fetchall())
