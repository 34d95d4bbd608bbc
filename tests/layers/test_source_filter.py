"""Layer.source_where: the structured row filter, composed only by layers.source_filter.

Each op selects exactly the rows it names; hostile columns and values stay an identifier and a literal; the
schema and the table's columns refuse what is not a condition; the data migration's parser translates the old
SQL text shapes that existed and refuses any other.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import ProgrammingError, connection, transaction
from psycopg2 import errors as pg_errors
from psycopg2 import sql

from layers import source_filter
from layers.models import Layer
from layers.registry import register_layer

pytestmark = pytest.mark.django_db

HOSTILE = "'; DROP TABLE srcf_victim; --"
ROWS = [(1, "T-001", True, None), (2, "T-002", False, "2026-01-01"), (3, "X-9", None, None), (4, HOSTILE, True, None)]


@pytest.fixture
def table():
    """A scratch table srcf_rows(id, code, flag, valid_to) with four rows, and the victim srcf_victim."""
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE srcf_rows (id int PRIMARY KEY, code text, flag boolean, valid_to date)")
        cur.execute("CREATE TABLE srcf_victim (id int)")
        cur.executemany("INSERT INTO srcf_rows VALUES (%s, %s, %s, %s)", ROWS)
    return "srcf_rows"


def _layer(conditions) -> Layer:
    return Layer(name="land.srcf", theme="land", source_table="srcf_rows", source_where=conditions)


def _ids(conditions) -> list[int]:
    where, params = source_filter.compose(_layer(conditions))
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT id FROM srcf_rows WHERE {} ORDER BY id").format(where), params)
        return [r[0] for r in cur.fetchall()]


def _ids_text(conditions) -> list[int]:
    text = source_filter.as_sql_text(_layer(conditions), connection)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM srcf_rows WHERE {text or 'TRUE'} ORDER BY id")
        return [r[0] for r in cur.fetchall()]


@pytest.mark.parametrize(("conditions", "ids"), [
    ([], [1, 2, 3, 4]),
    ([{"column": "code", "op": "=", "value": "T-002"}], [2]),
    ([{"column": "code", "op": "!=", "value": "T-002"}], [1, 3, 4]),
    ([{"column": "id", "op": "in", "value": [1, 3, 99]}], [1, 3]),
    ([{"column": "flag", "op": "is_null"}], [3]),
    ([{"column": "valid_to", "op": "not_null"}], [2]),
    ([{"column": "code", "op": "like", "value": "T-%"}], [1, 2]),
    ([{"column": "flag", "op": "is_true"}], [1, 4]),
    ([{"column": "flag", "op": "is_true"}, {"column": "code", "op": "like", "value": "T-%"}], [1]),
])
def test_each_op_selects_exactly_its_rows_with_parameters_and_as_text(table, conditions, ids):
    assert _ids(conditions) == ids
    assert _ids_text(conditions) == ids


def test_compose_binds_values_as_parameters_on_the_alias(table):
    where, params = source_filter.compose(_layer([{"column": "code", "op": "like", "value": "T-%"},
                                                  {"column": "id", "op": "in", "value": [1, 2]}]), "t")
    assert where.as_string(connection.connection) == '("t"."code" LIKE %s AND "t"."id" IN (%s, %s))'
    assert params == ["T-%", 1, 2]
    named, named_params = source_filter.compose_named(_layer([{"column": "code", "op": "=", "value": "x"}]))
    assert named.as_string(connection.connection) == '("code" = %(sw0)s)'
    assert named_params == {"sw0": "x"}
    assert source_filter.compose(_layer([]))[0].as_string(connection.connection) == "TRUE"
    assert source_filter.as_sql_text(_layer([]), connection) == ""


def test_a_hostile_value_stays_a_literal(table):
    conditions = [{"column": "code", "op": "=", "value": "nothing" + HOSTILE}]
    assert _ids(conditions) == [] and _ids_text(conditions) == []
    assert source_filter.as_sql_text(_layer(conditions), connection) == \
        "(\"code\" = 'nothing''; DROP TABLE srcf_victim; --')"
    assert _ids([{"column": "code", "op": "=", "value": HOSTILE}]) == [4]  # matched as the text it is
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('srcf_victim') IS NOT NULL")
        assert cur.fetchone()[0] is True


def test_a_hostile_column_stays_an_identifier_and_the_schema_refuses_it(table):
    where, params = source_filter.compose(_layer([{"column": HOSTILE, "op": "is_null"}]))
    with pytest.raises(ProgrammingError) as raised, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT id FROM srcf_rows WHERE {}").format(where), params)
    assert isinstance(raised.value.__cause__, pg_errors.UndefinedColumn)  # a column of that name, not SQL
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('srcf_victim') IS NOT NULL")
        assert cur.fetchone()[0] is True
    with pytest.raises(ValidationError) as exc:
        source_filter.validate([{"column": HOSTILE, "op": "is_null"}], "srcf_rows")
    assert exc.value.message_dict["source_where"][0].startswith("source_where[0].column:")


@pytest.mark.parametrize(("conditions", "path"), [
    ({"column": "code"}, "source_where:"),
    ([{"column": "code", "op": "~", "value": "x"}], "source_where[0].op:"),
    ([{"column": "code", "op": "="}], "source_where[0].value:"),
    ([{"column": "code", "op": "is_null", "value": 1}], "source_where[0]:"),
    ([{"column": "code", "op": "in", "value": []}], "source_where[0].value:"),
    ([{"column": "code", "op": "=", "value": "x", "sql": "1=1"}], "source_where[0].sql:"),
])
def test_the_schema_refuses_what_is_not_a_condition(conditions, path):
    with pytest.raises(ValidationError) as exc:
        source_filter.validate(conditions, None)
    assert exc.value.message_dict["source_where"][0].startswith(path)


def test_an_unknown_column_is_refused_by_name_when_registering(db):
    with pytest.raises(ValidationError) as exc:
        register_layer("land.lyt_srcf_bad", owner="land", title_zh="坏过滤", geometry_type="POLYGON",
                       source_table="layers_landparcel", source_where=[{"column": "no_such", "op": "is_null"}])
    message = exc.value.message_dict["source_where"][0]
    assert "no_such" in message and "layers_landparcel" in message


@pytest.mark.parametrize(("text", "structured"), [
    ("layer_id = 12", [{"column": "layer_id", "op": "=", "value": 12}]),
    ("layer_id IS NULL", [{"column": "layer_id", "op": "is_null"}]),
    ("level = 'grid' AND is_current",
     [{"column": "level", "op": "=", "value": "grid"}, {"column": "is_current", "op": "is_true"}]),
    ("valid_to IS NULL", [{"column": "valid_to", "op": "is_null"}]),
    ("parcel_code like 'X%'", [{"column": "parcel_code", "op": "like", "value": "X%"}]),
    ("survey = '2026'", [{"column": "survey", "op": "=", "value": "2026"}]),
    ("parcel_code = 'TS-0001'", [{"column": "parcel_code", "op": "=", "value": "TS-0001"}]),
    ("(valid_to is not null)", [{"column": "valid_to", "op": "not_null"}]),
    ("name = 'it''s and more'", [{"column": "name", "op": "=", "value": "it's and more"}]),
    ("", []),
])
def test_the_migration_parser_translates_each_existing_shape(text, structured):
    assert source_filter.parse_legacy(text) == structured
    assert source_filter.schema_error(structured, source_filter.SCHEMA) is None


@pytest.mark.parametrize("text", ["starts_with(parcel_code, 'T-')", "false", "a = 1 OR b = 2",
                                  "code = 'x'; DROP TABLE t", "id > 3"])
def test_the_migration_parser_refuses_unknown_shapes(text):
    with pytest.raises(source_filter.UnknownFilterShape):
        source_filter.parse_legacy(text)


def test_the_migration_translates_rows_and_stops_naming_the_layers_it_cannot():
    import importlib
    from types import SimpleNamespace

    forwards = importlib.import_module("layers.migrations.0004_source_where").forwards
    saved = []

    def row(name, text):
        layer = SimpleNamespace(name=name, source_filter=text, source_where=[])
        layer.save = lambda update_fields: saved.append((layer.name, layer.source_where, update_fields))
        return layer

    def apps_with(*rows):
        queryset = SimpleNamespace(order_by=lambda *_: list(rows))
        model = SimpleNamespace(objects=SimpleNamespace(exclude=lambda **_: queryset))
        return SimpleNamespace(get_model=lambda app, name: model)

    forwards(apps_with(row("grid.cells", "valid_to IS NULL")), None)
    assert saved == [("grid.cells", [{"column": "valid_to", "op": "is_null"}], ["source_where"])]
    with pytest.raises(RuntimeError, match=r"land\.odd: \"starts_with\(parcel_code, 'T-'\)\""):
        forwards(apps_with(row("land.odd", "starts_with(parcel_code, 'T-')"), row("land.ok", "id = 1")), None)
