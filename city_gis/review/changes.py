"""Farmland change monitoring (耕地"非农化"): cultivated land (GB/T 21010 01xx) in an earlier land-use layer that
is another class in a later one — to construction (05–10) or to other land — per community, in m² (EPSG:4544).

One set-based statement overlays the two layers; each change patch is attributed to the community holding its
point on surface (outside the gridded communities: its district, marked 社区外). The patches of the latest run
are published as `land.farmland_changes` (exportable like every layer); the run keeps the totals by community
and destination class. Both layers must be readable by the caller (layers.access.can_read). Runs as the job
kind `review.farmland_change`.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _
from psycopg2 import sql

from layers.access import can_read
from layers.models import Layer

from .engine import (
    RulesetBroken,
    data_version,
    filter_sql,
    require_columns,
    ruleset_layer,
    table_sql,
    valid_geom,
)
from .models import ChangeRun
from .redline import RedlineError
from .rules import Ruleset, get_ruleset

LAYER = "land.farmland_changes"
TABLE = "review_farmlandchange"
CULTIVATED = ("01",)  # GB/T 21010-2017 01 耕地 (two-digit major classes, compared with left(code, 2))
# Two layers that tile the same land rarely share every vertex: their overlay leaves hairline strips along
# common edges. A patch whose mean width (2 × area / perimeter) is below this is such a strip, not a change.
SLIVER_WIDTH_M = 1.0
CONSTRUCTION = ("05", "06", "07", "08", "09", "10")  # 商服, 工矿仓储, 住宅, 公共管理与公共服务, 特殊, 交通运输


def readable_layer(name: str, field: str, user) -> Layer:
    """The vector layer `name` for the request field `field`, or RedlineError: a layer the user may not read is
    reported as missing, like one that does not exist. The API checks a request with it before queuing the job."""
    try:
        layer = ruleset_layer(name)
    except RulesetBroken:
        raise RedlineError(field, _("没有矢量图层 %(layer)s") % {"layer": name}) from None
    if user is not None and not can_read(user, layer):
        raise RedlineError(field, _("没有矢量图层 %(layer)s") % {"layer": name})  # invisible = missing
    return layer


def change_sql(before, after, code: str, name: str) -> sql.Composable:
    """INSERT of the change patches of run %(run)s (cultivated in `before`, another class in `after`)."""
    bg, ag = sql.Identifier("b", before.geom_column), sql.Identifier("a", after.geom_column)
    return sql.SQL("""
        INSERT INTO {table} (run_id, community_code, community_name, from_code, from_name, to_code, to_name, to_group,
                             area_m2, geom)
        SELECT %(run)s, coalesce(c.code, ''), coalesce(c.name, d.name || '（社区外）', '（市域外）'),
               b.{code}, b.{name}, a.{code}, a.{name},
               CASE WHEN left(a.{code}, 2) = ANY(%(construction)s) THEN 'construction' ELSE 'other' END,
               round(o.area::numeric, 2), ST_Multi(o.ix)
        FROM {btable} b
        JOIN {atable} a ON ST_Intersects({bg}, {ag}) AND NOT left(a.{code}, 2) = ANY(%(cultivated)s) AND ({afilter})
        CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection({bvalid}, {avalid}), 3) AS ix) i
        CROSS JOIN LATERAL (SELECT i.ix, ST_Area(ST_Transform(i.ix, 4544)) AS area,
                                   ST_Perimeter(ST_Transform(i.ix, 4544)) AS perimeter, ST_PointOnSurface(i.ix) AS p) o
        LEFT JOIN LATERAL (SELECT code, name FROM grid_community WHERE ST_Intersects(geom, o.p) ORDER BY code LIMIT 1) c ON TRUE
        LEFT JOIN LATERAL (SELECT name FROM grid_district WHERE ST_Intersects(geom, o.p) ORDER BY code LIMIT 1) d ON TRUE
        WHERE left(b.{code}, 2) = ANY(%(cultivated)s) AND ({bfilter}) AND o.area > %(sliver)s
              AND o.area > o.perimeter * %(width)s / 2
    """).format(table=sql.Identifier(TABLE), code=sql.Identifier(code), name=sql.Identifier(name),
                btable=table_sql(before), atable=table_sql(after), bg=bg, ag=ag, bvalid=valid_geom(bg), avalid=valid_geom(ag),
                afilter=filter_sql(after), bfilter=filter_sql(before))


def register_changes_layer(owner) -> None:
    from layers.models import Layer
    from layers.registry import refresh_stats, register_layer

    existing = Layer.objects.filter(name=LAYER).first()
    if existing is not None:
        refresh_stats(existing)
        return
    register_layer(
        LAYER, owner=owner, kind="vector", geometry_type="POLYGON", source_table=TABLE,
        title_zh="耕地变化图斑", title_en="Cultivated land changes",
        abstract="两期土地利用现状对比：原为耕地（01 类）、现为建设用地或其他地类的图斑，按社区统计（最近一次监测）。",
        keywords=["国土", "耕地保护", "非农化", "变化监测"],
        attribute_columns=["community_code", "community_name", "from_code", "from_name", "to_code", "to_name",
                           "to_group", "area_m2"],
        style={"fill": "#e31a1c", "stroke": "#67000d", "stroke_width": 0.8, "opacity": 70, "classify_by": "to_group",
               "classes": [{"value": "construction", "label": "耕地转为建设用地", "fill": "#e31a1c"},
                           {"value": "other", "label": "耕地转为其他地类", "fill": "#fdae61"}]},
        classification="internal", update_frequency="irregular", cacheable=False, sort_order=40)


def farmland_changes(before: str, after: str, user=None, ruleset: Ruleset | None = None) -> ChangeRun:
    """Compare `before` and `after` (registry names of GB/T 21010-coded layers); store and publish the run.
    RedlineError names `before`/`after` for a missing or unreadable layer, or one without the code columns."""
    ruleset = ruleset or get_ruleset()
    code, name = ruleset.composition["code_field"], ruleset.composition["name_field"]
    if before == after:
        raise RedlineError("after", _("两期图层相同"))
    layers = {"before": readable_layer(before, "before", user), "after": readable_layer(after, "after", user)}
    for field, layer in layers.items():
        try:
            require_columns(layer, [code, name])
        except RulesetBroken:
            raise RedlineError(field, _("图层 %(layer)s 没有地类编码列 %(code)s/%(name)s")
                               % {"layer": layer.name, "code": code, "name": name}) from None
    with transaction.atomic():
        with connection.cursor() as cur:  # the previous run, in SQL: the ORM's cascade would load every row first
            cur.execute("DELETE FROM review_farmlandchange")
            cur.execute("DELETE FROM review_changerun")
        run = ChangeRun.objects.create(author=user if getattr(user, "is_authenticated", False) else None,
                                       before_layer=before, after_layer=after,
                                       data_versions={layer.name: data_version(layer) for layer in layers.values()})
        with connection.cursor() as cur:
            cur.execute(change_sql(layers["before"], layers["after"], code, name), {"run": run.pk, "sliver": ruleset.sliver_m2,
                                                                           "width": SLIVER_WIDTH_M, "cultivated": list(CULTIVATED),
                                                                           "construction": list(CONSTRUCTION)})
            cur.execute("""SELECT community_code, community_name, to_group, to_code, to_name, count(*), sum(area_m2)
                           FROM review_farmlandchange WHERE run_id = %s
                           GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4""", [run.pk])
            rows = cur.fetchall()
        run.summary = [{"community_code": c, "community_name": n, "to_group": g, "to_code": tc, "to_name": tn,
                        "patches": k, "area_m2": round(float(a), 2)} for c, n, g, tc, tn, k, a in rows]
        run.changes = sum(r["patches"] for r in run.summary)
        run.area_m2 = round(sum(r["area_m2"] for r in run.summary), 2)
        run.save(update_fields=["summary", "changes", "area_m2"])
        register_changes_layer(layers["before"].owner)
    return run


def run_json(run: ChangeRun | None) -> dict[str, Any]:
    """The API's view of a run (None: no run yet)."""
    if run is None:
        return {"run": None, "started_at": None, "before": "", "after": "", "changes": 0, "area_m2": 0.0,
                "by_community": [], "layer": LAYER}
    return {"run": run.pk, "started_at": run.started_at, "before": run.before_layer, "after": run.after_layer,
            "changes": run.changes, "area_m2": run.area_m2, "by_community": run.summary, "layer": LAYER}
