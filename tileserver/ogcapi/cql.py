"""CQL2 filters (Part 3): text and JSON parsed by pygeofilter, the AST compiled here to psycopg2.sql.

The compiler never writes input into SQL: property names must be queryables of the collection (its published
columns, or JSONB keys of a generic layer) and become quoted identifiers; every literal becomes a parameter.
Supported: = <> < <= > >=, LIKE / NOT LIKE (CASEI → ILIKE), IN, BETWEEN, IS [NOT] NULL, AND/OR/NOT,
arithmetic + - * / on numbers, CASEI(); S_INTERSECTS, S_WITHIN, S_CONTAINS, S_DISJOINT, S_TOUCHES,
S_CROSSES, S_OVERLAPS, S_EQUALS and BBOX with geometry literals (WKT or GeoJSON, in `filter-crs`);
comparisons of date/time properties with DATE()/TIMESTAMP() and T_AFTER, T_BEFORE, T_EQUALS, T_INTERSECTS,
T_DURING, T_DISJOINT. Anything else is a 400 naming `filter`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from psycopg2 import sql
from pygeofilter import ast, values

from . import crs as crs_module
from .collections import GEOMETRY_PROPERTY, Property, Schema
from .problems import Problem

LANGS = ("cql2-text", "cql2-json")
MAX_NODES = 500  # predicates, operands and list items of one filter
Fragment = tuple[sql.Composable, list]

_COMPARISONS = {ast.ComparisonOp.EQ: "=", ast.ComparisonOp.NE: "<>", ast.ComparisonOp.LT: "<",
                ast.ComparisonOp.LE: "<=", ast.ComparisonOp.GT: ">", ast.ComparisonOp.GE: ">="}
_SPATIAL = {ast.SpatialComparisonOp.INTERSECTS: "ST_Intersects", ast.SpatialComparisonOp.DISJOINT: "ST_Disjoint",
            ast.SpatialComparisonOp.CONTAINS: "ST_Contains", ast.SpatialComparisonOp.WITHIN: "ST_Within",
            ast.SpatialComparisonOp.TOUCHES: "ST_Touches", ast.SpatialComparisonOp.CROSSES: "ST_Crosses",
            ast.SpatialComparisonOp.OVERLAPS: "ST_Overlaps", ast.SpatialComparisonOp.EQUALS: "ST_Equals"}
_ARITHMETIC = {ast.ArithmeticOp.ADD: "+", ast.ArithmeticOp.SUB: "-", ast.ArithmeticOp.MUL: "*",
               ast.ArithmeticOp.DIV: "/"}
_NUMERIC = ("integer", "number")


def _bad(message: str) -> Problem:
    return Problem(400, f"filter: {message}", "filter")


def _normalise_json(node: Any) -> Any:
    """CQL2 JSON as the final standard writes it, in the shapes pygeofilter 0.4 reads: `between` with three
    arguments, and `{"bbox": [...]}` as a polygon (pygeofilter would read its numbers in the wrong order)."""
    if isinstance(node, list):
        return [_normalise_json(n) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"}:
        box = node["bbox"]
        if not (isinstance(box, list) and len(box) in (4, 6) and all(_is_number(v) for v in box)):
            raise _bad("a bbox literal is 4 (or 6) numbers")
        minx, miny, maxx, maxy = (box[0], box[1], box[2], box[3]) if len(box) == 4 else (box[0], box[1], box[3],
                                                                                        box[4])
        return {"type": "Polygon", "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy],
                                                    [minx, miny]]]}
    out = {k: _normalise_json(v) for k, v in node.items()}
    if out.get("op") == "between" and isinstance(out.get("args"), list) and len(out["args"]) == 3:
        out["args"] = [out["args"][0], out["args"][1:]]
    if isinstance(out.get("op"), str):
        op = out["op"]
        out["op"] = "isNull" if op.lower() == "isnull" else op.lower()
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse(text: str, lang: str) -> ast.Node:
    """The AST of a filter; 400 naming `filter` when it does not parse."""
    try:
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            try:
                document = json.loads(text)
            except ValueError as exc:
                raise _bad(f"not JSON ({exc})") from None
            return parse_json(_normalise_json(document))
        from pygeofilter.parsers.cql2_text import parse as parse_text

        # pygeofilter's grammar skips spaces only: tabs and line breaks (multi-line filters) read as spaces.
        return parse_text(text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
    except Problem:
        raise
    except Exception as exc:  # lark's errors, and pygeofilter's ValueError/TypeError/KeyError on odd JSON
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _bad(f"not valid {lang}: {message[:200]}") from None


class Compiler:
    """Compiles one filter for one collection; `filter_crs` is the CRS of its geometry literals."""

    def __init__(self, schema: Schema, filter_crs: crs_module.Crs) -> None:
        self.schema = schema
        self.filter_crs = filter_crs
        self.nodes = 0

    # --- entry point ---------------------------------------------------------------------------------------
    def condition(self, node: ast.Node) -> Fragment:
        """A boolean SQL condition for `node`."""
        self._count()
        if isinstance(node, ast.And):
            return self._join("AND", node.lhs, node.rhs)
        if isinstance(node, ast.Or):
            return self._join("OR", node.lhs, node.rhs)
        if isinstance(node, ast.Not):
            inner, params = self.condition(node.sub_node)
            return sql.SQL("(NOT {})").format(inner), params
        if isinstance(node, ast.Include):
            return sql.SQL("FALSE" if node.not_ else "TRUE"), []
        if isinstance(node, ast.Comparison):
            return self._comparison(_COMPARISONS[node.op], node.lhs, node.rhs)
        if isinstance(node, ast.Between):
            return self._between(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.In):
            return self._in(node)
        if isinstance(node, ast.IsNull):
            expr, params, _kind = self.scalar(node.lhs)
            return sql.SQL("({} IS NOT NULL)" if node.not_ else "({} IS NULL)").format(expr), params
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self._spatial(_SPATIAL[node.op], node.lhs, node.rhs)
        if isinstance(node, ast.BBox):
            return self._spatial("ST_Intersects", node.lhs, self._envelope([node.minx, node.miny, node.maxx,
                                                                            node.maxy]))
        if isinstance(node, ast.TemporalPredicate):
            return self._temporal(node)
        if isinstance(node, ast.Attribute):
            expr, params, kind = self.scalar(node)
            if kind != "boolean":
                raise _bad(f"property {node.name} is not a boolean and cannot stand alone as a condition")
            return sql.SQL("({} IS TRUE)").format(expr), params
        raise _bad(f"{type(node).__name__} is not supported (see /ogcapi/conformance and docs)")

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _bad(f"more than {MAX_NODES} terms")

    def _join(self, op: str, lhs: ast.Node, rhs: ast.Node) -> Fragment:
        left, lp = self.condition(lhs)
        right, rp = self.condition(rhs)
        return sql.SQL("({} " + op + " {})").format(left, right), lp + rp

    # --- scalars -------------------------------------------------------------------------------------------
    def _property(self, name: str) -> Property:
        if name == self.schema.id_column:
            return Property(name, self.schema.id_type)
        found = self.schema.properties.get(name)
        if found is None:
            if name in (GEOMETRY_PROPERTY, self.schema.geom_column):
                raise _bad(f"the geometry property {name} is only usable in spatial predicates")
            known = ", ".join(sorted(self.schema.properties)) or "none"
            raise Problem(400, f"filter: unknown property {name[:100]!r}; queryables: {known}", "filter")
        return found

    def property_sql(self, prop: Property) -> sql.Composable:
        """The SQL of a property: a quoted column, or a typed read of a JSONB key of a generic layer."""
        if not prop.generic:
            return sql.Identifier(prop.name)
        key = sql.Literal(prop.name)
        if prop.type in _NUMERIC:
            return sql.SQL("(CASE WHEN jsonb_typeof(attributes -> {k}) = 'number' "
                           "THEN (attributes ->> {k})::numeric END)").format(k=key)
        if prop.type == "boolean":
            return sql.SQL("(CASE WHEN jsonb_typeof(attributes -> {k}) = 'boolean' "
                           "THEN (attributes ->> {k})::boolean END)").format(k=key)
        return sql.SQL("(attributes ->> {k})").format(k=key)

    def scalar(self, node: Any) -> tuple[sql.Composable, list, str]:
        """(SQL, parameters, kind) of an operand; kinds are JSON Schema types, `date`/`date-time` for temporal
        values and `literal-string` for a string literal (typed by what it is compared with)."""
        self._count()
        if isinstance(node, ast.Attribute):
            prop = self._property(node.name)
            return self.property_sql(prop), [], prop.format or prop.type
        if isinstance(node, ast.Function):
            if node.name.lower() == "lower" and len(node.arguments) == 1:  # CASEI()
                expr, params, kind = self.scalar(node.arguments[0])
                if kind not in ("string", "literal-string"):
                    raise _bad("CASEI takes a string")
                return sql.SQL("lower({})").format(expr), params, kind
            raise _bad(f"function {node.name[:50]!r} is not supported")
        if isinstance(node, ast.Arithmetic):
            left, lp, lk = self.scalar(node.lhs)
            right, rp, rk = self.scalar(node.rhs)
            if lk not in _NUMERIC or rk not in _NUMERIC:
                raise _bad("arithmetic needs numbers")
            return sql.SQL("({} " + _ARITHMETIC[node.op] + " {})").format(left, right), lp + rp, "number"
        if isinstance(node, bool):
            return sql.Placeholder(), [node], "boolean"
        if isinstance(node, int):
            return sql.Placeholder(), [node], "integer"
        if isinstance(node, float):
            return sql.Placeholder(), [node], "number"
        if isinstance(node, str):
            return sql.Placeholder(), [node], "literal-string"
        if isinstance(node, dt.datetime):
            return sql.SQL("{}::timestamptz").format(sql.Placeholder()), [node.isoformat()], "date-time"
        if isinstance(node, dt.date):
            return sql.SQL("{}::date").format(sql.Placeholder()), [node.isoformat()], "date"
        raise _bad(f"{type(node).__name__} is not a value this server compares")

    def _typed_pair(self, lhs: Any, rhs: Any) -> tuple[sql.Composable, list, sql.Composable, list]:
        left, lp, lk = self.scalar(lhs)
        right, rp, rk = self.scalar(rhs)
        lk, left, lp = self._coerce(lk, left, lp, rk)
        rk, right, rp = self._coerce(rk, right, rp, lk)
        compatible = (lk == rk or (lk in _NUMERIC and rk in _NUMERIC)
                      or {lk, rk} <= {"date", "date-time"})
        if not compatible:
            raise _bad(f"cannot compare {_shown(lk)} with {_shown(rk)}")
        return left, lp, right, rp

    @staticmethod
    def _coerce(kind: str, expr: sql.Composable, params: list, other: str) -> tuple[str, sql.Composable, list]:
        """A string literal takes the type of what it is compared with (dates from ISO text; numbers refused)."""
        if kind != "literal-string":
            return kind, expr, params
        if other in ("date", "date-time"):
            try:
                value = dt.datetime.fromisoformat(params[0]) if other == "date-time" else dt.date.fromisoformat(
                    params[0])
            except ValueError:
                raise _bad(f"{params[0][:50]!r} is not an ISO 8601 {other}") from None
            cast = "timestamptz" if other == "date-time" else "date"
            return other, sql.SQL("{}::" + cast).format(sql.Placeholder()), [value.isoformat()]
        if other in _NUMERIC or other == "boolean":
            raise _bad(f"{params[0][:50]!r} is a string, the property is a {other}")
        return "string", expr, params

    def _comparison(self, op: str, lhs: Any, rhs: Any) -> Fragment:
        left, lp, right, rp = self._typed_pair(lhs, rhs)
        return sql.SQL("({} " + op + " {})").format(left, right), lp + rp

    def _between(self, node: ast.Between) -> Fragment:
        low, lowp = self._comparison(">=", node.lhs, node.low)
        high, highp = self._comparison("<=", node.lhs, node.high)
        template = "(NOT ({} AND {}))" if node.not_ else "({} AND {})"
        return sql.SQL(template).format(low, high), lowp + highp

    def _like(self, node: ast.Like) -> Fragment:
        expr, params, kind = self.scalar(node.lhs)
        if kind != "string":
            raise _bad("LIKE applies to string properties")
        if not isinstance(node.pattern, str):
            raise _bad("the LIKE pattern must be a string")
        op = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        # CQL2's wildcards (% and _) and escape (\) are PostgreSQL's own.
        return sql.SQL("({} " + op + " {})").format(expr, sql.Placeholder()), params + [node.pattern]

    def _in(self, node: ast.In) -> Fragment:
        if not node.sub_nodes:
            return sql.SQL("TRUE" if node.not_ else "FALSE"), []
        parts, params = [], []
        left, lp, _kind = self.scalar(node.lhs)
        for item in node.sub_nodes:
            _l, _lp, right, rp = self._typed_pair(node.lhs, item)
            parts.append(right)
            params += rp
        template = "({} NOT IN ({}))" if node.not_ else "({} IN ({}))"
        return sql.SQL(template).format(left, sql.SQL(", ").join(parts)), lp + params

    # --- temporal ------------------------------------------------------------------------------------------
    def _temporal(self, node: ast.TemporalPredicate) -> Fragment:
        op = node.op
        if isinstance(node.rhs, values.Interval):
            start, end = node.rhs.start, node.rhs.end
            if op in (ast.TemporalComparisonOp.TOVERLAPS, ast.TemporalComparisonOp.DISJOINT,
                      ast.TemporalComparisonOp.DURING):
                strict = op is ast.TemporalComparisonOp.DURING
                parts, params = [], []
                if start is not None:
                    frag, p = self._comparison(">" if strict else ">=", node.lhs, start)
                    parts.append(frag)
                    params += p
                if end is not None:
                    frag, p = self._comparison("<" if strict else "<=", node.lhs, end)
                    parts.append(frag)
                    params += p
                inside = sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")
                if op is ast.TemporalComparisonOp.DISJOINT:
                    return sql.SQL("(NOT ({}))").format(inside), params
                return sql.SQL("({})").format(inside), params
            raise _bad(f"{op.value} with an interval is not supported")
        instants = {ast.TemporalComparisonOp.AFTER: ">", ast.TemporalComparisonOp.BEFORE: "<",
                    ast.TemporalComparisonOp.TEQUALS: "=", ast.TemporalComparisonOp.TOVERLAPS: "=",
                    ast.TemporalComparisonOp.DISJOINT: "<>"}
        if op not in instants:
            raise _bad(f"{op.value} is not supported")
        _l, _lp, lk = self.scalar(node.lhs)
        if lk not in ("date", "date-time"):
            raise _bad("temporal predicates apply to date/time properties")
        return self._comparison(instants[op], node.lhs, node.rhs)

    # --- spatial -------------------------------------------------------------------------------------------
    def _envelope(self, coords: list[Any]) -> dict[str, Any]:
        if len(coords) != 4 or not all(_is_number(c) for c in coords):
            raise _bad("BBOX takes four numbers")
        minx, miny, maxx, maxy = (float(c) for c in coords)
        return {"type": "Polygon", "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy],
                                                    [minx, miny]]]}

    def _geometry(self, node: Any) -> Fragment:
        """A spatial operand: the collection's geometry, or a literal in filter-crs (as EPSG:4490)."""
        self._count()
        if isinstance(node, ast.Attribute):
            if node.name not in (GEOMETRY_PROPERTY, self.schema.geom_column):
                if node.name in self.schema.properties:
                    raise _bad(f"property {node.name} is not a geometry")
                raise Problem(400, f"filter: unknown property {node.name[:100]!r}; the geometry is "
                                   f"{GEOMETRY_PROPERTY!r}", "filter")
            return sql.Identifier(self.schema.geom_column), []
        if isinstance(node, ast.Function) and node.name.lower() in ("bbox", "envelope"):
            node = self._envelope(list(node.arguments))
        if isinstance(node, (values.Geometry, values.Envelope)):
            node = node.__geo_interface__
        if not isinstance(node, dict) or "type" not in node:
            raise _bad("a spatial predicate compares the geometry with a geometry literal")
        if "crs" in node:
            raise _bad("geometry literals take their CRS from filter-crs, not from SRID=")
        text = json.dumps(node)
        literal = sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}), {})").format(sql.Placeholder(),
                                                                            sql.Literal(self.filter_crs.srid))
        if self.filter_crs.north_first:
            literal = sql.SQL("ST_FlipCoordinates({})").format(literal)
        if self.filter_crs.srid not in (4490, 4326):  # CGCS2000 ↔ WGS 84 is PROJ's identity here
            literal = sql.SQL("ST_Transform({}, 4490)").format(literal)
        else:
            literal = sql.SQL("ST_SetSRID({}, 4490)").format(literal)
        return literal, [text]

    def _spatial(self, function: str, lhs: Any, rhs: Any) -> Fragment:
        left, lp = self._geometry(lhs)
        right, rp = self._geometry(rhs)
        return sql.SQL(function + "({}, {})").format(left, right), lp + rp


def _shown(kind: str) -> str:
    return "a string" if kind == "literal-string" else f"a {kind}"


def compile_filter(text: str, lang: str, schema: Schema, filter_crs: crs_module.Crs) -> Fragment:
    """The SQL condition (and its parameters) of filter `text` in `lang` for the collection of `schema`."""
    node = parse(text, lang)
    try:
        return Compiler(schema, filter_crs).condition(node)
    except RecursionError:
        raise _bad("nested too deeply") from None
