"""Layer versions: every import, edit and rollback of a layer's features becomes a numbered LayerVersion, and its
feature-level changes are kept in FeatureHistory (valid-from/valid-to version ranges; see layers/models/versions.py).

One mechanism for every writer: the writer changes the layer's own table (typed thematic table or GenericFeature)
inside its transaction, then calls `record_version`, which compares the table with the history's open rows (all
of them, or only the features the writer touched) and, in the same transaction, closes the states that changed
or vanished and opens the new ones. Nothing half-written: the history is committed with the data or not at all.
Writers of one layer are serialised by a row lock on the layer (`lock_layer`), which also makes the version
numbers 1..n without gaps.

A layer that already has rows when it is first versioned (the demo data, rows written before versioning)
gets version 1 "baseline" holding them; the write then becomes version 2.

Readers: `state_at` (the layer as of version n), `diff` (added / changed / removed between m and n).
Writers besides the importer: `apply_edits` (an edit session: inserts/updates/deletes by feature id with an
optimistic-concurrency check) and `rollback` (a new version whose features equal version n's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import (
    GEOSException,
    GEOSGeometry,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Polygon,
)
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db import models as dj
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2 import sql

from . import source_filter
from .access import can_write
from .datasets import Dataset, dataset_for_layer
from .extent import outside_city
from .models import FeatureHistory, GenericFeature, Layer, LayerVersion, VersionKind
from .registry import refresh_stats
from .validation import attribute_value_problem, validate_attribute_name

# Cost bounds of the version endpoints and edit sessions (one place; settings may override).
MAX_PAGE = int(getattr(settings, "CITYGIS_VERSIONS_MAX_PAGE", 1000))  # features per page of a version / a diff
DEFAULT_PAGE = 100
MAX_EDITS = int(getattr(settings, "CITYGIS_VERSIONS_MAX_EDITS", 1000))  # operations per edit session
MAX_COMMENT = 500  # LayerVersion.comment
FEW_FEATURES = 2000  # a version touching at most this many features is recorded without temporary tables


class VersionError(ValueError):
    """Bad input to a versioned write or read; `field` names the offending input."""

    def __init__(self, message: str, field: str = "version") -> None:
        super().__init__(message)
        self.field = field


class EditConflict(VersionError):
    """A feature changed since the version the editor read (optimistic concurrency)."""

    def __init__(self, feature_id: int, expected: int, current: int | None) -> None:
        super().__init__(_("要素 %(id)s 已被修改：编辑基于版本 %(expected)s，当前为 %(current)s")
                         % {"id": feature_id, "expected": expected, "current": current if current is not None else "-"},
                         field="expected_versions")
        self.feature_id, self.expected, self.current = feature_id, expected, current


# --- how a layer maps onto its table -------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A versionable layer's table: its key, geometry, the attribute columns (typed) and the layer's rows."""

    layer: Layer
    dataset: Dataset | None  # None: generic (GenericFeature.attributes)
    table: str
    id_column: str
    geom_column: str
    columns: tuple[str, ...] = field(default=())

    def where(self, alias: str = "t") -> tuple[sql.Composable, list[Any]]:
        """The condition selecting the layer's rows of the table (the registry's source filter, on the alias)."""
        if self.dataset is None:
            return sql.SQL("{}.layer_id = %s").format(sql.Identifier(alias)), [self.layer.pk]
        return source_filter.compose(self.layer, alias)

    def attributes(self, alias: str = "t") -> sql.Composable:
        """The row's attributes as jsonb: the JSONB column (generic) or an object of the typed columns."""
        a = sql.Identifier(alias)
        if self.dataset is None:
            return sql.SQL("{}.attributes").format(a)
        pairs = [sql.SQL("{}, {}.{}").format(sql.Literal(c), a, sql.Identifier(c)) for c in self.columns]
        # jsonb_build_object takes at most 100 arguments: join objects of 40 pairs
        parts = [sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i:i + 40]))
                 for i in range(0, len(pairs), 40)] or [sql.SQL("'{}'::jsonb")]
        return sql.SQL(" || ").join(parts)


def source_for(layer: Layer) -> Source:
    """The table behind `layer`, or VersionError when the layer is not versioned (raster, views, domain layers)."""
    if layer.kind != "vector":
        raise VersionError(_("%(layer)s 不是矢量图层，没有版本") % {"layer": layer.name}, field="layer")
    if layer.is_generic:
        return Source(layer, None, GenericFeature._meta.db_table, "id", "geom")
    dataset = dataset_for_layer(layer)
    if dataset is None:
        raise VersionError(_("%(layer)s 的数据不由图层库管理，没有版本") % {"layer": layer.name}, field="layer")
    columns = tuple(f.column for f in dataset.fields())
    return Source(layer, dataset, dataset.table, dataset.model._meta.pk.column,
                  dataset.model._meta.get_field("geom").column, columns)


def is_versioned(layer: Layer) -> bool:
    """True for the layers whose features the registry writes (typed thematic tables and generic layers)."""
    try:
        source_for(layer)
    except VersionError:
        return False
    return True


