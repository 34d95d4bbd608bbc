"""The review engine: a checked redline and a proposal, run through the rule set in PostGIS.

Every area is computed in the database as ST_Area(ST_Transform(ST_Intersection(feature, redline), 4544)) —
intersection on the stored geometry, area in CGCS2000 / GK CM 105E metres. An overlap at or below the rule's
tolerance (and below the rule set's sliver size) is no conflict. A rule whose layer the author may not read in
full (layers.access.can_read) is reported `not_checked` with the reason, never silently passed and never
leaking the layer's features. The data versions read (per layer: rows, latest update) are returned with the
results, so a stored review can be re-run and compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import shapely
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2 import sql
from shapely.geometry import MultiPolygon

from layers import source_filter
from layers.access import can_read
from layers.models import Layer
from layers.registry import table_columns

from . import limits
from .redline import RedlineError
from .rules import Rule, Ruleset, use_classes, use_compatible


@dataclass(frozen=True)
class Proposal:
    """What the project proposes: GB 50137 use class, floor-area ratio and building height (m)."""

    use_class: str
    far: float
    height_m: float


def check_proposal(use_class: object, far: object, height_m: object) -> Proposal:
    """A validated proposal; RedlineError naming `use_class`, `far` or `height_m` otherwise."""
    table = use_classes()
    if not isinstance(use_class, str) or use_class not in table:
        raise RedlineError("use_class", _("未知用地性质 %(v)s（GB 50137-2011 代码，如 R2、B1、M1）") % {"v": str(use_class)[:20]})
    values = {}
    for name, value, high in (("far", far, limits.FAR_MAX), ("height_m", height_m, limits.HEIGHT_MAX_M)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RedlineError(name, _("必须是数字")) from None
        if not 0 <= number <= high:  # NaN fails both comparisons
            raise RedlineError(name, _("必须在 0 到 %(high)g 之间") % {"high": high})
        values[name] = number
    return Proposal(use_class, values["far"], values["height_m"])


class RulesetBroken(RuntimeError):
    """The rule set names a layer or column that does not exist (an operator error, not the client's)."""


def ruleset_layer(name: str) -> Layer:
    """The registered vector layer a rule set names (with its owner), or RulesetBroken: the one lookup of the
    review's layers (rules, batch overlay, farmland changes)."""
    layer = Layer.objects.select_related("owner").filter(name=name, kind="vector").first()
    if layer is None or not layer.source_table:
        raise RulesetBroken(f"rule set layer {name!r} is not a registered vector layer")
    return layer


def table_sql(layer: Layer) -> sql.Composable:
    """The layer's source table as a quoted SQL identifier (`schema.table` split into its parts)."""
    return sql.Identifier(*layer.source_table.split("."))


def _where(layer: Layer, alias: str | None = None) -> tuple[sql.Composable, dict[str, Any]]:
    # the registry's row filter of the layer with named parameters, composed by layers.source_filter
    return source_filter.compose_named(layer, alias)


def filter_sql(layer: Layer) -> sql.Composable:
    """The registry's row filter of the layer with driver-quoted literals (layers.source_filter), for statements
    composed before their parameters (the batch overlay, farmland changes)."""
    return source_filter.as_composable(layer, connection)


@lru_cache(maxsize=128)
def _table_columns(table: str) -> frozenset[str]:
    # a table's columns change only with a migration (a restart): asking information_schema once per rule
    # and review costs more than some rules themselves
    return frozenset(c for c, _t, _u in table_columns(table))


def require_columns(layer: Layer, wanted: list[str]) -> None:
    """RulesetBroken naming the first column of `wanted` the layer's source table lacks (an operator error)."""
    have = _table_columns(layer.source_table)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise RulesetBroken(f"layer {layer.name}: no column {missing[0]!r} in {layer.source_table}")


def valid_geom(column: sql.Composable) -> sql.Composable:
    """The geometry `column`, repaired on the fly (ST_MakeValid) where GEOS finds it invalid: an invalid stored
    geometry would make ST_Intersection raise."""
    return sql.SQL("CASE WHEN ST_IsValid({c}) THEN {c} ELSE ST_MakeValid({c}) END").format(c=column)


def data_version(layer: Layer) -> dict[str, Any]:
    """Rows and latest feature update of `layer` now, with the registry's last_update."""
    has_updated = "updated_at" in _table_columns(layer.source_table)
    where, params = _where(layer)
    query = sql.SQL("SELECT count(*), {m} FROM {t} WHERE {f}").format(
        m=sql.SQL("max(updated_at)") if has_updated else sql.SQL("NULL"), t=table_sql(layer), f=where)
    with connection.cursor() as cur:
        cur.execute(query, params)
        rows, latest = cur.fetchone()
    return {"rows": rows, "latest_update": latest.isoformat() if latest else None,
            "layer_last_update": layer.last_update.isoformat() if layer.last_update else None}


def _overlaps(layer: Layer, rule_fields: dict[str, str], where: dict | None, wkb: bytes) -> list[dict[str, Any]]:
    """Features of `layer` meeting the redline with the area (m², 4544) of the overlap, largest first."""
    keys = [k for k in ("code", "class", "name", "holder", "far_max", "height_max") if k in rule_fields]
    require_columns(layer, [rule_fields[k] for k in keys] + ([where["field"]] if where else []))
    geom = sql.Identifier("t", layer.geom_column)
    cond = sql.SQL("TRUE")
    where_sql, params = _where(layer, "t")
    params["r"] = wkb
    if where:
        cond = sql.SQL("({})").format(sql.SQL(" OR ").join(
            sql.SQL("{col} LIKE %(p{i})s").format(col=sql.Identifier("t", where["field"]), i=sql.SQL(str(i)))
            for i in range(len(where["prefixes"]))))
        params.update({f"p{i}": p.replace("%", "").replace("_", "") + "%" for i, p in enumerate(where["prefixes"])})
    query = sql.SQL("""
        WITH r AS (SELECT ST_SetSRID(ST_GeomFromWKB(%(r)s), 4490) AS g)
        SELECT * FROM (
            SELECT t.{id} AS id, {cols}, ST_Area(ST_Transform(ST_Intersection({valid}, r.g), 4544)) AS area,
                   ST_AsGeoJSON(ST_Intersection({valid}, r.g), 7) AS geometry
            FROM {table} t, r
            WHERE ST_Intersects({geom}, r.g) AND {filter} AND {cond}
        ) o ORDER BY area DESC, id
    """).format(
        id=sql.Identifier(layer.id_column), table=table_sql(layer), geom=geom, valid=valid_geom(geom), filter=where_sql,
        cond=cond,
        cols=sql.SQL(", ").join([sql.SQL("t.{} AS {}").format(sql.Identifier(rule_fields[k]), sql.Identifier(k)) for k in keys]
                                or [sql.SQL("NULL AS _none")]),
    )
    with connection.cursor() as cur:
        cur.execute(query, params)
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        row["geometry"] = json.loads(row["geometry"]) if row["geometry"] else None
        row.pop("_none", None)
        row["area_m2"] = round(float(row.pop("area")), 2)
        for k in ("code", "class", "name", "holder"):
            if k in row and row[k] is not None:
                row[k] = str(row[k])
    return rows


def _outside_area(layer: Layer, wkb: bytes) -> tuple[float, list[dict[str, Any]]]:
    """Area (m², 4544) of the redline outside the union of `layer`'s polygons, and the zones it meets."""
    geom = sql.Identifier("t", layer.geom_column)
    where, params = _where(layer, "t")
    query = sql.SQL("""
        WITH r AS (SELECT ST_SetSRID(ST_GeomFromWKB(%(r)s), 4490) AS g),
             u AS (SELECT ST_Union({valid}) AS g FROM {table} t, r WHERE ST_Intersects({geom}, r.g) AND {filter})
        SELECT ST_Area(ST_Transform(CASE WHEN u.g IS NULL THEN r.g ELSE ST_Difference(r.g, u.g) END, 4544)),
               ST_AsGeoJSON(CASE WHEN u.g IS NULL THEN r.g ELSE ST_Difference(r.g, u.g) END, 7)
        FROM r, u
    """).format(table=table_sql(layer), geom=geom, valid=valid_geom(geom), filter=where)
    with connection.cursor() as cur:
        cur.execute(query, {**params, "r": wkb})
        area, outside = cur.fetchone()
    return round(float(area or 0.0), 2), ([{"geometry": json.loads(outside)}] if area and area > 0 else [])


def _feature_out(row: dict[str, Any], owner: str) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "code", "class", "name", "holder", "area_m2") if k in row}
    out["owner"] = owner
    return out


