"""DEM, hillshade and slope: readable COGs in EPSG:4490 over the town, consistent with each other."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from django.db import connection

from data.demo.rasters import derive
from layers.models import Layer

pytestmark = pytest.mark.django_db


@pytest.fixture
def raster_layers():
    return {layer.short_name: layer for layer in Layer.objects.filter(theme="raster", name__in=["raster.dem", "raster.hillshade", "raster.slope"])}


def test_three_rasters_are_registered_to_survey(raster_layers):
    assert set(raster_layers) == {"dem", "hillshade", "slope"}
    for layer in raster_layers.values():
        assert layer.kind == "raster" and layer.geometry_type == "RASTER" and layer.owner.code == "survey"
        assert layer.classification == "public" and layer.title_zh


def test_rasters_are_cogs_in_epsg_4490_covering_the_town(raster_layers):
    with connection.cursor() as cur:
        cur.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM layers_landparcel) t")
        minx, miny, maxx, maxy = cur.fetchone()
    for layer in raster_layers.values():
        assert layer.srid == 4490
        with rasterio.open(layer.raster_path) as src:
            assert src.crs.to_epsg() == 4490
            assert src.res == pytest.approx((0.0001, 0.0001))
            left, bottom, right, top = src.bounds
            assert left < minx and bottom < miny and right > maxx and top > maxy
            assert src.profile.get("tiled") and src.block_shapes[0] == (256, 256)
            assert src.overviews(1)
            assert src.compression is not None
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_dem_is_karst_hills_around_a_valley(raster_layers):
    with rasterio.open(raster_layers["dem"].raster_path) as src:
        z = src.read(1, masked=True)
        centre = list(src.sample([src.xy(src.height // 2, src.width // 2)]))[0][0]
    assert 1700 <= z.min() and z.max() <= 2300
    assert z.max() - z.min() > 300
    assert centre < 1850  # the town sits on the valley floor


def test_hillshade_lights_north_west_slopes_and_slope_is_in_degrees():
    y, x = np.mgrid[0:101, 0:101]
    cone = (300 * np.exp(-((x - 50) ** 2 + (y - 50) ** 2) / 400.0)).astype("float32")
    shade, slope = derive(cone)
    assert shade[40, 40] > shade[50, 50] > shade[60, 60]  # NW flank bright, SE flank dark
    flat_shade, flat_slope = derive(np.full((5, 5), 1800.0, dtype="float32"))
    assert flat_slope.max() == 0
    assert flat_shade[2, 2] == round(255 * np.cos(np.radians(45)))
    assert 0 < slope.max() < 90
