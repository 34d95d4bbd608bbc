"""city_gis.grid.areas is the one map "area level → table, current rows": its SQL pieces select exactly what
the ORM does, and every user of the map (dashboard outlines, evaluation units, score layers) follows it."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from psycopg2 import sql

from city_gis.grid import models as grid
from city_gis.grid.areas import AREA_LEVELS, area_level

pytestmark = pytest.mark.django_db

LEVELS = [
    # level, model, current rows only, name column
    ("district", grid.District, False, "name"),
    ("street", grid.Street, False, "name"),
    ("community", grid.Community, False, "name"),
    ("cell", grid.Cell, True, None),
]


def test_levels_are_listed_coarse_to_fine():
    assert list(AREA_LEVELS) == [row[0] for row in LEVELS]


@pytest.mark.parametrize(("level", "model", "versioned", "name_column"), LEVELS)
def test_level_names_its_model_table_and_current_rows(level, model, versioned, name_column):
    source = area_level(level)
    assert (source.model, source.versioned, source.name_column) == (model, versioned, name_column)
    with connection.cursor() as cur:
        assert source.table.as_string(cur.cursor) == f'"{model._meta.db_table}"'
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(source.table, source.current()))
        assert cur.fetchone()[0] == source.current_rows().count() > 0


def test_a_retired_cell_is_not_current():
    import datetime as dt

    cell = grid.Cell.objects.filter(valid_to__isnull=True).order_by("code").first()
    current = area_level("cell").current_rows()
    before = current.count()
    grid.Cell.objects.filter(pk=cell.pk).update(valid_to=dt.date(2026, 1, 1))
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} c WHERE {} AND c.code = %s").format(
            area_level("cell").table, area_level("cell").current("c")), [cell.code])
        assert cur.fetchone()[0] == 0
    assert current.count() == before - 1


def test_unknown_level_is_a_key_error_naming_the_levels():
    with pytest.raises(KeyError, match="district, street, community, cell"):
        area_level("province")


def test_dashboard_outlines_cover_every_level():
    from frontend.areas import TOLERANCE

    assert TOLERANCE.keys() == AREA_LEVELS.keys()


@pytest.mark.parametrize(("level", "model", "versioned", "name_column"), LEVELS)
def test_dashboard_outlines_are_the_current_rows(level, model, versioned, name_column):
    from frontend.areas import area_geojson

    doc = json.loads(area_geojson(level))
    rows = area_level(level).current_rows()
    assert sorted(f["properties"]["code"] for f in doc["features"]) == sorted(rows.values_list("code", flat=True))
    names = {f["properties"]["code"]: f["properties"]["name"] for f in doc["features"]}
    expected = dict(rows.values_list("code", name_column)) if name_column else dict.fromkeys(names, "")
    assert names == expected


@pytest.mark.parametrize("level", ["cell", "community", "street", "district"])
def test_evaluation_units_are_the_current_rows(level):
    from city_gis.evaluation.engine import _units, get_level

    units = _units(get_level(level), None)
    rows = area_level(level).current_rows()
    assert sorted(units) == sorted(rows.values_list("code", flat=True))
    code = sorted(units)[0]
    label = rows.get(code=code).name if area_level(level).name_column else code
    assert units[code][:2] == (code, label)


def test_score_layers_take_geometry_from_the_same_map():
    from city_gis.evaluation.maplayers import GEOM_SOURCES

    assert {level: source for level, source in GEOM_SOURCES.items()} == {
        level: AREA_LEVELS[level] for level in ("cell", "community", "street", "district")}
