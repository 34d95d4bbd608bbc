"""Raster layers: the file must be a readable GeoTIFF; the extent comes from it, in EPSG:4490."""

import numpy as np
import pytest
import rasterio
from django.core.exceptions import ValidationError
from pyproj import Transformer
from rasterio.transform import from_origin

from layers.registry import register_layer

pytestmark = pytest.mark.django_db


@pytest.fixture
def dem(tmp_path):
    """A 100 × 80 10 m raster in EPSG:4544 whose north-west corner is at (483000, 2944000)."""
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=80, count=1, dtype="float32", crs="EPSG:4544",
                       transform=from_origin(483_000, 2_944_000, 10, 10)) as dst:
        dst.write(np.ones((1, 80, 100), dtype="float32"))
    return path


def test_raster_extent_is_taken_from_the_file(dem):
    layer = register_layer("raster.lyt_dem", owner="survey", kind="raster", geometry_type="RASTER",
                           raster_path=str(dem), title_zh="测试高程", source_table="")
    to_lonlat = Transformer.from_crs(4544, 4490, always_xy=True)
    west, north = to_lonlat.transform(483_000, 2_944_000)
    east, south = to_lonlat.transform(484_000, 2_943_200)
    minx, miny, maxx, maxy = layer.bbox
    assert minx == pytest.approx(west, abs=1e-4) and maxy == pytest.approx(north, abs=1e-4)
    assert maxx == pytest.approx(east, abs=1e-4) and miny == pytest.approx(south, abs=1e-4)


@pytest.mark.parametrize("content", [None, b"not a tiff"])
def test_missing_or_unreadable_raster_is_refused(tmp_path, content):
    path = tmp_path / "broken.tif"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        register_layer("raster.lyt_broken", owner="survey", kind="raster", geometry_type="RASTER",
                       raster_path=str(path), title_zh="坏文件", source_table="")
    assert "raster_path" in err.value.message_dict


def test_raster_in_the_catalog_has_no_features(dem):
    from rest_framework.test import APIClient

    register_layer("raster.lyt_dem", owner="survey", kind="raster", geometry_type="RASTER", raster_path=str(dem),
                   title_zh="测试高程", source_table="", classification="public")
    client = APIClient()
    item = client.get("/api/v1/layers/raster.lyt_dem/").json()
    assert item["kind"] == "raster" and item["bbox"] and item["features_url"] is None
    assert client.get("/api/v1/layers/raster.lyt_dem/features/").status_code == 404