def _pct(area: float, total: float) -> float:
    return round(100.0 * area / total, 2) if total else 0.0


def run_rule(rule: Rule, ruleset: Ruleset, layer: Layer, wkb: bytes, total: float, proposal: Proposal) -> dict[str, Any]:
    """One rule's verdict: status pass / fail / not_applicable, areas, % of the redline, features."""
    owner = layer.owner.name_zh
    base = {"id": rule.id, "title": rule.title, "kind": rule.kind, "layer": layer.name, "layer_title": layer.title_zh,
            "owner": owner, "severity": rule.severity, "advice": rule.advice, "conflict_area_m2": 0.0,
            "conflict_pct": 0.0, "feature_count": 0, "features": [], "geometries": []}
    tolerance = max(rule.tolerance_m2, ruleset.sliver_m2)
    cap = limits.max_features()
    if rule.kind == "overlap":
        rows = [r for r in _overlaps(layer, rule.fields, rule.where, wkb) if r["area_m2"] > tolerance]
        area = round(sum(r["area_m2"] for r in rows), 2)
        return {**base, "status": "fail" if rows else "pass", "conflict_area_m2": area, "conflict_pct": _pct(area, total),
                "feature_count": len(rows), "features": [_feature_out(r, owner) for r in rows[:cap]],
                "geometries": [r["geometry"] for r in rows[:cap]]}
    if rule.kind == "outside":
        if rule.urban_only and not use_classes()[proposal.use_class].urban:
            return {**base, "status": "not_applicable", "reason": _("非城镇建设用地，不适用")}
        area, geoms = _outside_area(layer, wkb)
        pct = _pct(area, total)
        fail = pct > rule.tolerance_pct and area > ruleset.sliver_m2
        inside = [r for r in _overlaps(layer, rule.fields, None, wkb) if r["area_m2"] > ruleset.sliver_m2]
        return {**base, "status": "fail" if fail else "pass", "conflict_area_m2": area if fail else 0.0,
                "outside_area_m2": area, "conflict_pct": pct if fail else 0.0, "outside_pct": pct,
                "feature_count": len(inside), "features": [_feature_out(r, owner) for r in inside[:cap]],
                "geometries": [g["geometry"] for g in geoms] if fail else []}
    # zoning: the proposal against every plot the redline covers beyond a sliver
    plots = [r for r in _overlaps(layer, rule.fields, None, wkb) if r["area_m2"] > ruleset.sliver_m2]
    if not plots:
        return {**base, "status": "not_applicable", "reason": _("红线不在控规地块范围内")}
    features, failing, geoms = [], 0.0, []
    for plot in plots:
        klass = plot.get("class") or ""
        far_max, height_max = plot.get("far_max"), plot.get("height_max")
        checks = {
            "use_ok": use_compatible(proposal.use_class, klass, rule.compatible),
            "far_ok": far_max is None or proposal.far <= float(far_max) + 1e-9,
            "height_ok": height_max is None or proposal.height_m <= float(height_max) + 1e-9,
        }
        ok = all(checks.values())
        if not ok:
            failing += plot["area_m2"]
            geoms.append(plot["geometry"])
        features.append({**_feature_out(plot, owner), "far_max": far_max, "height_max": height_max, **checks, "ok": ok})
    failing = round(failing, 2)
    covered = round(sum(p["area_m2"] for p in plots), 2)
    return {**base, "status": "fail" if failing else "pass", "conflict_area_m2": failing, "conflict_pct": _pct(failing, total),
            "covered_pct": _pct(covered, total), "feature_count": len(plots), "features": features[:cap],
            "geometries": geoms[:cap]}


