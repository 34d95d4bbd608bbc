"""The feature SQL of /items: one query per page, each feature built as GeoJSON text by PostGIS.

The layer's rows come from the registry's own fragment (layers.registry.layer_from_sql: its table or view and
its source filter), the properties from its published columns (layers.features.attribute_columns) or its
JSONB attributes (generic layers) — the same reading as the REST features API and export. Conditions (row
filter of layers.access, bbox, datetime, property equality, CQL2) are psycopg2.sql compositions with
parameters. A page is `ORDER BY id LIMIT/OFFSET` (never the whole layer), aggregated into one text value by
`string_agg`, so Python only concatenates. Every statement runs under a transaction-local statement_timeout.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import psycopg2.errors
from django.db import DataError, InternalError, OperationalError, ProgrammingError, connection, transaction
from psycopg2 import sql

from layers.registry import layer_from_sql
from tileserver import limits

from . import crs as crs_module
from .collections import Property, Schema
from .cql import Compiler, Fragment
from .problems import Problem

log = logging.getLogger(__name__)
_JSON_ARGS = 50  # json_build_object takes at most 100 arguments: 50 key/value pairs
_COUNT_SECONDS = 15
_counts: dict[tuple, tuple[float, int]] = {}
_counts_lock = threading.Lock()


@dataclass
class ItemsQuery:
    """A checked /items request."""

    schema: Schema
    out_crs: crs_module.Crs = crs_module.CRS84
    rows: tuple[str, list] | None = None
    bbox: tuple[list[float], crs_module.Crs] | None = None
    datetime: tuple[str | None, str | None] | None = None  # ISO texts, None = open end; equal ends = instant
    equals: dict[str, str] = field(default_factory=dict)
    cql: Fragment | None = None
    cql_parameter: str = "filter"
    limit: int = 10
    offset: int = 0


def geometry_sql(schema: Schema, out: crs_module.Crs) -> sql.Composable:
    """GeoJSON text of the geometry in `out`, in `out`'s axis order."""
    expr: sql.Composable = sql.Identifier(schema.geom_column)
    if out.srid not in (4490, 4326):  # CGCS2000 → WGS 84 is PROJ's identity: no per-feature transform
        expr = sql.SQL("ST_Transform({}, {})").format(expr, sql.Literal(out.srid))
    if out.north_first:
        expr = sql.SQL("ST_FlipCoordinates({})").format(expr)
    return sql.SQL("ST_AsGeoJSON({}, {})").format(expr, sql.Literal(out.digits))


def _properties_sql(schema: Schema) -> sql.Composable:
    if schema.generic:
        return sql.SQL("attributes")
    names = list(schema.properties)
    if not names:
        return sql.SQL("'{}'::jsonb")
    chunks = []
    for start in range(0, len(names), _JSON_ARGS):
        pairs = [sql.SQL("{}, {}").format(sql.Literal(n), sql.Identifier(n)) for n in names[start:start + _JSON_ARGS]]
        chunks.append(sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs)))
    if len(chunks) == 1:
        return sql.SQL("json_build_object({})").format(
            sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(n), sql.Identifier(n)) for n in names))
    return sql.SQL(" || ").join(chunks)


def feature_sql(schema: Schema, out: crs_module.Crs) -> sql.Composable:
    """One feature as GeoJSON text."""
    return sql.SQL("json_build_object('type', 'Feature', 'id', {pk}, 'geometry', {geom}::json, "
                   "'properties', {props})::text").format(
        pk=sql.Identifier(schema.id_column), geom=geometry_sql(schema, out), props=_properties_sql(schema))


def _from(schema: Schema) -> sql.Composable:
    # The registry's fragment is validated identifiers plus an admin-set filter that may hold a literal %.
    return sql.SQL(layer_from_sql(schema.layer).replace("%", "%%"))


def _envelope(coords: list[float], box_crs: crs_module.Crs) -> Fragment:
    minx, miny, maxx, maxy = crs_module.to_xy(box_crs, coords)
    env = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(sql.Literal(box_crs.srid))
    if box_crs.srid in (4490, 4326):
        return sql.SQL("ST_SetSRID({}, 4490)").format(env), [minx, miny, maxx, maxy]
    return sql.SQL("ST_Transform({}, 4490)").format(env), [minx, miny, maxx, maxy]


def typed_value(prop: Property, value: str, parameter: str) -> tuple[sql.Composable, list]:
    """A query-string value as a parameter of the property's type; 400 naming `parameter` when it is not one."""
    try:
        if prop.type == "integer":
            return sql.Placeholder(), [int(value)]
        if prop.type == "number":
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return sql.Placeholder(), [number]
        if prop.type == "boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError
            return sql.Placeholder(), [value.lower() == "true"]
        if prop.format == "date-time":
            return sql.SQL("%s::timestamptz"), [dt.datetime.fromisoformat(value).isoformat()]
        if prop.format == "date":
            return sql.SQL("%s::date"), [dt.date.fromisoformat(value).isoformat()]
    except ValueError:
        raise Problem(400, f"{parameter}: {value[:50]!r} is not a{'n' if prop.type == 'integer' else ''} "
                           f"{prop.format or prop.type}", parameter) from None
    return sql.Placeholder(), [value]


