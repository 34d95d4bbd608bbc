"""The synthetic town in 钟山区: every theme present in the urban core, believable attributes, registered layers."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from django.db import connection

from layers.models import Layer
from layers.models import thematic as tm

pytestmark = pytest.mark.django_db

TOWN = "(SELECT ST_Union(geom) FROM grid_community WHERE synthetic)"


def _count_in_town(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table} t WHERE ST_Intersects(t.geom, {TOWN})")  # noqa: S608 (constant)
        return cur.fetchone()[0]


@pytest.mark.parametrize("table", [
    "layers_road", "layers_building", "layers_waterbody", "layers_landparcel", "layers_zoningplot",
    "layers_housingproject", "layers_hazardpoint", "layers_hazardzone", "layers_shelter",
])
def test_every_theme_has_features_in_the_urban_core(table):
    assert _count_in_town(table) > 0


def test_streets_and_communities_are_synthetic_and_coded_by_hierarchy():
    from city_gis.grid.models import Community, Street

    streets = list(Street.objects.filter(district__code="520201"))
    assert {s.name for s in streets} >= {"荷城街道", "凤凰街道", "黄土坡街道", "德坞街道"}
    for street in streets:
        assert street.synthetic and street.code.startswith("520201") and len(street.code) == 9
        comms = list(street.communities.all())
        assert 3 <= len(comms) <= 5
        assert all(c.code.startswith(street.code) and len(c.code) == 12 and c.synthetic for c in comms)
    assert Community.objects.filter(synthetic=True, area_m2__gt=0).count() == Community.objects.filter(synthetic=True).count()


def test_town_has_a_few_thousand_buildings_and_a_graded_road_network():
    assert 1500 <= tm.Building.objects.count() <= 6000
    grades = set(tm.Road.objects.values_list("grade", flat=True))
    assert {"arterial", "secondary", "branch"} <= grades
    assert tm.Road.objects.filter(name="钟山大道").exists()
    assert tm.WaterBody.objects.filter(name="水城河", kind="river").exists()
    assert tm.WaterBody.objects.filter(kind="reservoir").exists()


def test_land_parcels_use_gb_t_21010_codes_with_town_and_countryside_classes():
    codes = set(tm.LandParcel.objects.values_list("landuse_code", flat=True))
    assert {"0701", "0601", "0803", "1001", "1101", "0301"} <= codes
    assert codes & {"0501", "0505"} and codes & {"0101", "0103"}
    assert all(len(c) == 4 and c.isdigit() for c in codes)
    # parcels do not overlap one another
    with connection.cursor() as cur:
        cur.execute("SELECT sum(ST_Area(ST_Transform(geom, 4544))), ST_Area(ST_Transform(ST_Union(geom), 4544)) FROM layers_landparcel")
        total, union = cur.fetchone()
    assert total == pytest.approx(union, rel=1e-4)


def test_planning_housing_and_land_attributes_are_plausible():
    assert set(tm.ZoningPlot.objects.values_list("landuse_code", flat=True)) >= {"R2", "B1", "A33", "M1", "G1"}
    assert all(0 < p.far_max <= 6 and p.height_max_m > 0 for p in tm.ZoningPlot.objects.all())
    projects = list(tm.HousingProject.objects.all())
    assert projects and all(0 < p.units_occupied <= p.units_total for p in projects)
    assert {m.mineral for m in tm.MiningRight.objects.all()} == {"煤"}
    assert tm.BasicFarmland.objects.count() > 0
    assert all(s.capacity > 0 for s in tm.Shelter.objects.all())


def test_farmland_is_at_the_edge_not_in_town():
    assert _count_in_town("layers_basicfarmland") == 0
    assert _count_in_town("layers_miningright") == 0


def test_hazard_points_sit_on_slopes_steeper_than_15_degrees_of_the_slope_raster():
    path = Layer.objects.get(name="raster.slope").raster_path
    points = list(tm.HazardPoint.objects.all())
    assert len(points) >= 20
    with rasterio.open(path) as src:
        xy = [(p.geom.x, p.geom.y) for p in points]
        slopes = np.array([v[0] for v in src.sample(xy)])
    assert slopes.min() > 15, slopes.min()
    assert all(p.slope_deg > 15 and p.risk_level for p in points)


# name → (owner, classification, source table)
EXPECTED_LAYERS = {
    "base.city": ("survey", "public", "demo_cityboundary"), "base.districts": ("survey", "public", "grid_district"),
    "base.streets": ("survey", "public", "grid_street"), "base.communities": ("survey", "public", "grid_community"),
    "base.roads": ("survey", "public", "layers_road"), "base.buildings": ("survey", "public", "layers_building"),
    "base.water": ("survey", "public", "layers_waterbody"), "land.parcels": ("land", "public", "layers_landparcel"),
    "land.farmland": ("land", "public", "layers_basicfarmland"), "land.mining": ("land", "restricted", "layers_miningright"),
    "planning.zoning": ("planning", "public", "layers_zoningplot"),
    "housing.projects": ("housing", "internal", "layers_housingproject"),
    "housing.sites": ("housing", "public", "layers_housingproject"),
    "disaster.hazard_points": ("geohazard", "public", "layers_hazardpoint"),
    "disaster.hazard_zones": ("geohazard", "public", "layers_hazardzone"),
    "disaster.shelters": ("geohazard", "public", "layers_shelter"),
    "grid.cells": ("urban", "public", "grid_cell"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_vector_layers_are_registered_with_owner_stats_and_style(name):
    owner, classification, table = EXPECTED_LAYERS[name]
    layer = Layer.objects.select_related("owner").get(name=name)
    assert (layer.owner.code, layer.classification, layer.source_table) == (owner, classification, table)
    assert layer.title_zh and layer.title_en and layer.abstract and layer.keywords
    assert layer.feature_count > 0 and layer.extent is not None
    assert layer.style.get("stroke") or layer.style.get("fill")


def test_every_theme_has_a_public_layer():
    themes = {"base", "land", "planning", "housing", "disaster", "raster", "grid"}
    public = set(Layer.objects.filter(classification="public").values_list("theme", flat=True))
    assert themes <= public


def test_public_housing_layer_hides_occupancy():
    columns = Layer.objects.get(name="housing.sites").attribute_columns
    assert "name" in columns and not {"units_total", "units_occupied"} & set(columns)


def test_land_parcel_style_classifies_every_code_in_use():
    style = Layer.objects.get(name="land.parcels").style
    assert style["classify_by"] == "landuse_code"
    styled = {c["value"] for c in style["classes"]}
    assert set(tm.LandParcel.objects.values_list("landuse_code", flat=True)) <= styled


def test_grid_cells_layer_shows_only_current_cells():
    assert Layer.objects.get(name="grid.cells").source_where == [{"column": "valid_to", "op": "is_null"}]
