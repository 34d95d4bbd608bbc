"""Fixtures for layer tests: small frames written to tmp_path and our own test layers (not the demo's)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from layers.models import Layer
from layers.registry import register_layer

# A few hundred metres inside Liupanshui's urban core (lon/lat, CGCS2000).
LON0, LAT0 = 104.83, 26.59


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """Three 100 m-ish squares with a Chinese attribute, EPSG:4490."""
    geoms = [box(LON0 + i * 0.002, LAT0, LON0 + i * 0.002 + 0.001, LAT0 + 0.001) for i in range(3)]
    return gpd.GeoDataFrame(
        {"name": ["甲", "乙", "丙"], "kind": ["a", "b", "a"], "value": [1.5, 2.0, 3.25]}, geometry=geoms, crs="EPSG:4490"
    )


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    """Land parcels with the columns LandParcel needs."""
    geoms = [box(LON0 + i * 0.002, LAT0 + 0.01, LON0 + i * 0.002 + 0.001, LAT0 + 0.011) for i in range(3)]
    return gpd.GeoDataFrame(
        {
            "parcel_code": ["T-001", "T-002", "T-003"],
            "landuse_code": ["0701", "0501", "1203"],
            "landuse_name": ["城镇住宅用地", "商业服务业设施用地", "公园与绿地"],
            "right_holder": ["某公司", "", None],
        },
        geometry=geoms,
        crs="EPSG:4490",
    )


@pytest.fixture
def test_parcels_layer(db) -> Layer:
    """A typed test layer backed by the LandParcel table, public, owned by the land department."""
    return register_layer(
        "land.lyt_parcels", owner="land", title_zh="测试地块", geometry_type="POLYGON",
        source_table="layers_landparcel", source_where=[{"column": "parcel_code", "op": "like", "value": "T-%"}], classification="public",
    )


@pytest.fixture
def points_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"label": ["一", "二"]}, geometry=[Point(LON0, LAT0), Point(LON0 + 0.01, LAT0 + 0.01)], crs="EPSG:4490"
    )