def composition(ruleset: Ruleset, layer: Layer, wkb: bytes, total: float) -> list[dict[str, Any]]:
    """Land-use status of the redline: area (m², 4544) and % per GB/T 21010 class, largest first."""
    spec = ruleset.composition
    require_columns(layer, [spec["code_field"], spec["name_field"]])
    geom = sql.Identifier("t", layer.geom_column)
    where, params = _where(layer, "t")
    query = sql.SQL("""
        WITH r AS (SELECT ST_SetSRID(ST_GeomFromWKB(%(r)s), 4490) AS g)
        SELECT code, name, sum(a) AS area FROM (
            SELECT t.{code}::text AS code, t.{name}::text AS name,
                   ST_Area(ST_Transform(ST_Intersection({valid}, r.g), 4544)) AS a
            FROM {table} t, r WHERE ST_Intersects({geom}, r.g) AND {filter}
        ) x GROUP BY code, name HAVING sum(a) > %(sliver)s ORDER BY area DESC, code
    """).format(code=sql.Identifier(spec["code_field"]), name=sql.Identifier(spec["name_field"]), valid=valid_geom(geom),
                table=table_sql(layer), geom=geom, filter=where)
    with connection.cursor() as cur:
        cur.execute(query, {**params, "r": wkb, "sliver": ruleset.sliver_m2})
        rows = cur.fetchall()
    return [{"code": c, "name": n, "area_m2": round(float(a), 2), "pct": _pct(float(a), total)} for c, n, a in rows]


