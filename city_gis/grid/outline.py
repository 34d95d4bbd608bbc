"""The city's outline — the union of its districts (grid_district) — and how much of a geometry lies outside it.

One rule for every path that must keep data inside the city: web and OGC API edits and WFS-T (registered into
`layers.extent`) and the planning review's redlines. Measured in EPSG:4544 (CGCS2000 / 3-degree GK CM 105E):
m² outside for polygons, m for lines, the number of points for points; the callers allow 1 m² / 1 m of
digitising slack along the border.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.contrib.gis.geos import GEOSGeometry
from django.db import connection

# Slack along the border (m² for areas, m for lines; none for points): a vertex snapped to the district line
# is inside.
BORDER_SLACK = 1.0

_SQL = """
    WITH g AS (SELECT n, ST_SetSRID(ST_GeomFromWKB(w), 4490) AS g FROM unnest(%s::bytea[]) WITH ORDINALITY AS t(w, n)),
         d AS (SELECT n, g.g, (SELECT ST_Union(d.geom) FROM grid_district d WHERE ST_Intersects(d.geom, g.g)) AS city
               FROM g)
    SELECT n, CASE WHEN city IS NULL THEN
                   CASE ST_Dimension(g) WHEN 2 THEN ST_Area(ST_Transform(g, 4544))
                                        WHEN 1 THEN ST_Length(ST_Transform(g, 4544))
                                        ELSE ST_NPoints(g) END
              ELSE
                   CASE ST_Dimension(g) WHEN 2 THEN ST_Area(ST_Transform(ST_Difference(g, city), 4544))
                                        WHEN 1 THEN ST_Length(ST_Transform(ST_Difference(g, city), 4544))
                                        ELSE ST_NPoints(ST_Difference(g, city)) END
              END
    FROM d ORDER BY n
"""


class Outside(NamedTuple):
    measure: float  # m² (areas), m (lines) or points outside the city
    outside: bool  # more than the border slack outside (any point outside, for points)



def outside_city(geoms: Sequence[GEOSGeometry]) -> list[Outside] | None:
    """For each geometry (EPSG:4490), how much of it lies outside the city; None when no district is loaded yet."""
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM grid_district)")
        if not cur.fetchone()[0]:
            return None
        cur.execute(_SQL, [[bytes(g.wkb) for g in geoms]])
        rows = cur.fetchall()
    return [Outside(float(m or 0.0), float(m or 0.0) > (BORDER_SLACK if g.dims > 0 else 0.0))
            for g, (_n, m) in zip(geoms, rows, strict=True)]


def outside_flags(geoms: Sequence[GEOSGeometry]) -> list[bool] | None:
    """The check `layers.extent` runs on edits: for each geometry, whether it leaves the city."""
    result = outside_city(geoms)
    return None if result is None else [o.outside for o in result]