# --- writing ---------------------------------------------------------------------------------------------------
def lock_layer(layer: Layer) -> None:
    """Serialise the versioned writers of `layer` until the end of the transaction (row lock on the layer).

    Also re-reads the feature count and extent under the lock: an edit session derives the new ones from them."""
    with connection.cursor() as cur:
        cur.execute("SELECT feature_count, extent FROM layers_layer WHERE id = %s FOR UPDATE", [layer.pk])
        row = cur.fetchone()
    if row is not None:
        layer.feature_count = row[0]
        layer.extent = GEOSGeometry(row[1]) if row[1] else None


def latest_number(layer: Layer) -> int:
    """The layer's newest version number (0 before its first version)."""
    return _latest(layer)[0]


def _latest(layer: Layer) -> tuple[int, int | None]:
    """(newest version number, its feature count): (0, None) before the first version."""
    last = LayerVersion.objects.filter(layer=layer).order_by("-number").values_list("number", "feature_count").first()
    return last or (0, None)


def max_feature_id(layer: Layer) -> int:
    """The layer's greatest feature id now (0 when empty): what an append's new rows are above."""
    src = source_for(layer)
    where, params = src.where()
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT COALESCE(max(t.{}), 0) FROM {} t WHERE {}").format(
            sql.Identifier(src.id_column), sql.Identifier(src.table), where), params)
        return int(cur.fetchone()[0])


def ensure_baseline(layer: Layer, user=None) -> LayerVersion | None:
    """Before the first versioned write of a layer that already has rows: version 1 holding them as they are."""
    if LayerVersion.objects.filter(layer=layer).exists():
        return None
    src = source_for(layer)
    where, params = src.where()
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} t WHERE {})").format(sql.Identifier(src.table), where),
                    params)
        if not cur.fetchone()[0]:
            return None
    return record_version(layer, user, VersionKind.BASELINE, _("版本管理启用前的数据"))


def record_version(layer: Layer, user, kind: str, comment: str = "", *, ids: Iterable[int] | None = None,
                   above: int | None = None, restores: int | None = None) -> LayerVersion:
    """Make the layer's next version from what its table holds now (call inside the writer's transaction).

    Only these features were touched, their current rows are compared: `ids`, or every id greater than
    `above` (an append: the new rows); neither: the whole layer (a replace, a rollback).
    The caller holds `lock_layer`. Returns the new LayerVersion with its counts and changed extent.
    """
    src = source_for(layer)
    latest, latest_count = _latest(layer)
    number = latest + 1
    id_list = None if ids is None else sorted({int(i) for i in ids})
    if id_list is not None and latest_count is not None and len(id_list) <= FEW_FEATURES:
        return _record_few(layer, src, user, kind, comment, restores, number, latest_count, id_list)
    table, pk, geom = sql.Identifier(src.table), sql.Identifier(src.id_column), sql.Identifier(src.geom_column)
    where, params = src.where()
    only_live = sql.SQL("")
    only_hist = sql.SQL("")
    if id_list is not None:
        only_live = sql.SQL(" AND t.{} = ANY(%s)").format(pk)
        only_hist = sql.SQL(" AND h.feature_id = ANY(%s)")
    elif above is not None:
        id_list = above  # type: ignore[assignment]  # the one parameter of both conditions
        only_live = sql.SQL(" AND t.{} > %s").format(pk)
        only_hist = sql.SQL(" AND h.feature_id > %s")
    hist_params = [layer.pk] + ([id_list] if id_list is not None else [])
    live_params = params + ([id_list] if id_list is not None else [])
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM layers_featurehistory h WHERE h.layer_id = %s "
                            "AND h.valid_to IS NULL{only})").format(only=only_hist), hist_params)
        if not cur.fetchone()[0]:
            # only additions (a new layer, an append, a baseline): nothing to compare, open every row at once
            cur.execute(sql.SQL(
                "WITH opened AS (INSERT INTO layers_featurehistory (layer_id, feature_id, valid_from, valid_to, "
                "attributes, geom) SELECT %s, t.{pk}, %s, NULL, {attrs}, t.{geom} FROM {table} t WHERE {where}{only} "
                "RETURNING geom) SELECT count(*), ST_AsEWKT(ST_Envelope(ST_Extent(geom)::geometry)) FROM opened"
            ).format(pk=pk, attrs=src.attributes(), geom=geom, table=table, where=where, only=only_live),
                [layer.pk, number, *live_params])
            added, envelope = cur.fetchone()
            cur.execute("SELECT count(*) FROM layers_featurehistory WHERE layer_id = %s AND valid_to IS NULL",
                        [layer.pk])
            return _new_version(layer, number, user, kind, comment, restores, (added, 0, 0),
                                cur.fetchone()[0], envelope)
        cur.execute("DROP TABLE IF EXISTS _version_live, _version_closed")
        # the current rows (of the touched features) as the history stores them
        cur.execute(sql.SQL("CREATE TEMP TABLE _version_live ON COMMIT DROP AS {live}").format(
            live=_live(src, only_live)), live_params)
        cur.execute("CREATE UNIQUE INDEX ON _version_live (fid)")
        cur.execute("ANALYZE _version_live")
        cur.execute("CREATE TEMP TABLE _version_closed (fid bigint PRIMARY KEY, geom geometry) ON COMMIT DROP")
        # close the open states that changed or vanished
        cur.execute(sql.SQL(
            "WITH closed AS (UPDATE layers_featurehistory h SET valid_to = %s "
            "WHERE h.layer_id = %s AND h.valid_to IS NULL{only} AND NOT EXISTS ("
            "  SELECT 1 FROM _version_live c WHERE c.fid = h.feature_id AND c.attributes = h.attributes"
            "  AND c.geom IS NOT DISTINCT FROM h.geom) "
            "RETURNING h.feature_id, h.geom) "
            "INSERT INTO _version_closed SELECT feature_id, geom FROM closed").format(only=only_hist),
            [number, *hist_params])
        # open the new states: current rows without an open state (new, or just closed)
        cur.execute(
            "INSERT INTO layers_featurehistory (layer_id, feature_id, valid_from, valid_to, attributes, geom) "
            "SELECT %s, c.fid, %s, NULL, c.attributes, c.geom FROM _version_live c WHERE NOT EXISTS ("
            "  SELECT 1 FROM layers_featurehistory h WHERE h.layer_id = %s AND h.feature_id = c.fid"
            "  AND h.valid_to IS NULL)", [layer.pk, number, layer.pk])
        cur.execute(
            "SELECT (SELECT count(*) FROM _version_closed x WHERE NOT EXISTS (SELECT 1 FROM _version_live c WHERE c.fid = x.fid)),"
            " (SELECT count(*) FROM _version_closed x WHERE EXISTS (SELECT 1 FROM _version_live c WHERE c.fid = x.fid)),"
            " (SELECT count(*) FROM layers_featurehistory h WHERE h.layer_id = %s AND h.valid_from = %s)",
            [layer.pk, number])
        removed, changed, opened = cur.fetchone()
        cur.execute(
            "SELECT ST_AsEWKT(ST_Envelope(ST_Collect(e))) FROM ("
            " SELECT ST_Envelope(geom) e FROM _version_closed"
            " UNION ALL SELECT ST_Envelope(geom) FROM layers_featurehistory WHERE layer_id = %s AND valid_from = %s) s",
            [layer.pk, number])
        envelope = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM layers_featurehistory WHERE layer_id = %s AND valid_to IS NULL", [layer.pk])
        count = cur.fetchone()[0]
        cur.execute("DROP TABLE _version_live, _version_closed")
    return _new_version(layer, number, user, kind, comment, restores, (opened - changed, changed, removed), count,
                        envelope)


