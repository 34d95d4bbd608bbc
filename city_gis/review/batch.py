"""Batch review: every zoning plot against the rule set's `batch_rules` (farmland, ecological redline) in one
set-based statement per rule; the conflicts are stored as a run and published as `planning.review_conflicts`.

Areas as in a single review: ST_Area(ST_Transform(ST_Intersection(plot, feature), 4544)), an overlap at or
below max(tolerance, sliver) is none. A run replaces the previous one in one transaction (the layer never shows
half a run). Runs as the background job kind `review.batch` (city_gis/review/jobkinds.py).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import InternalError, connection, transaction
from psycopg2 import sql

from layers.access import can_read

from .engine import data_version, filter_sql, ruleset_layer, table_sql, valid_geom
from .models import BatchRun
from .rules import Ruleset, get_ruleset

LAYER = "planning.review_conflicts"
TABLE = "review_batchconflict"


def _zoning(ruleset: Ruleset, layers: dict | None = None):
    rule = next((r for r in ruleset.rules if r.kind == "zoning"), None)
    if rule is None:
        raise ValueError("the rule set has no zoning rule: the batch review has no plots to check")
    return rule, _cached_layer(rule.layer, layers)


def _cached_layer(name: str, layers: dict | None):
    if layers is None:
        return ruleset_layer(name)
    if name not in layers:
        layers[name] = ruleset_layer(name)
    return layers[name]


def overlay_sql(ruleset: Ruleset, rule_id: str, *, insert: bool, repair: bool = False,
                layers: dict | None = None) -> tuple[sql.Composable, dict]:
    """The set-based overlay of the zoning plots with rule `rule_id`'s layer (as an INSERT into the conflicts
    table when `insert`, else a SELECT of the same rows). With `repair`, invalid geometries are made valid per
    pair (ST_IsValid of a large polygon for every plot meeting it would double the cost: only the retry pays it)."""
    zoning_rule, zoning = _zoning(ruleset, layers)
    rule = next(r for r in ruleset.rules if r.id == rule_id)
    layer = _cached_layer(rule.layer, layers)
    zg, fg = sql.Identifier("z", zoning.geom_column), sql.Identifier("f", layer.geom_column)
    code = sql.SQL("f.{}::text").format(sql.Identifier(rule.fields["code"])) if "code" in rule.fields else sql.SQL("''")
    select = sql.SQL("""
        SELECT %(run)s, z.{zcode}, z.{zclass}, %(rule)s, %(title)s, %(severity)s, {code}, o.a,
               round((100 * o.a / NULLIF(ST_Area(ST_Transform(z.{zgeom}, 4544)), 0))::numeric, 2),
               ST_Multi(ST_CollectionExtract(o.ix, 3))
        FROM {ztable} z
        JOIN {ftable} f ON ST_Intersects({zg}, {fg})
        CROSS JOIN LATERAL (SELECT ST_Intersection({zvalid}, {fvalid}) AS ix) i
        CROSS JOIN LATERAL (SELECT i.ix, ST_Area(ST_Transform(i.ix, 4544)) AS a) o
        WHERE {zfilter} AND {ffilter} AND o.a > %(tolerance)s
    """).format(
        zcode=sql.Identifier(zoning_rule.fields["code"]), zclass=sql.Identifier(zoning_rule.fields["class"]),
        zgeom=sql.Identifier(zoning.geom_column), code=code, ztable=table_sql(zoning), ftable=table_sql(layer), zg=zg, fg=fg,
        zvalid=valid_geom(zg) if repair else zg, fvalid=valid_geom(fg) if repair else fg,
        zfilter=filter_sql(zoning), ffilter=filter_sql(layer),
    )
    if insert:
        select = sql.SQL("INSERT INTO {t} (run_id, plot_code, plot_use, rule, rule_title, severity, feature_code, "
                         "area_m2, pct, geom) ").format(t=sql.Identifier(TABLE)) + select
    return select, {"rule": rule.id, "title": rule.title, "severity": rule.severity,
                    "tolerance": max(rule.tolerance_m2, ruleset.sliver_m2)}


def register_conflicts_layer() -> None:
    """`planning.review_conflicts`, owned by the zoning layer's owner, showing the latest run."""
    from layers.models import Layer
    from layers.registry import refresh_stats, register_layer

    zoning = Layer.objects.filter(name="planning.zoning").select_related("owner").first()
    existing = Layer.objects.filter(name=LAYER).first()
    if existing is not None:
        refresh_stats(existing)
        return
    if zoning is None:
        return
    register_layer(
        LAYER, owner=zoning.owner, kind="vector", geometry_type="POLYGON", source_table=TABLE,
        title_zh="控规地块与控制线冲突", title_en="Zoning plots in conflict with control lines",
        abstract="批量合规性审查：控规地块与永久基本农田、生态保护红线的重叠部分（最近一次审查）。",
        keywords=["规划", "合规性审查", "三区三线"],
        attribute_columns=["plot_code", "plot_use", "rule", "rule_title", "severity", "feature_code", "area_m2", "pct"],
        style={"fill": "#d7191c", "stroke": "#67000d", "stroke_width": 1.0, "opacity": 70, "classify_by": "rule",
               "classes": [{"value": "farmland", "label": "占用永久基本农田", "fill": "#d7191c"},
                           {"value": "eco_redline", "label": "占用生态保护红线", "fill": "#7b3294"}]},
        classification="internal", update_frequency="irregular", cacheable=False, sort_order=90)


