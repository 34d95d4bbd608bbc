"""Point → unit grid cell, community, street, district and a readable address, in one PostGIS query.

The statement is prepared once per database connection. The cell is found with ST_Contains on current cells (GiST
index on grid_cell.geom); the community/street/district codes and names are read from the cell itself (copied there
by triggers, see Cell), so no join; the address names the nearest named road (KNN `<->` on layers_road) when it lies
within `CITYGIS_ADDRESS_ROAD_RADIUS_M` (200 m).
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection

from layers.models import Road

from .models import Cell


class OutsideManagedArea(ValueError):
    """The point lies in no current unit grid cell."""


@dataclass(frozen=True)
class Geocode:
    cell_id: int
    cell_code: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    district_code: str
    district_name: str
    road_name: str
    address: str

    def as_dict(self) -> dict:
        return asdict(self)


def _sql() -> str:
    q = connection.ops.quote_name
    return f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490) AS g)
SELECT c.id, c.code, c.community_code, c.community_name, c.street_code, c.street_name, c.district_code,
       c.district_name, r.name, r.dist
FROM p
JOIN {q(Cell._meta.db_table)} c ON c.valid_to IS NULL AND ST_Contains(c.geom, p.g)
LEFT JOIN LATERAL (
    SELECT rd.name, ST_Distance(rd.geom::geography, p.g::geography) AS dist
    FROM {q(Road._meta.db_table)} rd
    WHERE rd.name <> ''
    ORDER BY rd.geom <-> p.g
    LIMIT 1
) r ON true
ORDER BY c.code
LIMIT 1
"""


# Connections on which the geocoding statement is prepared. A server-side prepared statement saves the
# parse and the planning of the lookup on every call (about half the cost of one lookup).
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
STATEMENT = "citygis_geocode"


def _execute(cur) -> str:
    raw = connection.connection
    if raw is not None and not _prepared.get(raw):
        cur.execute(f"PREPARE {STATEMENT}(float8, float8) AS " + _sql().replace("%s", "$1", 1).replace("%s", "$2", 1))
        _prepared[raw] = True
    return f"EXECUTE {STATEMENT}(%s, %s)"


def geocode(lon: float, lat: float) -> Geocode:
    """Geocode a CGCS2000 (EPSG:4490) lon/lat; raise OutsideManagedArea if no current cell holds it."""
    lon, lat = float(lon), float(lat)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise OutsideManagedArea(f"坐标超出范围：经度 {lon}，纬度 {lat}")
    with connection.cursor() as cur:
        cur.execute(_execute(cur), [lon, lat])
        row = cur.fetchone()
    if row is None:
        raise OutsideManagedArea(f"位置（{lon:.6f}, {lat:.6f}）不在城市管理网格范围内")
    cell_id, cell_code, co_code, co_name, s_code, s_name, d_code, d_name, road, dist = row
    radius = float(settings.CITYGIS_ADDRESS_ROAD_RADIUS_M)
    road = road if road and dist is not None and dist <= radius else ""
    address = " ".join(x for x in (d_name, s_name, co_name, f"{road}附近" if road else "") if x)
    return Geocode(cell_id, cell_code, co_code, co_name, s_code, s_name, d_code, d_name, road, address)