def _record_few(layer: Layer, src: Source, user, kind: str, comment: str, restores: int | None, number: int,
                latest_count: int, id_list: list[int]) -> LayerVersion:
    """record_version for a few touched features after an earlier version: two statements, no temporary tables,
    and the feature count and extent derived from the layer's (read under lock_layer) instead of a table scan.

    First the open states of the touched features that changed or vanished are closed (returning their
    envelopes); then the touched features without an open state (new, or just closed) get one. Two statements,
    not one, so the second sees the first's closings (the one-open-state index holds at every row)."""
    _where, params = src.where()
    live = _live(src, sql.SQL(" AND t.{} = ANY(%s)").format(sql.Identifier(src.id_column)))
    old_extent = layer.extent.ewkt if layer.extent is not None and (layer.feature_count or 0) > 1 else None
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "WITH live AS ({live}), closed AS (UPDATE layers_featurehistory h SET valid_to = %s "
            "WHERE h.layer_id = %s AND h.valid_to IS NULL AND h.feature_id = ANY(%s) AND NOT EXISTS ("
            "  SELECT 1 FROM live c WHERE c.fid = h.feature_id AND c.attributes = h.attributes"
            "  AND c.geom IS NOT DISTINCT FROM h.geom) RETURNING h.feature_id, h.geom) "
            "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM live c WHERE c.fid = x.feature_id)), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM live c WHERE c.fid = x.feature_id)), "
            "ST_XMin(ST_Extent(x.geom)), ST_YMin(ST_Extent(x.geom)), ST_XMax(ST_Extent(x.geom)), "
            "ST_YMax(ST_Extent(x.geom)), "
            # the extent can only shrink when a closed state whose geometry went away reached its border
            "COALESCE(bool_and(x.geom IS NULL OR ST_ContainsProperly(%s::geometry, x.geom) OR EXISTS ("
            "  SELECT 1 FROM live c WHERE c.fid = x.feature_id AND c.geom IS NOT DISTINCT FROM x.geom)), true) "
            "FROM closed x").format(live=live), [*params, id_list, number, layer.pk, id_list, old_extent])
        removed, changed, *closed_box, inside = cur.fetchone()
        cur.execute(sql.SQL(
            "WITH opened AS (INSERT INTO layers_featurehistory (layer_id, feature_id, valid_from, valid_to, "
            "attributes, geom) SELECT %s, c.fid, %s, NULL, c.attributes, c.geom FROM ({live}) c WHERE NOT EXISTS ("
            "  SELECT 1 FROM layers_featurehistory h WHERE h.layer_id = %s AND h.feature_id = c.fid"
            "  AND h.valid_to IS NULL) RETURNING geom) "
            "SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), "
            "ST_YMax(ST_Extent(geom)) FROM opened").format(live=live), [layer.pk, number, *params, id_list, layer.pk])
        opened, *opened_box = cur.fetchone()
    added = opened - changed
    count = latest_count + added - removed
    touched = _union_box(closed_box, opened_box)
    version = _new_version(layer, number, user, kind, comment, restores, (added, changed, removed), count,
                           Polygon.from_bbox(touched).ewkt if touched else None)
    extent = None
    if old_extent is not None and inside and count > 1:  # the old extent grown by the new states: exact
        box = _union_box(layer.extent.extent, opened_box)
        extent = Polygon.from_bbox(box)
        extent.srid = 4490
    version.layer_stats = (count, extent) if extent is not None else None  # refresh_stats(known=…) or a scan
    return version


