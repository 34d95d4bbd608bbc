"""The `evaluation.*_score` choropleth layers and the materialised table behind them (AreaScore)."""

from __future__ import annotations

from django.db import connection, transaction
from psycopg2 import sql

from city_gis.accounts.layer_owner import domain_layer_owner
from city_gis.accounts.models import Department
from city_gis.grid.areas import area_level
from layers.access import Access, register_read_policy
from layers.models import Layer

from .access import scope_for
from .config import get_config
from .engine import evaluate
from .models import AreaScore
from .periods import Period

# the levels scored onto the map, finest first; their tables come from city_gis.grid.areas
GEOM_SOURCES = {level: area_level(level) for level in ("cell", "community", "street", "district")}
LAYERS = {
    "evaluation.grid_score": ("cell", "单元网格综合评价", "Grid cell evaluation score"),
    "evaluation.community_score": ("community", "社区综合评价", "Community evaluation score"),
    "evaluation.street_score": ("street", "街道综合评价", "Street evaluation score"),
}
ATTRIBUTES = ["code", "name", "period", "registered", "due", "case_density", "report_rate", "closing_rate",
              "on_time_closing_rate", "score", "grade"]


def refresh_area_scores(period: Period, *, current: bool = True, levels: tuple[str, ...] = tuple(GEOM_SOURCES)) -> int:
    """Recompute every area of `levels` for `period` into AreaScore (replacing that period's rows);
    with `current`, make it the period the map layers show. Returns the number of rows written."""
    written = 0
    with transaction.atomic():
        for level in levels:
            results = evaluate(level, period, all_units=True)
            source = GEOM_SOURCES[level]
            AreaScore.objects.filter(level=level, period=period.label).delete()
            if current:
                AreaScore.objects.filter(level=level, is_current=True).update(is_current=False)
            if not results:
                continue
            cols = {
                "code": [r.unit for r in results], "name": [r.name[:60] for r in results],
                "registered": [r.counts["registered"][1] for r in results],
                "due": [r.counts["due"][1] for r in results],
                "density": [r.case_density for r in results],
                "report_rate": [r.rates["report_rate"] for r in results],
                "closing_rate": [r.rates["closing_rate"] for r in results],
                "on_time": [r.rates["on_time_closing_rate"] for r in results],
                "score": [r.score for r in results], "grade": [r.grade for r in results],
            }
            with connection.cursor() as cur:
                cur.execute(
                    sql.SQL("""
                    INSERT INTO evaluation_areascore (level, code, name, period, start, "end", is_current, registered,
                        due, case_density, report_rate, closing_rate, on_time_closing_rate, score, grade,
                        computed_at, geom)
                    SELECT %(level)s, u.code, u.name, %(period)s, %(start)s, %(end)s, %(current)s, u.registered,
                        u.due, u.density, u.report_rate, u.closing_rate, u.on_time, u.score, u.grade, now(),
                        ST_Multi(g.geom)
                    FROM unnest(%(code)s::text[], %(name)s::text[], %(registered)s::int[], %(due)s::int[],
                                %(density)s::float8[], %(report_rate)s::float8[], %(closing_rate)s::float8[],
                                %(on_time)s::float8[], %(score)s::float8[], %(grade)s::text[])
                         AS u(code, name, registered, due, density, report_rate, closing_rate, on_time, score, grade)
                    JOIN {table} g ON g.code = u.code AND {current}
                    """).format(table=source.table, current=source.current("g")),
                    {"level": level, "period": period.label, "start": period.start, "end": period.end,
                     "current": current, **cols},
                )
                written += cur.rowcount
    transaction.on_commit(_announce)
    return written


def _announce() -> None:
    from layers.models import Layer
    from layers.registry import refresh_stats

    for layer in Layer.objects.filter(name__in=list(LAYERS)):
        refresh_stats(layer)


def register_layers(owner: Department | str | None = None) -> list[Layer]:
    """Register (or update) the three choropleth layers in the layer registry; returns them.

    `owner` defaults to the CITYGIS_DOMAIN_LAYER_OWNER department; without it nothing is registered ([]).
    """
    from layers.registry import register_layer

    owner = owner or domain_layer_owner()
    if owner is None:
        return []
    config = get_config()
    classes = [{"value": g.grade, "label": f"{g.grade}（≥{g.min:g}）", "fill": g.color} for g in config.grades]
    layers = []
    for order, (name, (level, title_zh, title_en)) in enumerate(LAYERS.items()):
        layers.append(register_layer(
            name, owner=owner, title_zh=title_zh, title_en=title_en,
            abstract=f"按等级（A–E）着色的{title_zh}，当前时段；由 citygis evaluate 与演示数据构建刷新。",
            keywords=["综合评价", "数字城管", level], kind="vector", geometry_type="POLYGON",
            source_table="evaluation_areascore", id_column="id", geom_column="geom",
            source_where=[{"column": "level", "op": "=", "value": level}, {"column": "is_current", "op": "is_true"}],
            attribute_columns=ATTRIBUTES,
            style={"fill": "#cccccc", "stroke": "#555555", "stroke_width": 0.4, "opacity": 70,
                   "classify_by": "grade", "classes": classes,
                   "label": {"attribute": "grade", "size": 9, "color": "#333333", "min_scale": 0,
                             "max_scale": 10000 if level == "cell" else 50000}},
            classification="internal", update_frequency="daily", cacheable=False, sort_order=10 + order,
        ))
    return layers


def _score_layer_access(user) -> Access:
    """The score layers show every area: only users whose evaluation scope is `all` read them (the same rule
    as /api/v1/evaluation/); inspectors and handlers, limited there to their own row, get none of them."""
    return Access.FULL if scope_for(user).all else Access.NONE


register_read_policy("evaluation.", _score_layer_access)
