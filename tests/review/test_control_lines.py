"""The control lines of the demo city: registered, owned by their departments, and meeting the plan."""

from __future__ import annotations

import pytest
from django.db import connection

from layers.models import Layer

pytestmark = pytest.mark.django_db

# name → (owner department, source table)
CONTROL_LAYERS = {
    "land.farmland": ("land", "layers_basicfarmland"),
    "land.eco_redline": ("land", "review_ecoredline"),
    "land.parcels": ("land", "layers_landparcel"),
    "land.mining": ("land", "layers_miningright"),
    "planning.urban_boundary": ("planning", "review_urbanboundary"),
    "planning.zoning": ("planning", "layers_zoningplot"),
    "disaster.hazard_zones": ("geohazard", "layers_hazardzone"),
}


@pytest.mark.parametrize("name", sorted(CONTROL_LAYERS))
def test_each_control_layer_is_registered_with_its_owner_and_features(name):
    owner, table = CONTROL_LAYERS[name]
    layer = Layer.objects.select_related("owner").get(name=name)
    assert (layer.owner.code, layer.source_table) == (owner, table)
    assert layer.feature_count > 0 and layer.extent is not None
    assert layer.title_zh and layer.abstract


def _overlap_m2(a: str, b: str) -> float:
    with connection.cursor() as cur:
        cur.execute(f"SELECT coalesce(sum(ST_Area(ST_Transform(ST_Intersection(x.geom, y.geom), 4544))), 0) "  # noqa: S608
                    f"FROM {a} x JOIN {b} y ON ST_Intersects(x.geom, y.geom)")
        return cur.fetchone()[0]


def test_farmland_and_the_eco_redline_meet_zoning_plots():
    """Otherwise a review of a planned plot would never find anything."""
    assert _overlap_m2("layers_basicfarmland", "layers_zoningplot") > 10_000
    assert _overlap_m2("review_ecoredline", "layers_zoningplot") > 10_000


def test_the_urban_boundary_holds_the_town_plots_but_not_the_farmland_far_out():
    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FILTER (WHERE NOT ST_Intersects(z.geom, u.g)) FROM layers_zoningplot z,
                       (SELECT ST_Union(geom) AS g FROM review_urbanboundary) u""")
        assert cur.fetchone()[0] == 0
        cur.execute("""SELECT count(*) FROM layers_basicfarmland f, (SELECT ST_Union(geom) AS g FROM review_urbanboundary) u
                       WHERE NOT ST_Intersects(f.geom, u.g)""")
        assert cur.fetchone()[0] > 10


def test_the_planning_department_may_read_the_restricted_mining_rights():
    from city_gis.accounts.models import User
    from layers.access import can_read

    mining = Layer.objects.get(name="land.mining")
    assert mining.classification == "restricted"
    assert can_read(User.objects.get(username="planner"), mining)
    assert not can_read(User.objects.get(username="dept_sanitation"), mining)
