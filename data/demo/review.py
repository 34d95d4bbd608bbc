"""Demo step "review": the control lines the city step lacks and the conflicts a review must find.

- 生态保护红线 (land.eco_redline, owner 国土): a water-conservation band around 窑上水库, soil-conservation
  patches on the largest forest parcels, and the biggest hill park of the town, drawn a little wider than its
  plot so that it meets the neighbouring zoning plots (a real kind of 一张图 conflict).
- 城镇开发边界 (planning.urban_boundary, owner 规划): the 集中建设区 around the planned town and a
  弹性发展区 holding the town-edge expansion plots.
- Expansion plots of the regulatory plan (planning.zoning, codes ZS-KZ01…): drawn across the edge of the basic
  farmland nearest to the town, as a plan drafted before the farmland was fixed would be.
- 自然资源局 shares the (restricted) mining rights with 规划局 for compliance review (`readers`).
- A first batch review of every plot, published as `planning.review_conflicts`.
- The 2026 land-use survey (`land.landuse_2026`): the expansion plots built, one cropland parcel returned to
  forest; compared with `land.parcels`, the farmland changes are published as `land.farmland_changes`.

All geometry is derived in PostGIS from what the city step stored (EPSG:4544 for metres), so the step costs a
few SQL statements; rerunning it replaces its own rows (source = SOURCE).
"""

from __future__ import annotations

from django.db import connection

from city_gis.review.models import EcoRedline, UrbanBoundary
from layers.models import Layer
from layers.models import thematic as tm
from layers.registry import refresh_stats, register_layer

SOURCE = "六盘水演示数据（模拟，合规审查）"
EXPANSION_PLOTS = 3
EXPANSION_USES = [("R2", "二类居住用地", 2.5, 60), ("M1", "一类工业用地", 1.2, 24), ("B1", "商业用地", 3.0, 60)]


def _execute(sql: str, params: dict | None = None) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params or {})


def build_expansion_plots() -> None:
    """Zoning plots centred on the edge of the basic farmland nearest to the town: 300 m squares (in 4544)
    minus the plots already planned, so plots never overlap."""
    for k, (code, name, far, height) in enumerate(EXPANSION_USES[:EXPANSION_PLOTS], start=1):
        _execute("""
            WITH town AS (SELECT ST_Transform(ST_ConvexHull(ST_Collect(geom)), 4544) AS g FROM layers_zoningplot
                          WHERE source <> %(source)s),
                 near AS (SELECT ST_Transform(f.geom, 4544) AS g FROM layers_basicfarmland f, town
                          ORDER BY ST_Distance(ST_Transform(f.geom, 4544), town.g), f.block_code
                          OFFSET %(k)s - 1 LIMIT 1),
                 c AS (SELECT ST_ClosestPoint(ST_Boundary(near.g), town.g) AS p FROM near, town),
                 planned AS (SELECT ST_Union(geom) AS g FROM layers_zoningplot WHERE source <> %(source)s
                             OR plot_code < %(plot)s AND source = %(source)s),
                 sq AS (SELECT ST_CollectionExtract(ST_Difference(ST_Transform(ST_Expand(c.p, 150), 4490),
                                                                  planned.g), 3) AS g FROM c, planned)
            INSERT INTO layers_zoningplot (name, source, synthetic, updated_at, plot_code, landuse_code, landuse_name,
                far_max, height_max_m, density_max, green_ratio_min, plan_name, approved_on, area_m2, geom)
            SELECT %(label)s, %(source)s, TRUE, now(), %(plot)s, %(code)s, %(name)s, %(far)s, %(height)s, 0.35, 0.30,
                   '六盘水市中心城区控制性详细规划（钟山片区）城东扩展区', DATE '2021-06-18',
                   round(ST_Area(ST_Transform(sq.g, 4544))::numeric, 1), ST_Multi(sq.g)
            FROM sq
        """, {"source": SOURCE, "k": k, "label": f"{name}地块（扩展区）", "plot": f"ZS-KZ{k:02d}", "code": code,
              "name": name, "far": far, "height": height})


