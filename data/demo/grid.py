"""Demo step "grid": unit grid cells (万米单元网格) of the synthetic town and the inspectors' responsibility areas.

Cells follow the street network: every road block of the town plan (`layout`) is halved along its long axis
until no piece exceeds 1.5 ha, giving cells of about 10,000 m². Blocks never straddle communities, so each cell
lies in exactly one community and the cells tile the communities without gaps or overlaps. Codes are the
community code plus a sequence numbered north to south, west to east within the community.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from shapely.geometry import box

from city_gis.accounts.models import User
from city_gis.grid.models import Cell, Community, ResponsibilityArea

from . import catalog
from .layout import Layout, Rect, cell_rects, local_to_4490_geom, make_layout, noded

VALID_FROM = dt.date(2026, 1, 1)
INSPECTORS = 12


def serpentine_blocks(layout: Layout) -> list[tuple[int, int]]:
    """Blocks column by column, alternately up and down, so consecutive blocks touch."""
    nx, ny = layout.n_blocks
    return [(i, j) for i in range(nx) for j in (range(ny) if i % 2 == 0 else reversed(range(ny)))]


def plan_cells(layout: Layout, width: int) -> dict[str, list[tuple[str, Rect, tuple[int, int]]]]:
    """Cells per community code: (cell code, local rectangle, block), sequence-numbered north→south, west→east."""
    by_comm: dict[str, list[tuple[Rect, tuple[int, int]]]] = defaultdict(list)
    for i, j, rect in cell_rects(layout):
        by_comm[layout.community_of_block(i, j)].append((rect, (i, j)))
    plan = {}
    for comm, cells in by_comm.items():
        if len(cells) >= 10**width:
            raise ValueError(f"community {comm} has {len(cells)} cells, more than a {width}-digit sequence allows")
        cells.sort(key=lambda c: (-round((c[0][1] + c[0][3]) / 2, 3), round((c[0][0] + c[0][2]) / 2, 3)))
        plan[comm] = [(f"{comm}{k:0{width}d}", rect, blk) for k, (rect, blk) in enumerate(cells, start=1)]
    return plan


def build_cells(layout: Layout) -> list[Cell]:
    """Create or update the current cells in place (codes are stable); retire codes no longer planned."""
    width = settings.CITYGIS_CELL_SEQ_WIDTH
    plan = plan_cells(layout, width)
    communities = {c.code: c for c in Community.objects.filter(code__in=plan)}
    existing = {c.code: c for c in Cell.objects.filter(valid_to__isnull=True, community__code__in=plan)}
    new, changed, wanted = [], [], set()
    for comm_code, cells in plan.items():
        for code, rect, _blk in cells:
            wanted.add(code)
            geom = GEOSGeometry(memoryview(local_to_4490_geom(noded(layout, box(*rect))).wkb), srid=4490)
            cell = existing.get(code)
            if cell is None:
                new.append(Cell(code=code, community=communities[comm_code], area_m2=0.0, valid_from=VALID_FROM, geom=geom))
            else:
                cell.community, cell.geom = communities[comm_code], geom
                changed.append(cell)
    Cell.objects.filter(code__in=set(existing) - wanted, valid_to__isnull=True).update(valid_to=dt.date.today())
    Cell.objects.bulk_update(changed, ["community", "geom"], batch_size=500)
    Cell.objects.bulk_create(new, batch_size=500)
    with connection.cursor() as cur:
        cur.execute("UPDATE grid_cell SET area_m2 = ST_Area(ST_Transform(geom, 4544)) WHERE valid_to IS NULL")
    return list(Cell.objects.filter(valid_to__isnull=True, code__in=wanted))


def build_responsibility_areas(layout: Layout) -> None:
    """Split the cells, in serpentine block order, into equal contiguous runs for inspector1..inspector12."""
    width = settings.CITYGIS_CELL_SEQ_WIDTH
    plan = plan_cells(layout, width)
    rank = {blk: n for n, blk in enumerate(serpentine_blocks(layout))}
    ordered = sorted(
        ((rank[blk], (rect[1] + rect[3]) / 2 * (1 if blk[0] % 2 == 0 else -1), code)
         for cells in plan.values() for code, rect, blk in cells)
    )
    cells = {c.code: c for c in Cell.objects.filter(valid_to__isnull=True, code__in=[o[2] for o in ordered])}
    inspectors = {u.username: u for u in User.objects.filter(username__startswith="inspector")}
    ResponsibilityArea.objects.filter(inspector__in=inspectors.values(), name__startswith="责任网格").delete()
    n = len(ordered)
    for k in range(INSPECTORS):
        user = inspectors.get(f"inspector{k + 1}")
        if user is None:
            continue
        run_codes = [o[2] for o in ordered[k * n // INSPECTORS:(k + 1) * n // INSPECTORS]]
        area = ResponsibilityArea.objects.create(name=f"责任网格{k + 1:02d}", inspector=user)
        area.cells.set([cells[c] for c in run_codes])


def run(ctx) -> None:
    """Cut the cells, assign responsibility areas, register grid.cells."""
    layout = make_layout(ctx.seed)
    build_cells(layout)
    build_responsibility_areas(layout)
    catalog.register_grid_layer()
