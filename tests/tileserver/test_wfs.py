"""WFS 2.0.0 / 1.1.0 (tileserver/wfs.py): MapServer's WFS on the generated mapfile behind the one access policy.

Requests go to `serve_wfs` the way views.serve_ogc hands them over (parsed parameters + the authenticated user);
the real-client tests (OWSLib, GDAL) reach it over HTTP through a small WSGI server in front of the same call.
"""

from __future__ import annotations

import json
import subprocess
import threading
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from lxml import etree

from .conftest import PARCEL_BBOX, PASSWORD
from .test_capabilities_escaping import FEATURE_NAME, HOSTILE, XHTML, hostile  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

PUBLIC, RESTRICTED = "land.test_parcels", "land.test_restricted"
BY_ID = "urn:ogc:def:query:OGC-WFS::GetFeatureById"


def _user(username: str | None):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser() if username is None else get_user_model().objects.get(username=username)


def wfs(params: dict[str, str], username: str | None = None):
    """serve_wfs on `params` for `username` (None: anonymous), as views.serve_ogc would call it."""
    from django.test import RequestFactory

    from tileserver.params import parse_ogc_query
    from tileserver.wfs import serve_wfs

    query = urlencode({"SERVICE": "WFS", **params})
    return serve_wfs(RequestFactory().get("/ows?" + query), _user(username), parse_ogc_query(query))


def get_feature(typenames: str = PUBLIC, version: str = "2.0.0", username: str | None = None, **extra: str):
    key = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    return wfs({"VERSION": version, "REQUEST": "GetFeature", key: typenames, **extra}, username)


def geojson(resp) -> dict:
    assert resp.status_code == 200, resp.content[:500]
    assert resp["Content-Type"].startswith("application/json")
    return json.loads(resp.content)


def exception_of(resp) -> tuple[str, str]:
    """(exceptionCode, locator) of an OWS exception report."""
    root = etree.fromstring(resp.content)
    exc = root.find("{*}Exception")
    return exc.get("exceptionCode"), (exc.get("locator") or "").upper()


def layer_count(name: str, where: str = "") -> int:
    """Features of a registered layer counted straight from PostGIS with the SQL the mapfile uses."""
    from django.db import connection

    from layers.models import Layer
    from tileserver.specs import layer_spec

    spec = layer_spec(Layer.objects.get(name=name))
    with connection.cursor() as cur:
        cur.execute(f"select count(*) from ({spec.select_sql}) as sub {where}")  # registry SQL, no input
        return cur.fetchone()[0]


# --- generated mapfile -------------------------------------------------------------------------------------


def test_mapfile_publishes_vector_layers_as_wfs_feature_types_and_rasters_not(tile_data):
    from tileserver.mapfile import WFS_ONLINE_PLACEHOLDER, WFS_TYPES_NAME

    text = tile_data["paths"].mapfile.read_text()
    block = text[text.index(f'NAME "{PUBLIC}"'):]
    block = block[:block.index("\nCLASS")]
    for line in ('"wfs_srs" "EPSG:4490 EPSG:4544 EPSG:4326 EPSG:3857"', '"gml_include_items" "all"',
                 '"gml_featureid" "id"', '"wfs_getfeature_formatlist" "geojson"', '"wfs_title" "测试宗地"'):
        assert line in block
    raster = text[text.index('NAME "raster.dem"'):]
    assert '"wfs_enable_request" "!*"' in raster[:raster.index("\nLAYER") if "\nLAYER" in raster else None]
    assert f'"wfs_onlineresource" "{WFS_ONLINE_PLACEHOLDER}"' in text and '"wfs_maxfeatures" "10000"' in text
    types = json.loads((tile_data["paths"].mapfile_dir / WFS_TYPES_NAME).read_text())
    assert PUBLIC in types and RESTRICTED in types and "raster.dem" not in types


# --- capabilities ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_anonymous_capabilities_list_public_feature_types_only(tile_data, version):
    resp = wfs({"REQUEST": "GetCapabilities", "VERSION": version})
    assert resp.status_code == 200 and "xml" in resp["Content-Type"]
    root = etree.fromstring(resp.content)  # well-formed
    names = {n.text for n in root.iter("{*}FeatureType") for n in n.findall("{*}Name")}
    assert f"ms:{PUBLIC}" in names and "ms:land.parcels" in names
    body = resp.content.decode()
    # The forbidden layer appears nowhere (name, title, metadata links), nor do rasters or our internals.
    for absent in (RESTRICTED, "测试受限图层", "raster.dem", "citygis-wfs.invalid", ".map", "GetMetadata"):
        assert absent not in body
    hrefs = {e.get("{http://www.w3.org/1999/xlink}href") for e in root.iter("{*}Get")}
    assert hrefs == {"http://testserver/ows?"}