def _live(src: Source, only: sql.Composable) -> sql.Composable:
    """The layer's current rows (`only` narrows them) as the history stores them: fid, attributes, geom."""
    where, _params = src.where()
    return sql.SQL("SELECT t.{pk}::bigint AS fid, {attrs} AS attributes, t.{geom}::geometry AS geom "
                   "FROM {table} t WHERE {where}{only}").format(
        pk=sql.Identifier(src.id_column), attrs=src.attributes(), geom=sql.Identifier(src.geom_column),
        table=sql.Identifier(src.table), where=where, only=only)


def _union_box(a, b) -> tuple[float, float, float, float] | None:
    boxes = [tuple(x) for x in (a, b) if x is not None and x[0] is not None]
    if not boxes:
        return None
    return (min(x[0] for x in boxes), min(x[1] for x in boxes), max(x[2] for x in boxes), max(x[3] for x in boxes))


def _new_version(layer: Layer, number: int, user, kind: str, comment: str, restores: int | None,
                 counts: tuple[int, int, int], feature_count: int, envelope: str | None) -> LayerVersion:
    extent = None
    if envelope:
        g = GEOSGeometry(envelope)
        extent = g if isinstance(g, Polygon) else Polygon.from_bbox(g.extent)  # a point/line touches a box
        extent.srid = 4490
    added, changed, removed = counts
    return LayerVersion.objects.create(
        layer=layer, number=number, kind=kind, comment=(comment or "")[:MAX_COMMENT],
        created_by=user if getattr(user, "is_authenticated", False) else None,
        rows_added=added, rows_changed=changed, rows_removed=removed, feature_count=feature_count,
        extent=extent, restores=restores)


def match_replaced(layer: Layer, key: str | None = None) -> int:
    """After a replace import (old rows deleted, new rows written): give the new rows that are the same feature as
    an old one the old feature's id, so the version shows them unchanged or changed instead of removed + added.

    Same feature: equal `key` attribute when given (typed layers: their first unique column by default), else
    equal geometry and attributes. Pairs are made only within equal values (in id order), so duplicates pair up
    one to one. Returns how many rows kept an old id.
    """
    src = source_for(layer)
    if key is None and src.dataset is not None:
        key = next((f.column for f in src.dataset.fields() if f.unique), None)
    if key is not None and src.dataset is not None and key not in src.columns:
        raise VersionError(_("未知属性 %(key)s") % {"key": key}, field="key")
    table, pk, geom = sql.Identifier(src.table), sql.Identifier(src.id_column), sql.Identifier(src.geom_column)
    where, params = src.where("n")
    if key is not None:
        live_key = sql.SQL("({}) ->> {}").format(src.attributes("n"), sql.Literal(key))
        hist_key = sql.SQL("h.attributes ->> {}").format(sql.Literal(key))
    else:
        live_key = sql.SQL("md5(({})::text || encode(ST_AsEWKB(n.{}), 'hex'))").format(src.attributes("n"), geom)
        hist_key = sql.SQL("md5(h.attributes::text || encode(ST_AsEWKB(h.geom), 'hex'))")
    query = sql.SQL(
        "WITH old AS (SELECT h.feature_id AS id, {hist_key} AS k,"
        "   row_number() OVER (PARTITION BY {hist_key} ORDER BY h.feature_id) AS rn"
        "   FROM layers_featurehistory h WHERE h.layer_id = %s AND h.valid_to IS NULL"
        "   AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{pk} = h.feature_id)),"
        " new AS (SELECT n.{pk} AS id, {live_key} AS k,"
        "   row_number() OVER (PARTITION BY {live_key} ORDER BY n.{pk}) AS rn"
        "   FROM {table} n WHERE {where}"
        "   AND NOT EXISTS (SELECT 1 FROM layers_featurehistory h WHERE h.layer_id = %s AND h.feature_id = n.{pk}"
        "   AND h.valid_to IS NULL)),"
        " pairs AS (SELECT new.id AS new_id, old.id AS old_id FROM new JOIN old ON old.k = new.k AND old.rn = new.rn"
        "   WHERE new.k IS NOT NULL)"
        " UPDATE {table} t SET {pk} = pairs.old_id FROM pairs WHERE t.{pk} = pairs.new_id").format(
        hist_key=hist_key, live_key=live_key, table=table, pk=pk, where=where)
    with connection.cursor() as cur:
        cur.execute(query, [layer.pk, *params, layer.pk])
        return cur.rowcount


