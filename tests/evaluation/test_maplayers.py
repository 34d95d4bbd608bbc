"""Area scores feed the evaluation.* choropleth layers."""

from __future__ import annotations

import pytest

from city_gis.evaluation.maplayers import LAYERS, refresh_area_scores, register_layers
from city_gis.evaluation.models import AreaScore

from .conftest import C1, C2

pytestmark = pytest.mark.django_db


def test_refresh_writes_every_area_with_its_grade_and_geometry(world, march):
    refresh_area_scores(march)
    c1 = AreaScore.objects.get(level="cell", code=C1, period="2031-03")
    assert (c1.registered, c1.due, c1.grade, c1.is_current) == (3, 4, "C", True)
    assert c1.geom.geom_type == "MultiPolygon" and c1.geom.srid == 4490
    assert AreaScore.objects.get(level="cell", code=C2, period="2031-03").grade == "E"
    assert AreaScore.objects.get(level="community", code=C1[:12], period="2031-03").score == pytest.approx(70)
    # refreshing again replaces, never duplicates; an older period stops being current
    refresh_area_scores(march)
    assert AreaScore.objects.filter(level="cell", code=C1, period="2031-03").count() == 1
    from city_gis.evaluation.periods import parse_period

    refresh_area_scores(parse_period("2031-04"), levels=("cell",))
    assert not AreaScore.objects.get(level="cell", code=C1, period="2031-03").is_current


def test_layers_are_registered_uncached_internal_and_classified_by_grade(world, march):
    from layers.models import Layer

    register_layers()
    refresh_area_scores(march)
    for name in LAYERS:
        layer = Layer.objects.get(name=name)
        assert (layer.theme, layer.owner.code, layer.cacheable, layer.classification) == (
            "evaluation", "urban", False, "internal")
        assert layer.style["classify_by"] == "grade"
        assert [c["value"] for c in layer.style["classes"]] == list("ABCDE")
    grid = Layer.objects.get(name="evaluation.grid_score")
    from django.db import connection
    from psycopg2 import sql

    from layers import source_filter

    where, params = source_filter.compose(grid)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} AND code = %s").format(
            sql.Identifier(grid.source_table), where), [*params, C1])
        assert cur.fetchone()[0] == 1