def test_owner_department_sees_the_restricted_type_other_department_does_not(tile_data):
    caps = {u: wfs({"REQUEST": "GetCapabilities", "VERSION": "2.0.0"}, u).content.decode()
            for u in ("tiles_land", "tiles_planner")}
    assert f"ms:{RESTRICTED}" in caps["tiles_land"]
    assert RESTRICTED not in caps["tiles_planner"] and f"ms:{PUBLIC}" in caps["tiles_planner"]


def test_capabilities_are_cached_until_the_configuration_is_regenerated(tile_data, monkeypatch):
    from tileserver import wfs as module
    from tileserver.generate import generate_all

    runs = []
    real = module.run_mapserv
    monkeypatch.setattr(module, "run_mapserv", lambda query: runs.append(query) or real(query))
    params = {"REQUEST": "GetCapabilities", "VERSION": "2.0.0", "SECTIONS": "All"}
    first = wfs(params).content
    assert wfs(params).content == first and len(runs) == 1
    # Cached before the per-user filter: the owner still gets the restricted type from the same entry.
    assert f"ms:{RESTRICTED}".encode() in wfs(params, "tiles_land").content and len(runs) == 1
    generate_all()
    assert wfs(params).status_code == 200 and len(runs) == 2


def test_describe_feature_type_without_a_name_describes_readable_types_only(tile_data):
    resp = wfs({"REQUEST": "DescribeFeatureType", "VERSION": "2.0.0"})
    assert resp.status_code == 200
    assert f'name="{PUBLIC}"' in resp.content.decode() and RESTRICTED not in resp.content.decode()
    one = wfs({"REQUEST": "DescribeFeatureType", "VERSION": "2.0.0", "TYPENAMES": PUBLIC})
    elements = {e.get("name") for e in etree.fromstring(one.content).iter("{*}element")}
    assert {"geom", "id", "parcel_code", "landuse_name", "area_m2"} <= elements


@pytest.mark.parametrize(("layer", "schema_type", "gml_type"), [
    (PUBLIC, "gml:MultiSurfacePropertyType", "MultiSurface"),  # MULTIPOLYGON column, one-part shapes
    ("base.roads", "gml:MultiCurvePropertyType", "MultiCurve"),
    ("disaster.hazard_points", "gml:PointPropertyType", "Point"),
])
def test_feature_types_declare_the_column_geometry_type_and_features_have_it(tile_data, layer, schema_type,
                                                                             gml_type):
    schema = etree.fromstring(wfs({"REQUEST": "DescribeFeatureType", "VERSION": "2.0.0", "TYPENAMES": layer}).content)
    assert {e.get("name"): e.get("type") for e in schema.iter("{*}element")}["geom"] == schema_type
    features = etree.fromstring(get_feature(layer, COUNT="5").content)
    geometries = [g[0] for g in features.iter("{*}geom")]
    assert geometries and {etree.QName(g).localname for g in geometries} == {gml_type}


# --- access ------------------------------------------------------------------------------------------------