# --- reading ---------------------------------------------------------------------------------------------------
def get_version(layer: Layer, number: int) -> LayerVersion | None:
    return LayerVersion.objects.filter(layer=layer, number=number).select_related("created_by").first()


def _feature(row: tuple) -> dict[str, Any]:
    fid, geometry, attributes = row
    props = json.loads(attributes) if isinstance(attributes, str) else (attributes or {})
    return {"type": "Feature", "id": fid, "geometry": json.loads(geometry) if geometry else None,
            "properties": props}


_VALID_AT = "h.layer_id = %s AND h.valid_from <= %s AND (h.valid_to IS NULL OR h.valid_to > %s)"


def state_at(layer: Layer, number: int, *, limit: int | None = DEFAULT_PAGE, offset: int = 0
             ) -> tuple[int, list[dict[str, Any]]]:
    """(number of features, one page of GeoJSON features ordered by id) of `layer` as of version `number`."""
    params = [layer.pk, number, number]
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM layers_featurehistory h WHERE {_VALID_AT}", params)
        matched = cur.fetchone()[0]
        page = "" if limit is None else " LIMIT %s OFFSET %s"
        cur.execute(f"SELECT h.feature_id, ST_AsGeoJSON(h.geom, 7), h.attributes FROM layers_featurehistory h "
                    f"WHERE {_VALID_AT} ORDER BY h.feature_id{page}",
                    params + ([] if limit is None else [limit, offset]))
        return matched, [_feature(r) for r in cur.fetchall()]


@dataclass
class Diff:
    """Changes from version `start` to `end`: per kind the number of features and one page of them."""

    start: int
    end: int
    counts: dict[str, int]
    features: dict[str, list[dict[str, Any]]]


def diff(layer: Layer, start: int, end: int, *, limit: int | None = DEFAULT_PAGE, offset: int = 0) -> Diff:
    """What changed from version `start` to version `end` (start ≤ end): features added (in `end`, not in `start`),
    changed (in both, other geometry or attributes: their `end` state) and removed (their `start` state)."""
    if start > end:
        raise VersionError(_("from 不能大于版本号"), field="from")
    # states valid at start but not at end, and valid at end but not at start (each feature at most one of each)
    query = (
        "WITH old AS (SELECT * FROM layers_featurehistory h WHERE h.layer_id = %s AND h.valid_from <= %s"
        "   AND h.valid_to > %s AND h.valid_to <= %s),"
        " new AS (SELECT * FROM layers_featurehistory h WHERE h.layer_id = %s AND h.valid_from > %s"
        "   AND h.valid_from <= %s AND (h.valid_to IS NULL OR h.valid_to > %s)),"
        " d AS (SELECT COALESCE(new.feature_id, old.feature_id) AS fid,"
        "   CASE WHEN old.id IS NULL THEN 'added' WHEN new.id IS NULL THEN 'removed' ELSE 'changed' END AS kind,"
        "   CASE WHEN new.id IS NULL THEN old.geom ELSE new.geom END AS geom,"
        "   CASE WHEN new.id IS NULL THEN old.attributes ELSE new.attributes END AS attributes"
        "   FROM old FULL JOIN new ON old.feature_id = new.feature_id"
        "   WHERE old.id IS NULL OR new.id IS NULL OR old.attributes <> new.attributes"
        "   OR old.geom IS DISTINCT FROM new.geom)"
    )
    params = [layer.pk, start, start, end, layer.pk, start, end, end]
    counts = {"added": 0, "changed": 0, "removed": 0}
    features: dict[str, list[dict[str, Any]]] = {k: [] for k in counts}
    with connection.cursor() as cur:
        cur.execute(query + " SELECT kind, count(*) FROM d GROUP BY kind", params)
        counts.update(dict(cur.fetchall()))
        page = "" if limit is None else " AND rn > %s AND rn <= %s"
        cur.execute(query + ", ranked AS (SELECT d.*, row_number() OVER (PARTITION BY kind ORDER BY fid) AS rn FROM d)"
                    " SELECT kind, fid, ST_AsGeoJSON(geom, 7), attributes FROM ranked WHERE TRUE" + page +
                    " ORDER BY kind, fid", params + ([] if limit is None else [offset, offset + limit]))
        for kind, *row in cur.fetchall():
            features[kind].append(_feature(tuple(row)))
    return Diff(start, end, counts, features)


def current_versions(layer: Layer, ids: Sequence[int]) -> dict[int, int]:
    """{feature id → the version its current state dates from} (what an editor sends back as expected_versions)."""
    return dict(FeatureHistory.objects.filter(layer=layer, valid_to__isnull=True, feature_id__in=list(ids))
                .values_list("feature_id", "valid_from"))


