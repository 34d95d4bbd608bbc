"""Redlines for the review tests, drawn in EPSG:4544 metres around real demo features."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, box

TO_4544 = Transformer.from_crs(4490, 4544, always_xy=True)
TO_4490 = Transformer.from_crs(4544, 4490, always_xy=True)


def _transform(t, geom):
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def to_metric(geom):
    return _transform(TO_4544, geom)


def to_lonlat(geom):
    return _transform(TO_4490, geom)


def plot_geom(code: str):
    from layers.models import thematic as tm

    return shapely.from_wkb(bytes(tm.ZoningPlot.objects.get(plot_code=code).geom.wkb))


def inner_square(code: str, half: float = 40.0) -> MultiPolygon:
    """A square of 2·half metres around the representative point of zoning plot `code` (lon/lat)."""
    c = to_metric(plot_geom(code)).representative_point()
    return MultiPolygon([to_lonlat(box(c.x - half, c.y - half, c.x + half, c.y + half))])


@pytest.fixture
def planner(db):
    from city_gis.accounts.models import User

    return User.objects.get(username="planner")


@pytest.fixture
def town_plot(db) -> str:
    """A residential plot in the middle of town, clear of farmland and the eco redline."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT z.plot_code FROM layers_zoningplot z WHERE z.landuse_code = 'R2'
                       AND NOT EXISTS (SELECT 1 FROM review_ecoredline e WHERE ST_DWithin(e.geom, z.geom, 0.001))
                       AND NOT EXISTS (SELECT 1 FROM layers_hazardzone h WHERE ST_Intersects(h.geom, z.geom))
                       AND NOT EXISTS (SELECT 1 FROM layers_basicfarmland f WHERE ST_DWithin(f.geom, z.geom, 0.001))
                       ORDER BY z.plot_code LIMIT 1""")
        return cur.fetchone()[0]