FORBIDDEN_REQUESTS = [
    {"REQUEST": "GetFeature", "TYPENAMES": RESTRICTED},
    {"REQUEST": "GetFeature", "TYPENAMES": RESTRICTED.upper()},  # MapServer matches names in any case
    {"REQUEST": "GetFeature", "TYPENAMES": f"ms:{RESTRICTED}"},
    {"REQUEST": "GetFeature", "TYPENAMES": f"{PUBLIC},{RESTRICTED}"},
    {"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "RESOURCEID": f"{RESTRICTED}.1"},
    {"REQUEST": "GetFeature", "STOREDQUERY_ID": BY_ID, "ID": f"{RESTRICTED}.1"},
    {"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "RESOURCEID": f"{PUBLIC}.1", "FEATUREID": f"{RESTRICTED}.1"},
    {"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "ID": f"{RESTRICTED}.1"},
    {"REQUEST": "GetFeature", "VERSION": "1.1.0", "TYPENAME": RESTRICTED},
    {"REQUEST": "DescribeFeatureType", "TYPENAMES": RESTRICTED},
    {"REQUEST": "DescribeFeatureType", "TYPENAMES": RESTRICTED, "TYPENAME": RESTRICTED},  # as QGIS asks
    {"REQUEST": "GetFeature", "VERSION": "1.1.0", "TYPENAMES": RESTRICTED, "TYPENAME": f"ms:{RESTRICTED}"},
]


@pytest.mark.parametrize("params", FORBIDDEN_REQUESTS)
@pytest.mark.parametrize(("username", "status"), [(None, 401), ("tiles_planner", 403)])
def test_forbidden_feature_type_is_refused(tile_data, params, username, status):
    resp = wfs({"VERSION": "2.0.0", **params}, username)
    assert resp.status_code == status
    assert b"TSTILE-0002" not in resp.content and b"FeatureCollection" not in resp.content
    if status == 401:
        assert resp["WWW-Authenticate"].startswith("Basic")
    else:
        assert "WWW-Authenticate" not in resp


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_typenames_and_typename_naming_the_same_type_are_one_request_as_qgis_sends_it(tile_data, version):
    """QGIS 3.22's WFS provider sends DescribeFeatureType with both keys; the same names are one request."""
    resp = wfs({"VERSION": version, "REQUEST": "DescribeFeatureType", "TYPENAMES": PUBLIC, "TYPENAME": PUBLIC})
    assert resp.status_code == 200 and b"complexType" in resp.content


def test_owner_department_gets_the_restricted_features(tile_data):
    data = geojson(get_feature(RESTRICTED, username="tiles_land", OUTPUTFORMAT="application/json"))
    assert [f["properties"]["parcel_code"] for f in data["features"]] == ["TSTILE-0002"]


# --- bad input ---------------------------------------------------------------------------------------------

BAD_REQUESTS = [
    ({"REQUEST": "GetFeature", "TYPENAMES": "land.nope"}, "InvalidParameterValue", "TYPENAMES"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "raster.dem"}, "InvalidParameterValue", "TYPENAMES"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "land"}, "InvalidParameterValue", "TYPENAMES"),  # a group
    ({"REQUEST": "GetFeature"}, "MissingParameterValue", "TYPENAMES"),
    ({"REQUEST": "Transaction", "TYPENAMES": PUBLIC}, "OperationNotSupported", "REQUEST"),
    ({"REQUEST": "GetPropertyValue", "TYPENAMES": PUBLIC}, "OperationNotSupported", "REQUEST"),
    ({"REQUEST": "ListStoredQueries"}, "OperationNotSupported", "REQUEST"),
    ({"TYPENAMES": PUBLIC}, "MissingParameterValue", "REQUEST"),
    ({"REQUEST": "GetCapabilities", "MAP": "/etc/passwd"}, "InvalidParameterValue", "MAP"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "VERSION": "3.0.0"}, "InvalidParameterValue", "VERSION"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "COUNT": "ten"}, "InvalidParameterValue", "COUNT"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "COUNT": "-1"}, "InvalidParameterValue", "COUNT"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "STARTINDEX": "1e3"}, "InvalidParameterValue", "STARTINDEX"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "RESULTTYPE": "all"}, "InvalidParameterValue", "RESULTTYPE"),
    ({"REQUEST": "GetFeature", "STOREDQUERY_ID": "urn:x:evil"}, "InvalidParameterValue", "STOREDQUERY_ID"),
    ({"REQUEST": "GetFeature", "STOREDQUERY_ID": BY_ID}, "MissingParameterValue", "ID"),
    ({"REQUEST": "GetFeature", "RESOURCEID": "nodot"}, "InvalidParameterValue", "RESOURCEID"),
    # MapServer reads TYPENAME or TYPENAMES depending on the version: both at once would bypass the check.
    ({"REQUEST": "GetFeature", "VERSION": "1.1.0", "TYPENAMES": PUBLIC, "TYPENAME": RESTRICTED},
     "InvalidParameterValue", "TYPENAME"),
    # Checked by MapServer itself (its 400 is passed on).
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "OUTPUTFORMAT": "image/png"}, "InvalidParameterValue",
     "OUTPUTFORMAT"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "FILTER": "<fes:Filter"}, "InvalidParameterValue", "FILTER"),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "SRSNAME": "EPSG:2000"}, None, None),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "SORTBY": "(select pg_sleep(2))"}, None, None),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "SORTBY": 'id" DESC'}, None, None),
    ({"REQUEST": "GetFeature", "TYPENAMES": PUBLIC, "PROPERTYNAME": "(select 1)"}, None, None),
]


