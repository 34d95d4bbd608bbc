"""Bad requests get OGC service exceptions with 4xx codes (never a 500, a hang or an empty image), and no
request can make MapServer read a file that is not our mapfile."""

from __future__ import annotations

import pytest

from .test_wms import getmap_params

pytestmark = pytest.mark.django_db


def assert_service_exception(resp, *, statuses=(400, 404)):
    assert resp.status_code in statuses, (resp.status_code, resp.content[:400])
    assert b"ServiceException" in resp.content or b"ExceptionReport" in resp.content, resp.content[:400]
    assert not resp["Content-Type"].startswith("image/")


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_unknown_layer(client, tile_data, version):
    resp = client.get("/ows", getmap_params(version=version, layers="land.no_such_layer"))
    assert_service_exception(resp)
    assert b"LayerNotDefined" in resp.content


def test_unsupported_crs(client, tile_data):
    resp = client.get("/ows", getmap_params(crs="EPSG:2000"))
    assert_service_exception(resp)
    assert b"InvalidCRS" in resp.content


@pytest.mark.parametrize("width,height", [("100000", "256"), ("100000", "10"), ("0", "256"), ("abc", "256")])
def test_absurd_sizes(client, tile_data, width, height):
    resp = client.get("/ows", getmap_params(WIDTH=width, HEIGHT=height))
    assert_service_exception(resp)


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "26.6,104.9,26.5,104.8", ""])
def test_malformed_bbox(client, tile_data, bbox):
    params = getmap_params()
    params["BBOX"] = bbox
    assert_service_exception(client.get("/ows", params))


def test_unknown_info_format(client, tile_data):
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_parcels",
                           INFO_FORMAT="application/x-nonsense", I="150", J="150")
    assert_service_exception(client.get("/ows", params))


def test_unknown_request_and_tile_layer(client, tile_data):
    assert_service_exception(client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "Explode"}))
    resp = client.get("/tiles/land.no_such_layer/webmercator/1/0/0.png")
    assert resp.status_code == 404
    resp = client.get("/tiles/land.test_parcels/nogrid/1/0/0.png")
    assert 400 <= resp.status_code < 500


@pytest.mark.parametrize("path", ["/ows", "/service", "/wmts/1.0.0/WMTSCapabilities.xml",
                                  "/tiles/land.test_parcels/webmercator/1/1/0.png"])
@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../etc/passwd", "/tmp/evil.map"])
def test_map_parameter_cannot_point_mapserver_elsewhere(client, tile_data, path, target):
    params = {"map": target, "MAP": target}
    if path in ("/ows", "/service"):
        params.update(getmap_params())
    resp = client.get(path, params)
    assert resp.status_code < 500
    assert b"root:" not in resp.content
    assert b"msLoadMap" not in resp.content


def test_mapserver_itself_refuses_foreign_mapfiles(tile_data, tmp_path):
    """Defence in depth: even called directly, mapserv only loads maps from our directory."""
    import os
    import subprocess

    evil = tmp_path / "evil.map"
    evil.write_text(tile_data["paths"].mapfile.read_text())
    for target in (str(evil), "/etc/passwd", str(tile_data["paths"].mapfile_dir / ".." / "evil.map")):
        env = dict(os.environ, MAPSERVER_CONFIG_FILE=str(tile_data["paths"].mapserver_config),
                   REQUEST_METHOD="GET", SERVER_NAME="localhost", SERVER_PORT="80", SCRIPT_NAME="/mapserv",
                   QUERY_STRING=f"map={target}&SERVICE=WMS&REQUEST=GetCapabilities")
        out = subprocess.run(["mapserv"], env=env, capture_output=True, timeout=30).stdout
        assert b"fails to validate" in out, out[:300]
        assert b"root:" not in out
    env["QUERY_STRING"] = f"map={tile_data['paths'].mapfile}&SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"
    out = subprocess.run(["mapserv"], env=env, capture_output=True, timeout=30).stdout
    assert b"WMS_Capabilities" in out