# --- rollback --------------------------------------------------------------------------------------------------
def rollback(layer: Layer, user, number: int, comment: str = "") -> LayerVersion:
    """Make a new version whose features equal version `number`'s (ids, geometries, attributes)."""
    if user is not None and not can_write(user, layer):
        raise PermissionError(_("无权写入图层 %(layer)s") % {"layer": layer.name})
    src = source_for(layer)
    with transaction.atomic():
        lock_layer(layer)
        if get_version(layer, number) is None:
            raise VersionError(_("版本 %(n)s 不存在") % {"n": number}, field="version")
        table, pk, geom = sql.Identifier(src.table), sql.Identifier(src.id_column), sql.Identifier(src.geom_column)
        where, params = src.where()
        target = sql.SQL("SELECT h.* FROM layers_featurehistory h WHERE " + _VALID_AT)
        tparams = [layer.pk, number, number]
        touched: set[int] = set()
        with connection.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {table} t WHERE {where} AND NOT EXISTS ("
                                "SELECT 1 FROM ({target}) s WHERE s.feature_id = t.{pk}) RETURNING t.{pk}").format(
                table=table, where=where, target=target, pk=pk), params + tparams)
            touched.update(r[0] for r in cur.fetchall())
            if src.dataset is None:
                set_values = sql.SQL("attributes = s.attributes, geom = s.geom, updated_at = now()")
                insert = sql.SQL("INSERT INTO {table} (id, layer_id, geom, attributes, created_at, updated_at) "
                                 "SELECT s.feature_id, %s, s.geom, s.attributes, now(), now() FROM ({target}) s "
                                 "WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE x.id = s.feature_id) "
                                 "RETURNING id").format(table=table, target=target)
                iparams = [layer.pk, *tparams]
                changed_attrs = sql.SQL("t.attributes <> s.attributes")
            else:
                cols = sql.SQL(", ").join(sql.Identifier(c) for c in src.columns)
                rcols = sql.SQL(", ").join(sql.SQL("(r).{}").format(sql.Identifier(c)) for c in src.columns)
                set_values = sql.SQL("({cols}) = (SELECT {rcols} FROM (SELECT jsonb_populate_record(NULL::{table}, "
                                     "s.attributes) AS r) p), {geom} = s.geom, updated_at = now()").format(
                    cols=cols, rcols=rcols, table=table, geom=geom)
                insert = sql.SQL("INSERT INTO {table} ({pk}, {geom}, {cols}, updated_at) "
                                 "SELECT s.feature_id, s.geom, {rcols}, now() FROM ("
                                 "SELECT s.*, jsonb_populate_record(NULL::{table}, s.attributes) AS r "
                                 "FROM ({target}) s) s "
                                 "WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{pk} = s.feature_id) "
                                 "RETURNING {pk}").format(table=table, pk=pk, geom=geom, cols=cols, rcols=rcols,
                                                          target=target)
                iparams = tparams
                changed_attrs = sql.SQL("({}) <> s.attributes").format(src.attributes())
            cur.execute(sql.SQL("UPDATE {table} t SET {set_values} FROM ({target}) s WHERE s.feature_id = t.{pk} "
                                "AND {where} AND ({changed} OR t.{geom} IS DISTINCT FROM s.geom) "
                                "RETURNING t.{pk}").format(table=table, set_values=set_values, target=target, pk=pk,
                                                           where=where, changed=changed_attrs, geom=geom),
                        tparams + params)
            touched.update(r[0] for r in cur.fetchall())
            cur.execute(insert, iparams)
            touched.update(r[0] for r in cur.fetchall())
        version = record_version(layer, user, VersionKind.ROLLBACK,
                                 comment or _("回滚到版本 %(n)s") % {"n": number}, ids=touched, restores=number)
        refresh_stats(layer, bbox=version.extent.extent if version.extent else None,
                      known=getattr(version, "layer_stats", None))
    return version


# --- edit sessions ---------------------------------------------------------------------------------------------
def _edit_geometry(value: Any, layer: Layer, dataset: Dataset | None, where: str) -> GEOSGeometry:
    """A GeoJSON geometry (EPSG:4490 lon/lat) of the layer's family, valid, multi-promoted for a multi column."""
    if not isinstance(value, dict):
        raise VersionError(_("必须是 GeoJSON 几何对象"), field=where)
    try:
        geom = GEOSGeometry(json.dumps(value))
        geom.srid = 4490  # GeoJSON reads as 4326; our API's GeoJSON is CGCS2000 lon/lat
    except (GEOSException, ValueError, TypeError) as exc:
        raise VersionError(_("无法解析几何：%(e)s") % {"e": str(exc)[:80]}, field=where) from exc
    family = geom.geom_type.upper().removeprefix("MULTI")
    wanted = dataset.geometry_type if dataset else layer.geometry_type
    if family != wanted:
        raise VersionError(_("几何类型不符：要求 %(w)s，得到 %(g)s") % {"w": wanted, "g": geom.geom_type}, field=where)
    if geom.empty or not geom.valid:
        raise VersionError(_("无效几何：%(r)s") % {"r": geom.valid_reason}, field=where)
    x0, y0, x1, y1 = geom.extent
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise VersionError(_("坐标超出经纬度范围"), field=where)
    if dataset is not None and dataset.multi and not geom.geom_type.startswith("Multi"):
        geom = {"POINT": MultiPoint, "LINESTRING": MultiLineString}.get(family, MultiPolygon)(geom, srid=4490)
    elif dataset is not None and not dataset.multi and geom.geom_type.startswith("Multi"):
        if len(geom) != 1:
            raise VersionError(_("图层要求单部件几何"), field=where)
        geom = geom[0]
    return geom