@pytest.mark.parametrize(("params", "code", "locator"), BAD_REQUESTS)
def test_bad_request_is_a_400_naming_the_parameter(tile_data, params, code, locator):
    resp = wfs({"VERSION": "2.0.0", **params})
    assert resp.status_code == 400, resp.content[:300]
    got_code, got_locator = exception_of(resp)
    if code:
        assert (got_code, got_locator) == (code, locator)
    # No internals: mapfile path, connection string, the layer's SQL.
    for secret in (b"citygis.map", b"dbname", b"layers_landparcel"):
        assert secret not in resp.content


# --- features, axis order, paging --------------------------------------------------------------------------


def test_bbox_in_epsg_4490_is_lat_lon_in_wfs_2(tile_data):
    minx, miny, maxx, maxy = PARCEL_BBOX
    lat_lon = f"{miny - 0.001},{minx - 0.001},{maxy + 0.001},{maxx + 0.001},urn:ogc:def:crs:EPSG::4490"
    lon_lat = f"{minx - 0.001},{miny - 0.001},{maxx + 0.001},{maxy + 0.001},urn:ogc:def:crs:EPSG::4490"
    resp = get_feature(BBOX=lat_lon)
    assert resp.status_code == 200
    root = etree.fromstring(resp.content)
    assert root.get("numberMatched") == "1" and root.get("numberReturned") == "1"
    pos = [float(v) for v in root.findtext(".//{*}posList").split()]
    assert pos[:2] == [miny, minx]  # GML 3.2 in EPSG:4490: latitude first
    assert etree.fromstring(get_feature(BBOX=lon_lat).content).get("numberMatched") == "0"


def test_wfs_1_1_gml_and_geojson_coordinates(tile_data):
    minx, miny, maxx, maxy = PARCEL_BBOX
    gml = etree.fromstring(get_feature(version="1.1.0", SRSNAME="urn:ogc:def:crs:EPSG::4490").content)
    pos = [float(v) for v in gml.findtext(".//{*}posList").split()]
    assert pos[:2] == [miny, minx]
    data = geojson(get_feature(OUTPUTFORMAT="application/json"))
    (feature,) = data["features"]
    assert feature["properties"]["name"] == "测试宗地一" and feature["properties"]["area_m2"] == 1000.0
    ring = feature["geometry"]["coordinates"][0]  # GeoJSON: longitude first, always
    assert {tuple(p) for p in ring} == {(minx, miny), (minx, maxy), (maxx, maxy), (maxx, miny)}


def test_geojson_in_epsg_3857(tile_data):
    data = geojson(get_feature(OUTPUTFORMAT="application/json", SRSNAME="EPSG:3857"))
    x, y = data["features"][0]["geometry"]["coordinates"][0][0]
    assert 11_668_000 < x < 11_670_000 and 3_071_000 < y < 3_073_000


def test_hits_count_the_layer_like_postgis(tile_data):
    resp = get_feature("land.parcels", RESULTTYPE="hits")
    root = etree.fromstring(resp.content)
    assert int(root.get("numberMatched")) == layer_count("land.parcels") and root.get("numberReturned") == "0"


def test_count_and_startindex_page_through_a_layer(tile_data):
    total = layer_count("land.parcels")
    pages = [geojson(get_feature("land.parcels", OUTPUTFORMAT="application/json", COUNT="100",
                                 STARTINDEX=str(start))) for start in range(0, total, 100)]
    ids = [f["properties"]["id"] for page in pages for f in page["features"]]
    assert len(ids) == total and len(set(ids)) == total
    assert all(len(p["features"]) == 100 for p in pages[:-1])


def test_count_above_the_cap_is_bounded(tile_data, settings):
    settings.CITYGIS_WFS_MAX_FEATURES = 7
    for extra in ({"COUNT": "100000"}, {}, {"MAXFEATURES": "100000"}):
        data = geojson(get_feature("land.parcels", OUTPUTFORMAT="application/json", **extra))
        assert len(data["features"]) == 7
    old = geojson(get_feature("land.parcels", version="1.1.0", OUTPUTFORMAT="application/json",
                              MAXFEATURES="100000"))
    assert len(old["features"]) == 7
    assert len(geojson(get_feature("land.parcels", OUTPUTFORMAT="application/json", COUNT="3"))["features"]) == 3