def where(query: ItemsQuery) -> Fragment:
    """The conditions of `query` (after the registry's own), as `AND …`/`WHERE …` to append to the FROM."""
    schema = query.schema
    compiler = Compiler(schema, crs_module.CRS84)
    parts: list[sql.Composable] = []
    params: list = []
    if query.rows is not None:
        parts.append(sql.SQL(query.rows[0]))
        params += list(query.rows[1])
    if query.bbox is not None:
        env, env_params = _envelope(*query.bbox)
        parts.append(sql.SQL("ST_Intersects({}, {})").format(sql.Identifier(schema.geom_column), env))
        params += env_params
    if query.datetime is not None and schema.temporal is not None:
        prop = schema.properties[schema.temporal]
        column = compiler.property_sql(prop)
        start, end = query.datetime
        cast = sql.SQL("%s::date" if prop.format == "date" and _is_date(start) and _is_date(end) else
                       "%s::timestamptz")
        if start is not None and start == end:
            parts.append(sql.SQL("{} = {}").format(column, cast))
            params.append(start)
        else:
            if start is not None:
                parts.append(sql.SQL("{} >= {}").format(column, cast))
                params.append(start)
            if end is not None:
                parts.append(sql.SQL("{} <= {}").format(column, cast))
                params.append(end)
    for name, value in query.equals.items():
        prop = schema.properties[name] if name != schema.id_column else Property(name, schema.id_type)
        value_sql, value_params = typed_value(prop, value, name)
        parts.append(sql.SQL("{} = {}").format(compiler.property_sql(prop), value_sql))
        params += value_params
    if query.cql is not None:
        parts.append(query.cql[0])
        params += query.cql[1]
    if not parts:
        return sql.SQL(""), []
    joined = sql.SQL(" AND ").join(sql.SQL("({})").format(p) for p in parts)
    glue = " AND " if schema.layer.source_where else " WHERE "  # layer_from_sql has a WHERE only with a filter
    return sql.SQL(glue) + joined, params


def _is_date(value: str | None) -> bool:
    return value is None or len(value) == 10


def _run(statement: sql.Composable, params: list, blame: str) -> tuple:
    """Execute one statement under CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS and return its single row."""
    connection.ensure_connection()
    text = statement.as_string(connection.connection)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            # SET LOCAL: the timeout ends with this transaction, never stays on a pooled connection.
            cur.execute("SELECT set_config('statement_timeout', %s, true)", [f"{limits.ogcapi_statement_timeout_ms()}ms"])
            cur.execute(text, params)
            return cur.fetchone()
    except OperationalError as exc:
        if isinstance(exc.__cause__, psycopg2.errors.QueryCanceled):
            raise Problem(503, "the query exceeded its time limit; narrow it with bbox, filter or a smaller limit",
                          retry_after=5) from None
        raise  # a lost database: the outage middleware's 503
    except (DataError, InternalError, ProgrammingError) as exc:
        # Values PostGIS or PostgreSQL refuse (a broken geometry literal, a date out of range, 1/0): the
        # client's input, since identifiers and types were checked before. Logged in case it is ours.
        log.warning("OGC API query refused by the database (%s): %s", blame, str(exc).splitlines()[0][:300])
        raise Problem(400, f"{blame}: the database could not evaluate this value", blame) from None


def page(query: ItemsQuery) -> tuple[str, int]:
    """(features joined by commas, how many) of one page."""
    condition, params = where(query)
    # The page's rows are chosen in the inner query and only they are turned into GeoJSON: with the projection
    # on the same level as OFFSET, PostgreSQL would build (and throw away) the skipped rows' GeoJSON too.
    statement = sql.SQL(
        "SELECT count(*)::int, coalesce(string_agg(f, ',' ORDER BY k), '') FROM ("
        "SELECT {pk} AS k, {feature} AS f FROM (SELECT * {src}{cond} ORDER BY {pk} LIMIT %s OFFSET %s) AS rows"
        ") AS page"
    ).format(pk=sql.Identifier(query.schema.id_column), feature=feature_sql(query.schema, query.out_crs),
             src=_from(query.schema), cond=condition)
    returned, body = _run(statement, [*params, query.limit, query.offset], query.cql_parameter)
    return body, returned


def matched(query: ItemsQuery) -> int:
    """numberMatched: a count with the same conditions, remembered for a few seconds per layer version so that
    a client paging through a layer pays for one count, not one per page."""
    condition, params = where(query)
    statement = sql.SQL("SELECT count(*) {src}{cond}").format(src=_from(query.schema), cond=condition)
    layer = query.schema.layer
    key = (layer.pk, layer.last_update, layer.updated_at, repr(condition), repr(params))
    now = time.monotonic()
    hit = _counts.get(key)
    if hit is not None and now - hit[0] < _COUNT_SECONDS:
        return hit[1]
    (count,) = _run(statement, params, query.cql_parameter)
    with _counts_lock:
        if len(_counts) > 1000:
            _counts.clear()
        _counts[key] = (now, int(count))
    return int(count)


def one(schema: Schema, rows: tuple[str, list] | None, feature_id: str, out: crs_module.Crs) -> str | None:
    """The GeoJSON text of feature `feature_id` (None when it does not exist or the row filter hides it)."""
    if "\x00" in feature_id or len(feature_id) > 200:
        return None
    if schema.id_type == "integer" and not (feature_id.isascii() and feature_id.lstrip("-").isdigit()
                                            and abs(int(feature_id)) < 2 ** 63):
        return None
    condition, params = where(ItemsQuery(schema=schema, out_crs=out, rows=rows,
                                         equals={schema.id_column: feature_id}))
    statement = sql.SQL("SELECT {feature} {src}{cond}").format(feature=feature_sql(schema, out),
                                                              src=_from(schema), cond=condition)
    row = _run(statement, params, "featureId")
    return None if row is None else row[0]