def batch_review(user=None, ruleset: Ruleset | None = None,
                 progress: Callable[[int], None] | None = None) -> BatchRun:
    """Check every zoning plot against the batch rules; store the run (replacing the previous one) and
    publish it. A rule whose layer `user` may not read is skipped and named in the summary."""
    ruleset = ruleset or get_ruleset()
    layers: dict = {}  # registry rows, looked up once per run
    _rule, zoning = _zoning(ruleset, layers)
    with transaction.atomic():
        with connection.cursor() as cur:  # the previous run, in SQL: the ORM's cascade would load every row first
            cur.execute("DELETE FROM review_batchconflict")
            cur.execute("DELETE FROM review_batchrun")
        run = BatchRun.objects.create(author=user if getattr(user, "is_authenticated", False) else None,
                                      ruleset_version=ruleset.version)
        summary: dict[str, dict] = {}
        versions = {zoning.name: data_version(zoning)}
        for k, rule_id in enumerate(ruleset.batch_rules):
            rule = next(r for r in ruleset.rules if r.id == rule_id)
            layer = _cached_layer(rule.layer, layers)
            if user is not None and not can_read(user, layer):
                summary[rule_id] = {"status": "not_checked", "layer": layer.name}
                continue
            query, params = overlay_sql(ruleset, rule_id, insert=True, layers=layers)
            try:
                with transaction.atomic(), connection.cursor() as cur:  # a savepoint: the retry starts clean
                    cur.execute(query, {**params, "run": run.pk})
            except InternalError:  # GEOS refused an invalid stored geometry: the same overlay, repairing
                query, params = overlay_sql(ruleset, rule_id, insert=True, repair=True, layers=layers)
                with connection.cursor() as cur:
                    cur.execute(query, {**params, "run": run.pk})
            with connection.cursor() as cur:
                cur.execute("SELECT count(*), count(DISTINCT plot_code), coalesce(sum(area_m2), 0) FROM review_batchconflict "
                            "WHERE run_id = %s AND rule = %s", [run.pk, rule_id])
                n, plots, area = cur.fetchone()
            summary[rule_id] = {"status": "checked", "layer": layer.name, "conflicts": n, "plots": plots,
                                "area_m2": round(float(area), 2)}
            versions[layer.name] = data_version(layer)
            if progress:
                progress(int(90 * (k + 1) / max(len(ruleset.batch_rules), 1)))
        run.plots = versions[zoning.name]["rows"]
        run.conflicts = sum(s.get("conflicts", 0) for s in summary.values())
        run.summary, run.data_versions = summary, versions
        run.save(update_fields=["plots", "conflicts", "summary", "data_versions"])
        register_conflicts_layer()
    return run