def _inside_city(geoms: list[tuple[str, GEOSGeometry]]) -> None:
    """Refuse the first edited geometry that leaves the city's outline (layers.extent), naming its edit."""
    flags = outside_city([g for _field, g in geoms]) or []
    for (where, _g), outside in zip(geoms, flags, strict=False):
        if outside:
            raise VersionError(_("几何超出市域范围（各区县的合并范围）"), field=where)


def _typed_values(dataset: Dataset, props: Any, where: str, partial: bool) -> dict[str, Any]:
    """{field name → python value} of an edit's properties, checked like an import checks a row."""
    if not isinstance(props, dict):
        raise VersionError(_("必须是对象"), field=where)
    fields = {f.column: f for f in dataset.fields()} | {f.name: f for f in dataset.fields()}
    values = {}
    for name, raw in props.items():
        f = fields.get(name)
        if f is None:
            raise VersionError(_("未知属性 %(name)s") % {"name": str(name)[:40]}, field=f"{where}.{str(name)[:40]}")
        try:
            # null is "no value" (an empty form field): an optional field's empty text or its default
            if raw is None and not f.null and f.blank and isinstance(f, (dj.CharField, dj.TextField)):
                value = ""
            elif raw is None and not f.null and f.has_default():
                value = f.get_default()
            else:
                value = f.to_python(raw)
            if isinstance(value, str):
                problem = attribute_value_problem(value)
                if problem:
                    raise ValidationError(problem)
            if value is not None or not f.null:
                f.run_validators(value)
            if f.choices and value not in (None, "") and str(value) not in {str(c) for c, _l in f.flatchoices}:
                raise ValidationError(_("取值不在可选范围内"))
            if value is None and not f.null:
                raise ValidationError(_("不能为空"))
        except ValidationError as exc:
            raise VersionError("; ".join(exc.messages), field=f"{where}.{name}") from exc
        values[f.name] = value
    if not partial:
        missing = [n for n in dataset.required() if n not in values]
        if missing:
            raise VersionError(_("缺少必填字段：%(v)s") % {"v": ", ".join(missing)}, field=where)
    return values


def _json_kind(value: Any) -> str:
    """The kind of a JSON attribute value as layers.exporter's key scan tells them apart."""
    if value is None or isinstance(value, bool):
        return repr(value) if value is None else "bool"
    if isinstance(value, (int, float)):
        return "int" if float(value).is_integer() else "float"
    return "str" if isinstance(value, str) else "other"


