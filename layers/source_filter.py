"""The one place a layer's source filter (`Layer.source_where`) becomes SQL.

`source_where` is a JSON list of conditions on columns of the layer's source table, ANDed:

    [{"column": "level", "op": "=", "value": "grid"}, {"column": "is_current", "op": "is_true"}]

ops: `=`, `!=`, `like` and `in` (value: a list) take a `value`; `is_null`, `not_null` and `is_true` take none.
The structure is the JSON Schema layers/schemas/source_where.schema.json; `validate` adds what a schema cannot
know (the columns exist in the table). SQL is composed only with psycopg2.sql: columns are Identifiers,
values are bind parameters (`compose`, `compose_named`) or, for MapServer's DATA string, which cannot take
parameters, Literals rendered by the driver (`as_sql_text`; `as_composable` for a statement composed before
its parameters). No caller splices the filter into SQL itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from psycopg2 import sql

from .configschema import load_schema, schema_error

if TYPE_CHECKING:
    from .models import Layer

SCHEMA_PATH = Path(__file__).with_name("schemas") / "source_where.schema.json"
SCHEMA = load_schema(SCHEMA_PATH)

_BINARY = {"=": "=", "!=": "<>", "like": "LIKE"}


def validate(conditions: Any, table: str | None) -> None:
    """Raise ValidationError({"source_where": …}) naming the condition and key, or the unknown column."""
    from django.utils.translation import gettext as _

    error = schema_error(conditions, SCHEMA, root="", translate=_)
    if error:
        path, message = error
        raise ValidationError({"source_where": f"source_where{path}: {message}"})
    if not conditions or not table:
        return
    from .registry import table_columns

    known = {c for c, _t, _u in table_columns(table)}
    for i, cond in enumerate(conditions):
        if cond["column"] not in known:
            raise ValidationError({"source_where": _("source_where[%(i)s].column: 表 %(table)s 没有列 %(column)s")
                                   % {"i": i, "table": table, "column": cond["column"]}})


def _build(conditions: list[dict[str, Any]], alias: str | None,
           value: Callable[[Any], sql.Composable]) -> sql.Composable:
    parts: list[sql.Composable] = []
    for cond in conditions:
        column = sql.Identifier(alias, cond["column"]) if alias else sql.Identifier(cond["column"])
        op = cond["op"]
        if op in _BINARY:
            parts.append(sql.SQL("{} {} {}").format(column, sql.SQL(_BINARY[op]), value(cond["value"])))
        elif op == "in":
            parts.append(sql.SQL("{} IN ({})").format(column, sql.SQL(", ").join(value(v) for v in cond["value"])))
        elif op == "is_null":
            parts.append(sql.SQL("{} IS NULL").format(column))
        elif op == "not_null":
            parts.append(sql.SQL("{} IS NOT NULL").format(column))
        elif op == "is_true":
            parts.append(sql.SQL("{} IS TRUE").format(column))
        else:  # the schema admits no other op: a row written around it is a bug, not an empty filter
            raise ValueError(f"unknown source_where op {op!r}")
    if not parts:
        return sql.SQL("TRUE")
    return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))


def compose(layer: Layer, alias: str | None = None) -> tuple[sql.Composable, list[Any]]:
    """The condition selecting `layer`'s rows (`TRUE` without filter) with its positional (%s) parameters."""
    params: list[Any] = []

    def value(v: Any) -> sql.Composable:
        params.append(v)
        return sql.Placeholder()

    return _build(list(layer.source_where or []), alias, value), params


def compose_named(layer: Layer, alias: str | None = None, prefix: str = "sw") -> tuple[sql.Composable, dict[str, Any]]:
    """As `compose`, for statements with named parameters: placeholders %(<prefix>0)s, %(<prefix>1)s, …"""
    params: dict[str, Any] = {}

    def value(v: Any) -> sql.Composable:
        key = f"{prefix}{len(params)}"
        params[key] = v
        return sql.Placeholder(key)

    return _build(list(layer.source_where or []), alias, value), params


def as_sql_text(layer: Layer, connection: Any) -> str:
    """The condition as SQL text ("" without filter) for places that cannot bind parameters (MapServer DATA);
    values are Literals quoted by psycopg2 (`as_string` on the raw connection), never by formatting."""
    if not layer.source_where:
        return ""
    connection.ensure_connection()
    return _build(list(layer.source_where), None, sql.Literal).as_string(connection.connection)


def as_composable(layer: Layer, connection: Any) -> sql.Composable:
    """`as_sql_text` (`TRUE` without filter) as a Composable for a statement executed WITH parameters: the
    rendered text's `%` (a LIKE value) is doubled so the driver's own parameter pass restores it."""
    text = as_sql_text(layer, connection)
    return sql.SQL(text.replace("%", "%%")) if text else sql.SQL("TRUE")


# --- the data migration's parser of the old SQL text (layers/migrations/0004_source_where.py) ----------------
_COL = r"([a-z_][a-z0-9_]*)"
_SHAPES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], dict[str, Any]]]] = [
    (re.compile(rf"^{_COL}\s+is\s+null$", re.I), lambda m: {"column": m[1], "op": "is_null"}),
    (re.compile(rf"^{_COL}\s+is\s+not\s+null$", re.I), lambda m: {"column": m[1], "op": "not_null"}),
    (re.compile(rf"^{_COL}\s*(=|!=|<>)\s*(-?\d+)$"),
     lambda m: {"column": m[1], "op": "=" if m[2] == "=" else "!=", "value": int(m[3])}),
    (re.compile(rf"^{_COL}\s*(=|!=|<>)\s*'((?:[^']|'')*)'$"),
     lambda m: {"column": m[1], "op": "=" if m[2] == "=" else "!=", "value": m[3].replace("''", "'")}),
    (re.compile(rf"^{_COL}\s+like\s+'((?:[^']|'')*)'$", re.I),
     lambda m: {"column": m[1], "op": "like", "value": m[2].replace("''", "'")}),
    (re.compile(rf"^{_COL}(?:\s+is\s+true)?$", re.I), lambda m: {"column": m[1], "op": "is_true"}),
]


class UnknownFilterShape(ValueError):
    """An old source_filter text the migration cannot translate: an operator rewrites it by hand."""


def parse_legacy(text: str) -> list[dict[str, Any]]:
    """The structured form of an old `source_filter` SQL text of a known shape (terms ANDed, outer
    parentheses allowed); raise UnknownFilterShape for anything else rather than guess."""
    text = (text or "").strip()
    while text.startswith("(") and text.endswith(")") and "(" not in text[1:-1]:
        text = text[1:-1].strip()
    if not text:
        return []
    out = []
    for term in re.split(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", text, flags=re.I):
        term = term.strip()
        for pattern, build in _SHAPES:
            match = pattern.match(term)
            if match and match[1].lower() not in ("and", "or", "not", "true", "false", "null"):
                out.append(build(match))
                break
        else:
            raise UnknownFilterShape(term)
    return out