def build_urban_boundary() -> None:
    """集中建设区: the planned town (its plots' hull + 150 m); 弹性发展区: the expansion plots + 100 m."""
    _execute("""
        INSERT INTO review_urbanboundary (name, source, synthetic, updated_at, boundary_code, zone, area_m2, geom)
        SELECT '中心城区城镇开发边界（集中建设区）', %(source)s, TRUE, now(), '520201CZKF01', '集中建设区', 0,
               ST_Multi(ST_Transform(ST_Buffer(ST_ConvexHull(ST_Collect(ST_Transform(geom, 4544))), 150, 2), 4490))
        FROM layers_zoningplot WHERE source <> %(source)s
    """, {"source": SOURCE})
    _execute("""
        INSERT INTO review_urbanboundary (name, source, synthetic, updated_at, boundary_code, zone, area_m2, geom)
        SELECT '城东扩展区（弹性发展区）', %(source)s, TRUE, now(), '520201CZKF02', '弹性发展区', 0,
               ST_Multi(ST_Transform(ST_Difference(
                   ST_Buffer(ST_Union(ST_Transform(z.geom, 4544)), 100, 2),
                   (SELECT ST_Transform(geom, 4544) FROM review_urbanboundary WHERE boundary_code = '520201CZKF01')), 4490))
        FROM layers_zoningplot z WHERE z.source = %(source)s
        HAVING count(*) > 0
    """, {"source": SOURCE})


def build_eco_redline() -> None:
    """Reservoir band (水源涵养), forest patches (水土保持), the largest hill park widened 60 m (生物多样性维护)."""
    _execute("""
        INSERT INTO review_ecoredline (name, source, synthetic, updated_at, redline_code, function, area_m2, geom)
        SELECT '窑上水库水源涵养生态保护红线', %(source)s, TRUE, now(), '520201STHX01', '水源涵养', 0,
               ST_Multi(ST_Transform(ST_Buffer(ST_Transform(geom, 4544), 300, 4), 4490))
        FROM layers_waterbody WHERE name = '窑上水库' LIMIT 1
    """, {"source": SOURCE})
    _execute("""
        INSERT INTO review_ecoredline (name, source, synthetic, updated_at, redline_code, function, area_m2, geom)
        SELECT '钟山区林地水土保持生态保护红线' || row_number() OVER (ORDER BY a DESC, parcel_code), %(source)s, TRUE,
               now(), '520201STHX' || lpad((1 + row_number() OVER (ORDER BY a DESC, parcel_code))::text, 2, '0'),
               '水土保持', 0, ST_Multi(ST_Transform(ST_Buffer(g, -20, 2), 4490))
        FROM (SELECT parcel_code, ST_Transform(geom, 4544) AS g, ST_Area(ST_Transform(geom, 4544)) AS a
              FROM layers_landparcel WHERE landuse_code = '0301' ORDER BY a DESC, parcel_code LIMIT 3) f
    """, {"source": SOURCE})
    _execute("""
        INSERT INTO review_ecoredline (name, source, synthetic, updated_at, redline_code, function, area_m2, geom)
        SELECT '中心城区山体生物多样性维护生态保护红线', %(source)s, TRUE, now(), '520201STHX09', '生物多样性维护', 0,
               ST_Multi(ST_Transform(ST_Buffer(ST_Transform(geom, 4544), 60, 2), 4490))
        FROM layers_zoningplot WHERE landuse_code = 'G1' AND source <> %(source)s
        ORDER BY area_m2 DESC, plot_code LIMIT 1
    """, {"source": SOURCE})


def register_layers() -> None:
    """land.eco_redline (国土) and planning.urban_boundary (规划); mining rights shared with 规划 for review."""
    register_layer(
        "land.eco_redline", owner="land", kind="vector", geometry_type="POLYGON", source_table="review_ecoredline",
        title_zh="生态保护红线", title_en="Ecological protection redline",
        abstract="生态保护红线（水源涵养、水土保持、生物多样性维护，模拟数据）。", keywords=["国土", "三区三线", "生态保护红线"],
        style={"fill": "#1a9850", "stroke": "#00441b", "stroke_width": 1.5, "opacity": 45,
               "label": {"attribute": "name", "size": 9, "color": "#00441b", "min_scale": 0, "max_scale": 25000}},
        classification="public", update_frequency="annually", sort_order=25)
    register_layer(
        "planning.urban_boundary", owner="planning", kind="vector", geometry_type="POLYGON",
        source_table="review_urbanboundary", title_zh="城镇开发边界", title_en="Urban development boundary",
        abstract="城镇开发边界：集中建设区与弹性发展区（模拟数据）。", keywords=["规划", "三区三线", "城镇开发边界"],
        style={"fill": "#ffffff", "opacity": 0, "stroke": "#d73027", "stroke_width": 2.5, "classify_by": "zone",
               "classes": [{"value": "集中建设区", "label": "集中建设区", "stroke": "#d73027"},
                           {"value": "弹性发展区", "label": "弹性发展区", "stroke": "#fc8d59"}]},
        classification="public", update_frequency="annually", sort_order=5)
    mining = Layer.objects.filter(name="land.mining").first()
    if mining is not None:
        from city_gis.accounts.models import Department

        mining.readers.add(*Department.objects.filter(code="planning"))
    zoning = Layer.objects.filter(name="planning.zoning").first()
    if zoning is not None:
        refresh_stats(zoning, announce=False)


