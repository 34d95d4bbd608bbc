"""Demo step "components": an inventory of components (部件) along the demo streets, inside the managed area.

Lamps, manhole covers, storm grates, bins, street trees, bus shelters, signs and name plates are placed at
regular spacings along each road (in EPSG:4544 metres), a few metres to either side; each gets its cell, a
16-digit identifier (district 6 + big 2 + small 2 + serial 6), the category's department as owner and
maintainer, a state and dates. Registers the grid.components layer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import shapely
from django.contrib.gis.geos import Point
from django.db import connection
from pyproj import Transformer
from tqdm import tqdm

from city_gis.cases.models import Category, CategoryKind
from layers.models import Road

from .maplayers import register_component_layer
from .models import Component, ComponentState, District

# (component small class, spacing m, side offset m, road grades or None for all, name)
PLAN = [
    ("0118", 35, 9, None, "路灯"),
    ("0402", 12, 6, ("arterial", "secondary"), "行道树"),
    ("0102", 60, 2, None, "污水井盖"),
    ("0103", 70, 4, None, "雨水井盖"),
    ("0104", 45, 7, None, "雨水箅子"),
    ("0101", 110, 3, None, "上水井盖"),
    ("0105", 150, 5, ("arterial", "secondary"), "电力井盖"),
    ("0111", 200, 4, ("arterial",), "燃气井盖"),
    ("0305", 90, 8, None, "垃圾箱"),
    ("0203", 450, 10, ("arterial", "secondary"), "公交站亭"),
    ("0209", 300, 9, ("arterial", "secondary"), "交通标志牌"),
    ("0213", 250, 9, None, "路名牌"),
    ("0113", 220, 8, None, "消火栓"),
    ("0407", 260, 8, ("arterial",), "街头座椅"),
]
STATES = [(ComponentState.INTACT, 90), (ComponentState.DAMAGED, 7), (ComponentState.LOST, 2), (ComponentState.REMOVED, 1)]


def _along(line: shapely.LineString, spacing: float, offset: float, phase: float) -> np.ndarray:
    """Points every `spacing` m along a metric line, `offset` m to alternating sides (vectorised)."""
    if line.length <= phase:
        return np.empty((0, 2))
    d = np.arange(phase, line.length, spacing)
    here = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(d + 1.0, line.length)))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(d - 1.0, 0.0)))
    tangent = ahead - behind
    tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
    side = np.where(np.arange(len(d)) % 2 == 0, 1.0, -1.0) * offset
    return here + np.column_stack([-tangent[:, 1], tangent[:, 0]]) * side[:, None]


def _cells_and_districts(points: list[tuple[float, float]]) -> dict[int, tuple[int, str]]:
    """index → (cell id, district code) for the points inside a current cell (one set-based query)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    sql = """
        SELECT p.i, c.id, d.code
        FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i)
        JOIN grid_cell c ON c.valid_to IS NULL AND ST_Contains(c.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4490))
        JOIN grid_community co ON co.id = c.community_id
        JOIN grid_street s ON s.id = co.street_id
        JOIN grid_district d ON d.id = s.district_id
    """
    with connection.cursor() as cur:
        cur.execute(sql, [xs, ys])
        return {i - 1: (cell, code) for i, cell, code in cur.fetchall()}


def run(ctx) -> None:
    cats = {c.code: c for c in Category.objects.filter(kind=CategoryKind.COMPONENT).select_related("default_department")}
    roads = list(Road.objects.exclude(name=""))
    if not cats or not roads or not District.objects.exists():
        print("[demo] components: needs categories, roads and the grid — skipped")
        return
    rng = ctx.rng("components")
    candidates: list[tuple[str, str, float, float]] = []  # (small class, name, x, y in EPSG:4544)
    for road in tqdm(roads, desc="部件布设", unit="条道路", disable=not ctx.progress):
        metric = shapely.from_wkb(bytes(road.geom.transform(4544, clone=True).wkb))
        for code, spacing, offset, grades, label in PLAN:
            if code not in cats or (grades and road.grade not in grades):
                continue
            for line in metric.geoms:
                pts = _along(line, spacing, offset, rng.uniform(0, spacing))
                candidates.extend((code, f"{road.name}{label}", x, y) for x, y in pts)
    to_4490 = Transformer.from_crs(4544, 4490, always_xy=True)
    lons, lats = to_4490.transform([c[2] for c in candidates], [c[3] for c in candidates])
    candidates = [(c[0], c[1], lon, lat) for c, lon, lat in zip(candidates, lons, lats, strict=True)]
    located = _cells_and_districts([(c[2], c[3]) for c in candidates])
    serial: dict[tuple[str, str], int] = defaultdict(int)
    states, weights = zip(*STATES, strict=True)
    start = dt.date(2026, 1, 1)
    rows = []
    for i, (code, name, lon, lat) in enumerate(candidates):
        if i not in located:
            continue
        cell_id, district = located[i]
        serial[(district, code)] += 1
        cat = cats[code]
        state = rng.choices(states, weights=weights)[0]
        dept = cat.default_department
        rows.append(Component(
            code=f"{district}{code}{serial[(district, code)]:06d}", name=name, category=cat,
            competent_department=dept, owner_department=dept, maintainer_department=dept, cell_id=cell_id,
            state=state, initial_date=start - dt.timedelta(days=rng.randint(0, 3650)),
            changed_date=start + dt.timedelta(days=rng.randint(0, 300)) if state != ComponentState.INTACT else None,
            source="演示数据：沿街布设", geom=Point(lon, lat, srid=4490),
        ))
    Component.objects.filter(source="演示数据：沿街布设").delete()
    Component.objects.bulk_create(rows, batch_size=2000)
    register_component_layer()
    if ctx.progress:
        print(f"[demo] components: {len(rows)} placed along {len(roads)} roads")
