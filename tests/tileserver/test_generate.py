"""Generated configuration: mapfile, MapServer config file, MapProxy YAML."""

from __future__ import annotations

import yaml


def test_mapfile_publishes_registered_layers_from_the_test_database(tile_data):
    from django.db import connection

    text = tile_data["paths"].mapfile.read_text()
    assert 'NAME "land.test_parcels"' in text and 'NAME "land.test_restricted"' in text
    assert f"dbname={connection.settings_dict['NAME']}" in text
    assert "using unique id using srid=4490" in text
    assert '"wms_srs" "EPSG:4490 EPSG:4544 EPSG:4326 EPSG:3857"' in text
    assert 'DRIVER "OGR/GEOJSON"' in text


def test_mapserver_config_restricts_map_paths_and_keeps_proj_local(tile_data):
    conf = tile_data["paths"].mapserver_config.read_text()
    assert "MS_MAP_PATTERN" in conf and str(tile_data["paths"].mapfile_dir) in conf
    assert "PROJ_DATA" in conf


def test_mapproxy_yaml_has_theme_groups_sources_and_caches(tile_data):
    conf = yaml.safe_load(tile_data["paths"].mapproxy_yaml.read_text())
    root = conf["layers"][0]
    land = next(g for g in root["layers"] if g["name"] == "land")
    assert {"land.test_parcels", "land.test_restricted"} <= {lyr["name"] for lyr in land["layers"]}
    assert conf["sources"]["src_land.test_parcels"]["type"] == "mapserver"
    assert conf["sources"]["src_land.test_parcels"]["wms_opts"]["featureinfo"] is True
    assert set(conf["caches"]["land.test_parcels"]["grids"]) == {"webmercator", "cgcs2000"}
    assert conf["caches"]["land.test_parcels"]["cache"]["directory_layout"] == "tms"
    assert conf["services"]["wms"]["versions"] == ["1.1.1", "1.3.0"]