def test_output_larger_than_the_byte_limit_is_refused_not_truncated(tile_data, settings):
    settings.CITYGIS_WFS_MAX_BYTES = 50_000
    resp = get_feature("land.parcels", COUNT="1000")
    assert resp.status_code == 400 and exception_of(resp) == ("InvalidParameterValue", "COUNT")
    assert get_feature(PUBLIC).status_code == 200


def test_mapserv_over_its_time_limit_is_a_503(tile_data, settings):
    settings.CITYGIS_MAPSERV_TIMEOUT = 0  # no mapserv run finishes in no time
    resp = get_feature("land.parcels")
    assert resp.status_code == 503 and exception_of(resp)[0] == "OperationProcessingFailed"
    assert resp["Retry-After"]


def test_no_free_render_slot_is_a_503_with_retry_after(tile_data, settings):
    from tileserver import limits

    settings.CITYGIS_RENDER_CONCURRENCY, settings.CITYGIS_RENDER_WAIT = 1, 0
    with limits.render_slot():  # the process' only slot is taken
        resp = get_feature(PUBLIC)
    assert resp.status_code == 503 and exception_of(resp)[0] == "ServerBusy" and resp["Retry-After"]
    assert get_feature(PUBLIC).status_code == 200


def test_missing_configuration_is_a_503(tile_data, settings, tmp_path):
    settings.CITYGIS_MAPFILE_DIR = tmp_path
    resp = wfs({"REQUEST": "GetCapabilities", "VERSION": "2.0.0"})
    assert resp.status_code == 503 and b"generate_mapconfig" in resp.content


def test_filter_selects_by_attribute(tile_data):
    fes = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo>'
           '<fes:ValueReference>landuse_code</fes:ValueReference><fes:Literal>0701</fes:Literal>'
           "</fes:PropertyIsEqualTo></fes:Filter>")
    data = geojson(get_feature("land.parcels", OUTPUTFORMAT="application/json", FILTER=fes))
    assert len(data["features"]) == layer_count("land.parcels", "where landuse_code = '0701'") > 0
    assert {f["properties"]["landuse_code"] for f in data["features"]} == {"0701"}


def test_filter_literals_are_values_not_sql(tile_data):
    fes = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo>'
           "<fes:ValueReference>name</fes:ValueReference><fes:Literal>x' or 1=1 or name='</fes:Literal>"
           "</fes:PropertyIsEqualTo></fes:Filter>")
    resp = get_feature("land.parcels", RESULTTYPE="hits", FILTER=fes)
    assert resp.status_code == 200 and etree.fromstring(resp.content).get("numberMatched") == "0"


# --- real clients over HTTP --------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def wfs_server(tile_data):
    """http://127.0.0.1:<port>/ows: authentication as views.serve_ogc does it, then serve_wfs."""
    from django.core.handlers.wsgi import WSGIRequest
    from django.db import connection

    from tileserver.auth import AuthenticationFailed, request_user
    from tileserver.params import parse_ogc_query
    from tileserver.wfs import exception_report, serve_wfs

    def app(environ, start_response):
        try:
            request = WSGIRequest(environ)
            try:
                user = request_user(request)
            except AuthenticationFailed as exc:
                response = exception_report(str(exc), "Unauthorized", status=401)
            else:
                response = serve_wfs(request, user, parse_ogc_query(environ.get("QUERY_STRING", "")))
        finally:
            connection.close()
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/ows"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_owslib_reads_capabilities_and_features(wfs_server, version):
    from owslib.wfs import WebFeatureService

    service = WebFeatureService(wfs_server, version=version)
    assert f"ms:{PUBLIC}" in service.contents and f"ms:{RESTRICTED}" not in service.contents
    assert "EPSG:4490" in {c.getcode() for c in service.contents[f"ms:{PUBLIC}"].crsOptions}
    data = json.loads(service.getfeature(typename=[f"ms:{PUBLIC}"], outputFormat="application/json").read())
    assert [f["properties"]["parcel_code"] for f in data["features"]] == ["TSTILE-0001"]


def test_owslib_with_basic_auth_reads_the_restricted_type(wfs_server):
    from owslib.wfs import WebFeatureService

    service = WebFeatureService(wfs_server, version="2.0.0", username="tiles_land", password=PASSWORD)
    assert f"ms:{RESTRICTED}" in service.contents
    data = json.loads(service.getfeature(typename=[f"ms:{RESTRICTED}"], outputFormat="application/json").read())
    assert [f["properties"]["parcel_code"] for f in data["features"]] == ["TSTILE-0002"]


