"""A tiny, self-contained managed area for tests (far from the demo city so the two never overlap).

District 999901 测试区 → street 999901001 测试街道 → communities …001 东社区 (cells 01, 02) and …002 西社区
(cells 01, 02); each cell is 0.001° × 0.001° (~100 m × 111 m) south-west corner at (100.000 + i/1000, 30.000);
one road 测试路 runs east–west along lat 30.0005.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Polygon

from city_gis.grid.models import Cell, Community, District, Street
from layers.models import Road

LON0, LAT0, STEP = 100.0, 30.0, 0.001


def cell_poly(i: int) -> Polygon:
    x = LON0 + i * STEP
    return Polygon.from_bbox((x, LAT0, x + STEP, LAT0 + STEP))


def inside(i: int) -> tuple[float, float]:
    """A point in the middle of cell i (0..3)."""
    return LON0 + (i + 0.5) * STEP, LAT0 + 0.5 * STEP


def build() -> dict:
    def mp(*polys):
        g = MultiPolygon(*polys, srid=4490)
        return g

    all4 = mp(*(cell_poly(i) for i in range(4)))
    d = District.objects.create(code="999901", name="测试区", synthetic=True, geom=all4)
    s = Street.objects.create(code="999901001", name="测试街道", district=d, synthetic=True, geom=all4)
    east = Community.objects.create(code="999901001001", name="东社区", street=s, synthetic=True,
                                    geom=mp(cell_poly(0), cell_poly(1)))
    west = Community.objects.create(code="999901001002", name="西社区", street=s, synthetic=True,
                                    geom=mp(cell_poly(2), cell_poly(3)))
    cells = []
    for i in range(4):
        comm = east if i < 2 else west
        cells.append(Cell.objects.create(code=f"{comm.code}{i % 2 + 1:02d}", community=comm, area_m2=10700.0,
                                         valid_from=dt.date(2026, 1, 1), geom=Polygon(cell_poly(i).coords[0], srid=4490)))
    line = LineString((LON0 - 0.001, LAT0 + 0.0005), (LON0 + 0.005, LAT0 + 0.0005), srid=4490)
    Road.objects.create(name="测试路", grade="branch", geom=MultiLineString(line, srid=4490), synthetic=True)
    return {"district": d, "street": s, "east": east, "west": west, "cells": cells}
