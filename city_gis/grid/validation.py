"""Checks of the unit grid: code format, each cell inside exactly one community, no overlaps, no gaps.

All geometry checks run in PostGIS over the current cells (valid_to IS NULL); areas are measured on the
geography (m²) with a 1 m² tolerance so floating-point slivers are not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

TOLERANCE_M2 = 1.0


@dataclass(frozen=True)
class Problem:
    kind: str  # code_format, outside_community, overlap, gap
    codes: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {', '.join(self.codes)} — {self.detail}"


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def validate_grid(district: str | None = None) -> list[Problem]:
    """Every problem of the current grid (optionally of one district code)."""
    width = int(settings.CITYGIS_CELL_SEQ_WIDTH)
    scope = "c.valid_to IS NULL AND (%(district)s::text IS NULL OR c.code LIKE %(district)s::text || '%%')"
    params = {"district": district}
    problems: list[Problem] = []
    code_re = re.compile(rf"^\d{{{12 + width}}}$")
    for code, community in _rows(
        f"SELECT c.code, co.code FROM grid_cell c JOIN grid_community co ON co.id = c.community_id WHERE {scope}", params
    ):
        if not code_re.match(code) or not code.startswith(community):
            problems.append(Problem("code_format", (code,), f"应为社区代码 {community} + {width} 位序号"))
    for code, community, outside in _rows(f"""
        SELECT c.code, co.code, ST_Area(ST_Difference(c.geom, co.geom)::geography)
        FROM grid_cell c JOIN grid_community co ON co.id = c.community_id
        WHERE {scope} AND ST_Area(ST_Difference(c.geom, co.geom)::geography) > {TOLERANCE_M2}""", params):
        problems.append(Problem("outside_community", (code,), f"有 {outside:.0f} m² 在所属社区 {community} 之外"))
    for a, b, area in _rows(f"""
        SELECT c.code, o.code, ST_Area(ST_Intersection(c.geom, o.geom)::geography)
        FROM grid_cell c JOIN grid_cell o ON o.valid_to IS NULL AND c.id < o.id AND c.geom && o.geom
             AND ST_Intersects(c.geom, o.geom) AND NOT ST_Touches(c.geom, o.geom)
        WHERE {scope} AND ST_Area(ST_Intersection(c.geom, o.geom)::geography) > {TOLERANCE_M2}""", params):
        problems.append(Problem("overlap", (a, b), f"重叠 {area:.0f} m²"))
    community_scope = "(%(district)s::text IS NULL OR co.code LIKE %(district)s::text || '%%')"
    for community, area, x, y in _rows(f"""
        WITH gaps AS (
            SELECT co.code, (ST_Dump(ST_Difference(co.geom, coalesce(
                (SELECT ST_Union(c.geom) FROM grid_cell c WHERE c.community_id = co.id AND c.valid_to IS NULL),
                'SRID=4490;POLYGON EMPTY'::geometry)))).geom AS g
            FROM grid_community co WHERE {community_scope})
        SELECT code, ST_Area(g::geography), ST_X(ST_PointOnSurface(g)), ST_Y(ST_PointOnSurface(g))
        FROM gaps WHERE ST_Area(g::geography) > {TOLERANCE_M2} ORDER BY code""", params):
        problems.append(Problem("gap", (community,), f"社区内 {area:.0f} m² 未被网格覆盖，位于 ({x:.6f}, {y:.6f})"))
    return problems