def test_gdal_wfs_driver_reads_the_layer_with_right_count_and_extent(wfs_server):
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", f"WFS:{wfs_server}?VERSION=2.0.0", f"ms:{PUBLIC}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Feature Count: 1" in out.stdout
    minx, miny, maxx, maxy = PARCEL_BBOX
    # GDAL reports the extent as x/y of the layer's CRS axis order (lat/lon for EPSG:4490) or lon/lat.
    assert (f"Extent: ({minx:.6f}, {miny:.6f}) - ({maxx:.6f}, {maxy:.6f})" in out.stdout
            or f"Extent: ({miny:.6f}, {minx:.6f}) - ({maxy:.6f}, {maxx:.6f})" in out.stdout), out.stdout
    listing = subprocess.run(["ogrinfo", "-ro", "-q", f"WFS:{wfs_server}"], capture_output=True, text=True,
                             timeout=120)
    assert f"ms:{PUBLIC}" in listing.stdout and RESTRICTED not in listing.stdout


# --- escaping ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("hostile")
def test_hostile_layer_text_reaches_wfs_documents_as_text():
    root = etree.fromstring(wfs({"REQUEST": "GetCapabilities", "VERSION": "2.0.0"}).content)
    titles = {ft.findtext("{*}Name"): ft.findtext("{*}Title") for ft in root.iter("{*}FeatureType")}
    for name, (_title, _abstract, _keyword, read_back) in HOSTILE.items():
        assert titles[f"ms:{name}"] == read_back
    assert not list(root.iter(f"{{{XHTML}}}*"))  # no element injected
    gml = etree.fromstring(get_feature("land.test_esc_amp").content)
    assert gml.findtext(".//{*}name") == FEATURE_NAME and gml.findtext(".//{*}landuse_name") == "A&B <i>用地</i>"
    data = geojson(get_feature("land.test_esc_amp", OUTPUTFORMAT="application/json"))
    assert data["features"][0]["properties"]["name"] == FEATURE_NAME


@pytest.mark.parametrize("path", ["/ows", "/service"])
def test_wfs_is_served_at_the_wms_endpoint_behind_the_same_checks(client, tile_data, path):
    """SERVICE=WFS on /ows goes through serve_ogc (host, parameter, rate and credential checks) to serve_wfs."""
    caps = client.get(path, {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetCapabilities"})
    assert caps.status_code == 200
    assert f"ms:{PUBLIC}".encode() in caps.content and RESTRICTED.encode() not in caps.content
    refused = client.get(path, {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": RESTRICTED})
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Basic")
    smuggled = client.get(f"{path}?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={PUBLIC}&typenames={RESTRICTED}")
    assert smuggled.status_code == 400
    features = client.get(path, {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": PUBLIC,
                                 "OUTPUTFORMAT": "application/json", "COUNT": "5"})
    assert features.status_code == 200 and json.loads(features.content)["type"] == "FeatureCollection"


QGIS_WFS_SCRIPT = """
import os, sys
from qgis.core import QgsApplication, QgsRectangle, QgsVectorLayer
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
uri = f"url='{sys.argv[1]}' typename='ms:{sys.argv[2]}' version='2.0.0' srsname='EPSG:4490'"
layer = QgsVectorLayer(uri, "wfs", "WFS")
features = list(layer.getFeatures())  # the features themselves (the layer extent is the advertised box)
e = QgsRectangle()
e.setMinimal()
for f in features:
    e.combineExtentWith(f.geometry().boundingBox())
print(layer.isValid(), len(features), e.xMinimum(), e.yMinimum(), e.xMaximum(), e.yMaximum(), flush=True)
os._exit(0)  # QGIS 3.22 may crash in exitQgis() while providers are alive; the answer is printed
"""


def _has_qgis() -> bool:
    return subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_qgis(), reason="python3-qgis not installed (scripts/setup.sh installs it)")
def test_qgis_wfs_provider_loads_the_layer_with_its_count_and_lon_lat_extent(wfs_server):
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(["/usr/bin/python3", "-c", QGIS_WFS_SCRIPT, wfs_server, PUBLIC], capture_output=True,
                         text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    valid, count, *extent = out.stdout.split()
    assert (valid, count) == ("True", "1")
    minx, miny, maxx, maxy = (float(v) for v in extent)
    # QGIS shows EPSG:4490 as lon/lat: the parcel's box, not its mirror image (axis order)
    assert abs(minx - PARCEL_BBOX[0]) < 1e-6 and abs(maxy - PARCEL_BBOX[3]) < 1e-6