PLOT_TO_LANDUSE = {"R2": ("0701", "城镇住宅用地"), "M1": ("0601", "工业用地"), "B1": ("0501", "零售商业用地")}


def build_survey_2026() -> None:
    """The 2026 land-use survey: this year's parcels, with the expansion plots built (construction land) and the
    steepest-lying cropland parcel returned to forest (退耕还林) — what farmland change monitoring must find."""
    from city_gis.review.models import LandUseSurvey

    LandUseSurvey.objects.filter(survey="2026").delete()
    _execute("""
        INSERT INTO review_landusesurvey (survey, parcel_code, landuse_code, landuse_name, source, updated_at, geom)
        SELECT '2026', p.parcel_code, p.landuse_code, p.landuse_name, %(source)s, now(),
               ST_Multi(ST_CollectionExtract(CASE WHEN x.g IS NULL THEN p.geom ELSE ST_Difference(p.geom, x.g) END, 3))
        FROM layers_landparcel p
        LEFT JOIN LATERAL (SELECT ST_Union(z.geom) AS g FROM layers_zoningplot z
                           WHERE z.source = %(source)s AND ST_Intersects(z.geom, p.geom)) x ON TRUE
        WHERE NOT ST_IsEmpty(CASE WHEN x.g IS NULL THEN p.geom ELSE ST_Difference(p.geom, x.g) END)
    """, {"source": SOURCE})
    for use, (code, name) in PLOT_TO_LANDUSE.items():
        _execute("""
            INSERT INTO review_landusesurvey (survey, parcel_code, landuse_code, landuse_name, source, updated_at, geom)
            SELECT '2026', '520201C' || z.plot_code, %(code)s, %(name)s, %(source)s, now(), z.geom
            FROM layers_zoningplot z WHERE z.source = %(source)s AND z.landuse_code = %(use)s
        """, {"source": SOURCE, "code": code, "name": name, "use": use})
    _execute("""
        UPDATE review_landusesurvey SET landuse_code = '0301', landuse_name = '乔木林地'
        WHERE survey = '2026' AND parcel_code = (
            SELECT parcel_code FROM layers_landparcel WHERE landuse_code = '0103' ORDER BY ST_YMax(geom) DESC, parcel_code LIMIT 1)
    """)
    from .catalog import LANDUSE_CLASSES, style_classes

    register_layer(
        "land.landuse_2026", owner="land", kind="vector", geometry_type="POLYGON", source_table="review_landusesurvey",
        source_where=[{"column": "survey", "op": "=", "value": "2026"}], title_zh="土地利用现状（2026 年度变更调查）", title_en="Land use 2026 survey",
        abstract="2026 年度国土变更调查的土地利用现状图斑，地类按 GB/T 21010-2017（模拟数据）。",
        keywords=["国土", "土地利用", "年度变更调查", "GB/T 21010"],
        style={"fill": "#eeeeee", "stroke": "#636363", "stroke_width": 0.4, "opacity": 75, "classify_by": "landuse_code",
               "classes": style_classes(LANDUSE_CLASSES)},
        attribute_columns=["survey", "parcel_code", "landuse_code", "landuse_name"],
        classification="public", update_frequency="annually", sort_order=11)


def run(ctx) -> None:
    """Replace this step's rows, derive them from the city, register the two layers."""
    for model in (EcoRedline, UrbanBoundary):
        model.objects.filter(source=SOURCE).delete()
    tm.ZoningPlot.objects.filter(source=SOURCE).delete()
    build_expansion_plots()
    build_urban_boundary()
    build_eco_redline()
    for table in ("review_ecoredline", "review_urbanboundary"):
        _execute(f"UPDATE {table} SET area_m2 = round(ST_Area(ST_Transform(geom, 4544))::numeric, 1) "  # noqa: S608
                 "WHERE source = %(source)s", {"source": SOURCE})
    register_layers()
    from city_gis.review.batch import batch_review

    batch_review()  # every plot against farmland and the eco redline: publishes planning.review_conflicts
    build_survey_2026()
    from city_gis.review.changes import farmland_changes

    farmland_changes("land.parcels", "land.landuse_2026")  # publishes land.farmland_changes