def evaluate(redline: MultiPolygon, area_m2: float, proposal: Proposal, ruleset: Ruleset, user) -> dict[str, Any]:
    """Run every rule for `user` (whose read rights decide which layers are checked); returns
    {"results": {...}, "data_versions": {...}} — deterministic for the same inputs and data."""
    wkb = shapely.to_wkb(redline)
    layers = {name: ruleset_layer(name) for name in ruleset.layers()}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = %s", [limits.statement_timeout_ms()])
        rules = []
        for rule in ruleset.rules:
            layer = layers[rule.layer]
            if not can_read(user, layer):
                rules.append({"id": rule.id, "title": rule.title, "kind": rule.kind, "layer": layer.name,
                              "layer_title": layer.title_zh, "owner": layer.owner.name_zh, "severity": rule.severity,
                              "advice": rule.advice, "status": "not_checked", "conflict_area_m2": 0.0,
                              "conflict_pct": 0.0, "feature_count": 0, "features": [], "geometries": [],
                              "reason": _("无权读取图层 %(layer)s，未审查") % {"layer": layer.name}})
                continue
            rules.append(run_rule(rule, ruleset, layer, wkb, area_m2, proposal))
        comp_layer = layers[ruleset.composition["layer"]]
        comp = composition(ruleset, comp_layer, wkb, area_m2) if can_read(user, comp_layer) else []
        versions = {name: data_version(layer) for name, layer in layers.items()}
    blocking = any(r["status"] == "fail" and r["severity"] == "blocking" for r in rules)
    warning = any(r["status"] in ("fail", "not_checked") for r in rules)
    outcome = "blocking" if blocking else "warning" if warning else "pass"
    return {"results": {"outcome": outcome, "redline_area_m2": round(area_m2, 2), "rules": rules, "landuse": comp},
            "data_versions": versions}


def redline_geojson(redline: MultiPolygon) -> dict[str, Any]:
    """The redline as a GeoJSON geometry (lon/lat, EPSG:4490)."""
    return json.loads(shapely.to_geojson(redline))


def create_review(*, user, redline: MultiPolygon, area_m2: float, proposal: Proposal, ruleset: Ruleset,
                  source: str, title: str = "", inputs: dict[str, Any] | None = None):
    """Evaluate and store a review (one transaction: a failure stores nothing); returns it with its number."""
    from .models import Review
    from .redline import to_geos

    area_m2 = round(area_m2, 2)  # the stored figure every percentage (and a re-run) divides by
    with transaction.atomic():
        outcome = evaluate(redline, area_m2, proposal, ruleset, user)
        now = timezone.now()
        review = Review.objects.create(
            number=f"tmp-{now.timestamp():.6f}"[:20], author=user, department_id=user.department_id, title=title,
            source=source, redline=to_geos(redline), redline_area_m2=round(area_m2, 2),
            use_class=proposal.use_class, far=proposal.far, height_m=proposal.height_m, inputs=inputs or {},
            ruleset_version=ruleset.version, ruleset=ruleset.document, data_versions=outcome["data_versions"],
            outcome=outcome["results"]["outcome"], results=outcome["results"],
        )
        review.number = f"GH-{timezone.localtime(review.created_at).year}-{review.pk:06d}"
        type(review).objects.filter(pk=review.pk).update(number=review.number)
    return review


def rerun(review) -> dict[str, Any]:
    """Evaluate a stored review again with its own inputs and rule set document: {"results", "data_versions",
    "same_data"} — with the same data versions the results equal the stored ones."""
    from .rules import parse_ruleset

    redline = shapely.from_wkb(bytes(review.redline.wkb))
    proposal = Proposal(review.use_class, review.far, review.height_m)
    outcome = evaluate(redline, review.redline_area_m2, proposal, parse_ruleset(review.ruleset), review.author)
    return {**outcome, "same_data": outcome["data_versions"] == review.data_versions}
