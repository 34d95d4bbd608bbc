"""Point → unit grid cell, community, street, district and a readable address, in one PostGIS query.

The cell is found with ST_Contains on current cells (GiST index on grid_cell.geom); the community/street/district
codes and names are read from the cell itself (copied there by triggers, see Cell), so no join. The address names
the nearest named road (KNN `<->` on layers_road) when it lies within `CITYGIS_ADDRESS_ROAD_RADIUS_M` (200 m).

The road lookup costs about as much as the rest of the lookup, so it runs only when an address is wanted:
`geocode(lon, lat, address=True)` (case creation) finds it in the same statement; a plain
`geocode(lon, lat)` finds it on the first read of `road_name` / `address` (one more query), never when only the
cell and its areas are read. Both statements are prepared once per database connection (city_gis.prepared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

from city_gis import prepared
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
    lon: float = field(repr=False)
    lat: float = field(repr=False)
    # (name, distance m) of the nearest named road when the statement looked it up; None: read on demand.
    nearest_road: tuple[str | None, float | None] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def road_name(self) -> str:
        """The nearest named road within the radius, "" if none (looked up now unless already known)."""
        name, dist = self.nearest_road if self.nearest_road is not None else _nearest_road(self.lon, self.lat)
        radius = float(settings.CITYGIS_ADDRESS_ROAD_RADIUS_M)
        return name if name and dist is not None and dist <= radius else ""

    @cached_property
    def address(self) -> str:
        """"区 街道 社区 路附近", without the road when none lies within the radius."""
        road = self.road_name
        return " ".join(x for x in (self.district_name, self.street_name, self.community_name,
                                    f"{road}附近" if road else "") if x)

    def as_dict(self) -> dict:
        return {"cell_id": self.cell_id, "cell_code": self.cell_code, "community_code": self.community_code,
                "community_name": self.community_name, "street_code": self.street_code,
                "street_name": self.street_name, "district_code": self.district_code,
                "district_name": self.district_name, "road_name": self.road_name, "address": self.address}


def _road_sql() -> str:
    """The nearest named road to point `p.g` (name, geography distance m): one rule for both statements."""
    return f"""
    SELECT rd.name, ST_Distance(rd.geom::geography, p.g::geography) AS dist
    FROM {connection.ops.quote_name(Road._meta.db_table)} rd
    WHERE rd.name <> ''
    ORDER BY rd.geom <-> p.g
    LIMIT 1"""


@cache  # the text is fixed for the process; built once, not on every lookup
def _cell_sql(with_road: bool) -> str:
    q = connection.ops.quote_name
    road = f"LEFT JOIN LATERAL ({_road_sql()}\n) r ON true" if with_road else ""
    return f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490) AS g)
SELECT c.id, c.code, c.community_code, c.community_name, c.street_code, c.street_name, c.district_code,
       c.district_name{", r.name, r.dist" if with_road else ""}
FROM p
JOIN {q(Cell._meta.db_table)} c ON c.valid_to IS NULL AND ST_Contains(c.geom, p.g)
{road}
ORDER BY c.code
LIMIT 1
"""


def _nearest_road(lon: float, lat: float) -> tuple[str | None, float | None]:
    sql = (f"WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490) AS g)\n"
           f"SELECT r.name, r.dist FROM p, LATERAL ({_road_sql()}\n) r")
    with connection.cursor() as cur:
        cur.execute(sql, [lon, lat])
        row = cur.fetchone()
    return row if row is not None else (None, None)


STATEMENTS = {True: "citygis_geocode", False: "citygis_geocode_cell"}  # by with_road


def geocode(lon: float, lat: float, *, address: bool = False) -> Geocode:
    """Geocode a CGCS2000 (EPSG:4490) lon/lat; raise OutsideManagedArea if no current cell holds it.

    `address=True` looks the nearest road up in the same statement (for callers that read `address` or
    `road_name`); otherwise it is looked up when first read.
    """
    lon, lat = float(lon), float(lat)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise OutsideManagedArea(f"坐标超出范围：经度 {lon}，纬度 {lat}")
    db = connections[DEFAULT_DB_ALIAS]  # once: each read of the `connection` proxy looks the thread's one up
    with db.cursor() as cur:
        cur.execute(prepared.statement(db, cur, STATEMENTS[address], _cell_sql(address), ("float8", "float8")),
                    [lon, lat])
        row = cur.fetchone()
    if row is None:
        raise OutsideManagedArea(f"位置（{lon:.6f}, {lat:.6f}）不在城市管理网格范围内")
    return Geocode(*row[:8], lon, lat, (row[8], row[9]) if address else None)