def _same_kinds(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when `new` has exactly `old`'s keys, each with a value of the same kind (the layer's schema stays)."""
    return old.keys() == new.keys() and all(_json_kind(old[k]) == _json_kind(new[k]) for k in old)


def _generic_values(props: Any, where: str) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise VersionError(_("必须是对象"), field=where)
    for name, value in props.items():
        try:
            validate_attribute_name(str(name))
        except ValidationError as exc:
            raise VersionError("; ".join(exc.messages), field=f"{where}.{str(name)[:40]}") from exc
        if isinstance(value, str) and attribute_value_problem(value):
            raise VersionError(attribute_value_problem(value), field=f"{where}.{name}")
        if isinstance(value, (dict, list)):
            raise VersionError(_("属性值必须是文本、数字、布尔值或空"), field=f"{where}.{name}")
    return dict(props)


def apply_edits(layer: Layer, user, edits: Sequence[dict[str, Any]], comment: str = "",
                expected_versions: dict[int, int] | None = None) -> LayerVersion:
    """Apply an edit session to `layer` as one new version, all or nothing.

    `edits`: [{"op": "insert", "geometry": {...}, "properties": {...}},
              {"op": "update", "id": 7, "geometry"?: {...}, "properties"?: {...}},   (properties merge)
               ("replace": true: the properties replace the feature's whole set, unnamed fields to defaults)
              {"op": "delete", "id": 8}]
    `expected_versions`: {feature id → the version the editor's copy dates from} (layers.versions.current_versions);
    a feature that changed since raises EditConflict and nothing is written. Raises VersionError (its `field`
    names the edit, e.g. "edits[2].geometry") or PermissionError.
    """
    if user is not None and not can_write(user, layer):
        raise PermissionError(_("无权写入图层 %(layer)s") % {"layer": layer.name})
    src = source_for(layer)
    if not edits:
        raise VersionError(_("没有编辑操作"), field="edits")
    if len(edits) > MAX_EDITS:
        raise VersionError(_("一次最多 %(n)s 个编辑操作") % {"n": MAX_EDITS}, field="edits")
    expected = {int(k): int(v) for k, v in (expected_versions or {}).items()}
    model = src.dataset.model if src.dataset else GenericFeature
    where_sql, where_params = src.where()
    # check every edit before anything is written; the writes are then a few bulk statements
    for i, edit in enumerate(edits):
        if not isinstance(edit, dict) or edit.get("op") not in ("insert", "update", "delete"):
            raise VersionError(_("op 取 insert、update 或 delete"), field=f"edits[{i}].op")
        if edit["op"] != "insert" and (not isinstance(edit.get("id"), int) or isinstance(edit.get("id"), bool)):
            raise VersionError(_("必须是要素编号（整数）"), field=f"edits[{i}].id")
    referenced = sorted({e["id"] for e in edits if e["op"] != "insert"})
    with transaction.atomic():
        lock_layer(layer)
        ensure_baseline(layer, user)
        current = current_versions(layer, list(expected))
        for fid, version in expected.items():
            if current.get(fid) != version:
                raise EditConflict(fid, version, current.get(fid))
        with connection.cursor() as cur:  # the layer's features the session names, locked until the commit
            cur.execute(sql.SQL("SELECT t.{pk} FROM {table} t WHERE t.{pk} = ANY(%s) AND {where} FOR UPDATE").format(
                pk=sql.Identifier(src.id_column), table=sql.Identifier(src.table), where=where_sql),
                [referenced, *where_params])
            existing = {r[0] for r in cur.fetchall()}
        objects = model.objects.in_bulk([fid for fid in referenced if fid in existing])
        inserts: list[Any] = []
        deleted: set[int] = set()
        changed_fields: set[str] = set()
        new_geoms: list[tuple[str, GEOSGeometry]] = []  # (field, geometry): checked against the city at once
        # a typed layer's attributes are its columns; a generic layer's keys and kinds stay when every edit is an
        # update giving each key a value of the kind it had (what the services' schemas are derived from)
        kinds_kept = src.dataset is not None or not any(e["op"] != "update" for e in edits)
        for i, edit in enumerate(edits):
            at = f"edits[{i}]"
            if edit["op"] == "insert":
                geom = _edit_geometry(edit.get("geometry"), layer, src.dataset, f"{at}.geometry")
                new_geoms.append((f"{at}.geometry", geom))
                if src.dataset is None:
                    inserts.append(GenericFeature(layer=layer, geom=geom, attributes=_generic_values(
                        edit.get("properties", {}), f"{at}.properties")))
                else:
                    inserts.append(model(geom=geom, **_typed_values(src.dataset, edit.get("properties", {}),
                                                                     f"{at}.properties", partial=False)))
                continue
            fid = edit["id"]
            if fid not in objects or fid in deleted:
                raise VersionError(_("要素 %(id)s 不存在") % {"id": fid}, field=f"{at}.id")
            if edit["op"] == "delete":
                deleted.add(fid)
                continue
            obj = objects[fid]
            if "geometry" in edit:
                obj.geom = _edit_geometry(edit["geometry"], layer, src.dataset, f"{at}.geometry")
                new_geoms.append((f"{at}.geometry", obj.geom))
                changed_fields.add("geom")
            if "properties" in edit:
                replace = bool(edit.get("replace"))  # the properties are the whole new set (OGC API PUT)
                if src.dataset is None:
                    given = _generic_values(edit["properties"], f"{at}.properties")
                    new_attributes = given if replace else {**obj.attributes, **given}
                    kinds_kept = kinds_kept and _same_kinds(obj.attributes, new_attributes)
                    obj.attributes = new_attributes
                    changed_fields.add("attributes")
                else:
                    values = _typed_values(src.dataset, edit["properties"], f"{at}.properties", partial=not replace)
                    if replace:  # a field not given returns to its default, as on an insert
                        values = {f.name: f.get_default() for f in src.dataset.fields()} | values
                    for name, value in values.items():
                        setattr(obj, name, value)
                        changed_fields.add(name)
        _inside_city(new_geoms)
        try:
            updated = [obj for fid, obj in objects.items() if fid not in deleted]
            if updated and changed_fields:
                now = timezone.now()
                for obj in updated:
                    obj.updated_at = now
                model.objects.bulk_update(updated, sorted(changed_fields | {"updated_at"}), batch_size=500)
            if deleted:
                model.objects.filter(pk__in=deleted).delete()
            created = model.objects.bulk_create(inserts, batch_size=500)
        except IntegrityError as exc:  # e.g. a unique code already taken
            raise VersionError(_("与已有要素冲突：%(e)s") % {"e": str(exc).splitlines()[0][:200]}, field="edits") from exc
        touched = [*objects, *(obj.pk for obj in created)]
        version = record_version(layer, user, VersionKind.EDIT, comment, ids=touched)
        refresh_stats(layer, bbox=version.extent.extent if version.extent else None,
                      known=getattr(version, "layer_stats", None), attributes_kept=kinds_kept)
    return version
