"""CSW 2.0.2 at /csw (tileserver/csw/): one record per readable registry layer, Dublin Core and ISO 19139, the
one access policy, escaping, and an ExceptionReport naming the locator for every bad request.

Real clients: OWSLib's CatalogueServiceWeb over HTTP (a WSGI server in a thread in front of the whole Django
application, so credentials go through the same middleware and tileserver.auth as in production), and QGIS'
own Python (Debian's python3-qgis and the OWSLib its MetaSearch plugin uses) finding a layer by a Chinese keyword
and adding its WMS.
"""

from __future__ import annotations

import base64
import os
import subprocess
import textwrap
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from lxml import etree

from .conftest import PARCEL_BBOX, PASSWORD
from .test_capabilities_escaping import HOSTILE, XHTML, hostile  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
GMD_NS = "http://www.isotc211.org/2005/gmd"
PUBLIC, RESTRICTED = "land.test_parcels", "land.test_restricted"
# Demo layers (data/demo/catalog.py): 控规地块 is public, 采矿权 restricted to the land department.
ZONING, MINING = "planning.zoning", "land.mining"
NS = {"csw": CSW_NS, "dc": "http://purl.org/dc/elements/1.1/", "dct": "http://purl.org/dc/terms/",
      "ows": "http://www.opengis.net/ows", "gmd": GMD_NS, "gco": "http://www.isotc211.org/2005/gco"}


def basic(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def get(client, auth: str | None = None, **params: str):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.get("/csw", {"SERVICE": "CSW", "VERSION": "2.0.2", **params}, **headers)


def get_records(client, auth: str | None = None, **params: str):
    return get(client, auth, REQUEST="GetRecords", typeNames="csw:Record", resultType="results", **params)


def identifiers(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return etree.fromstring(response.content).xpath("//csw:SearchResults/*/dc:identifier/text()", namespaces=NS)


def all_identifiers(client, auth: str | None = None) -> set[str]:
    return set(identifiers(get_records(client, auth, maxRecords="100")))


def exception_of(response) -> tuple[int, str, str]:
    """(status, exceptionCode, locator) of an OWS ExceptionReport."""
    root = etree.fromstring(response.content)
    assert root.tag == "{http://www.opengis.net/ows}ExceptionReport", response.content[:300]
    exc = root.find("{http://www.opengis.net/ows}Exception")
    return response.status_code, exc.get("exceptionCode"), exc.get("locator") or ""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def csw_url(tile_data):
    """http://127.0.0.1:<port>/csw served by the whole Django application (middleware, URLconf, auth)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    django_app = WSGIHandler()

    def app(environ, start_response):
        try:
            return list(django_app(environ, start_response))
        finally:
            connection.close()

    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/csw"
    server.shutdown()
    server.server_close()


# --- OWSLib, the reference client ----------------------------------------------------------------------------


def test_owslib_reads_the_capabilities(csw_url):
    from owslib.csw import CatalogueServiceWeb

    csw = CatalogueServiceWeb(csw_url)
    assert csw.identification.type == "CSW" and csw.identification.version == "2.0.2"
    ops = {op.name: op for op in csw.operations}
    assert set(ops) == {"GetCapabilities", "DescribeRecord", "GetRecords", "GetRecordById"}
    assert {m["url"] for m in ops["GetRecords"].methods} == {csw_url}
    assert csw.constraints["MaxRecordDefault"].values == ["100"]
    assert "BBOX" in csw.filters.spatial_operators and "Like" in csw.filters.scalar_comparison_operators


def test_owslib_finds_a_demo_layer_by_chinese_keyword_with_its_service_links(csw_url):
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import PropertyIsLike

    csw = CatalogueServiceWeb(csw_url)
    csw.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%地块%")], esn="full", maxrecords=50)
    assert ZONING in csw.records
    record = csw.records[ZONING]
    assert record.title == "控规地块" and "规划" in record.subjects and record.type == "dataset"
    base = csw_url.removesuffix("/csw")
    links = {ref["scheme"]: ref["url"] for ref in record.references}
    assert links == {
        "OGC:WMS": f"{base}/ows",
        "OGC:WMTS": f"{base}/wmts/1.0.0/WMTSCapabilities.xml",
        "OGC:WFS": f"{base}/ows?SERVICE=WFS",
        "OGC:API-Features": f"{base}/ogcapi/collections/planning.zoning",
        "WWW:DOWNLOAD-1.0-http--download": f"{base}/api/v1/layers/planning.zoning/export/?format=geojson",
    }
    assert record.bbox.crs.id == "urn:ogc:def:crs:OGC:1.3:CRS84"
    assert 104 < float(record.bbox.minx) < float(record.bbox.maxx) < 106
    assert csw.results["matches"] == len(csw.records) and csw.results["nextrecord"] == 0


def test_owslib_reads_iso_19139_records(csw_url):
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import PropertyIsEqualTo

    from layers.models import Layer

    owner = Layer.objects.select_related("owner").get(name=ZONING).owner.name_zh

    csw = CatalogueServiceWeb(csw_url)
    csw.getrecords2(constraints=[PropertyIsEqualTo("dc:identifier", ZONING)], typenames="gmd:MD_Metadata",
                    outputschema=GMD_NS, esn="full")
    assert list(csw.records) == [ZONING]
    md = csw.records[ZONING]
    assert md.identifier == ZONING and md.hierarchy == "dataset"
    ident = md.identification[0]
    assert ident.title == "控规地块" and ident.alternatetitle == "Zoning plots"
    assert "规划" in [k for group in ident.keywords for k in [kw.name for kw in group.keywords]]
    assert ident.contact[0].organization == owner and md.contact[0].organization == owner
    assert ident.bbox is not None and 104 < float(ident.bbox.minx) < float(ident.bbox.maxx) < 106
    online = {o.protocol: o for o in md.distribution.online}
    assert online["OGC:WMS"].name == ZONING and online["OGC:WMS"].url.endswith("/ows")
    assert online["OGC:WFS"].name == f"ms:{ZONING}"
    # OWSLib reads the first of the four reference systems (4490, 4544, 4326, 3857).
    assert (md.referencesystem.code, md.referencesystem.codeSpace) == ("EPSG:4490", "EPSG")
    assert ident.topiccategory == ["planningCadastre"]


def test_owslib_get_record_by_id(csw_url):
    from owslib.csw import CatalogueServiceWeb

    csw = CatalogueServiceWeb(csw_url)
    csw.getrecordbyid([ZONING, "land.no_such_layer"])
    assert list(csw.records) == [ZONING] and csw.records[ZONING].title == "控规地块"
    csw.getrecordbyid([ZONING], outputschema=GMD_NS)
    assert csw.records[ZONING].identification[0].title == "控规地块"


def test_owslib_with_basic_auth_finds_the_restricted_layer_anonymous_does_not(csw_url):
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import PropertyIsLike

    # 采矿权 (land.mining) is shared with planning by the demo (readers); 测试受限图层 is not.
    keyword = [PropertyIsLike("csw:AnyText", "%受限%")]
    anonymous = CatalogueServiceWeb(csw_url)
    anonymous.getrecords2(constraints=keyword)
    assert RESTRICTED not in anonymous.records and MINING not in anonymous.records
    land = CatalogueServiceWeb(csw_url, username="tiles_land", password=PASSWORD)
    land.getrecords2(constraints=keyword)
    assert {RESTRICTED, MINING} <= set(land.records)
    planner = CatalogueServiceWeb(csw_url, username="tiles_planner", password=PASSWORD)
    planner.getrecords2(constraints=keyword)
    assert RESTRICTED not in planner.records and MINING in planner.records


# --- the access policy ---------------------------------------------------------------------------------------


def test_anonymous_sees_exactly_the_layers_the_policy_gives_them(client, tile_data):
    from django.contrib.auth.models import AnonymousUser

    from layers.access import visible_layers

    seen = all_identifiers(client)
    assert seen == set(visible_layers(AnonymousUser()).values_list("name", flat=True))
    assert PUBLIC in seen and ZONING in seen and RESTRICTED not in seen and MINING not in seen
    assert "housing.projects" not in seen  # internal


@pytest.mark.parametrize("who, sees_restricted", [("tiles_land", True), ("tiles_planner", False)])
def test_basic_and_token_credentials_unlock_what_the_policy_allows(client, tile_data, who, sees_restricted):
    from django.contrib.auth import get_user_model

    from layers.access import visible_layers

    user = get_user_model().objects.get(username=who)
    expected = set(visible_layers(user).values_list("name", flat=True))
    assert all_identifiers(client, basic(who)) == expected
    assert (RESTRICTED in expected) is sees_restricted and "housing.projects" in expected
    if who == "tiles_land":
        assert all_identifiers(client, f"Token {tile_data['token']}") == expected
        assert RESTRICTED in set(identifiers(get_records(client, token=tile_data["token"], maxRecords="100")))


def test_a_restricted_record_by_id_is_the_same_answer_as_a_missing_one(client, tile_data):
    hidden = get(client, REQUEST="GetRecordById", id=RESTRICTED)
    missing = get(client, REQUEST="GetRecordById", id="land.no_such_layer")
    assert hidden.status_code == missing.status_code == 200
    assert hidden.content == missing.content
    assert etree.fromstring(hidden.content).xpath("count(/csw:GetRecordByIdResponse/*)", namespaces=NS) == 0
    shown = get(client, basic("tiles_land"), REQUEST="GetRecordById", id=RESTRICTED)
    assert etree.fromstring(shown.content).xpath("//dc:identifier/text()", namespaces=NS) == [RESTRICTED]


def test_wrong_credentials_are_a_401_with_a_challenge_never_anonymous(client, tile_data):
    response = get(client, basic("tiles_land", "wrong"), REQUEST="GetCapabilities")
    assert exception_of(response)[0] == 401 and response["WWW-Authenticate"].startswith("Basic ")
    assert get(client, "Token 0123456789abcdef", REQUEST="GetCapabilities").status_code == 401


def test_answers_carry_the_ogc_security_headers(client, tile_data):
    anonymous = get(client, REQUEST="GetCapabilities")
    assert anonymous["X-Content-Type-Options"] == "nosniff" and "Authorization" in anonymous["Vary"]
    assert anonymous["Access-Control-Allow-Origin"] == "*"
    private = get_records(client, basic("tiles_land"))
    assert "Access-Control-Allow-Origin" not in private and "private" in private["Cache-Control"]


# --- records follow the registry -----------------------------------------------------------------------------


def test_records_follow_registry_changes_immediately(client, tile_data):
    from layers.models import Layer

    layer = Layer.objects.get(name=PUBLIC)
    layer.title_zh = "测试宗地（已更名）"
    layer.save()
    titles = etree.fromstring(get(client, REQUEST="GetRecordById", id=PUBLIC).content).xpath(
        "//dc:title/text()", namespaces=NS)
    assert titles == ["测试宗地（已更名）"]
    layer.classification = "internal"
    layer.save()
    assert PUBLIC not in all_identifiers(client)


def test_record_fields_come_from_the_registry(client, tile_data):
    from layers.models import Layer

    layer = Layer.objects.select_related("owner").get(name=ZONING)
    doc = etree.fromstring(get(client, REQUEST="GetRecordById", id=ZONING, ElementSetName="full").content)
    rec = doc.find("csw:Record", NS)
    text = {tag: rec.xpath(f"{tag}/text()", namespaces=NS) for tag in
            ("dc:title", "dct:alternative", "dct:abstract", "dc:subject", "dc:creator", "dct:accrualPeriodicity",
             "dct:spatial")}
    assert text["dc:title"] == [layer.title_zh] and text["dct:alternative"] == [layer.title_en]
    assert text["dct:abstract"] == [layer.abstract] and text["dc:creator"] == [layer.owner.name_zh]
    assert text["dc:subject"] == [*layer.keywords, "规划"]
    assert text["dct:accrualPeriodicity"] == [layer.update_frequency]
    assert text["dct:spatial"] == ["EPSG:4490", "EPSG:4544", "EPSG:4326", "EPSG:3857"]
    lower = [float(v) for v in rec.findtext("ows:BoundingBox/ows:LowerCorner", namespaces=NS).split()]
    assert lower == pytest.approx(list(layer.bbox[:2]), abs=1e-6)


# --- GetRecords: constraints, paging, sorting ----------------------------------------------------------------


def cql(client, text: str, **extra: str) -> list[str]:
    return identifiers(get_records(client, constraintLanguage="CQL_TEXT", constraint=text, maxRecords="100",
                                   **extra))


def test_cql_text_like_on_anytext_title_and_subject(client, tile_data):
    assert ZONING in cql(client, "csw:AnyText LIKE '%地块%'")
    assert cql(client, "dc:title = '控规地块'") == [ZONING]
    assert ZONING in cql(client, "dc:subject = '规划'")
    assert cql(client, "dc:title ILIKE 'zoning%'") == [ZONING]  # English title too, case-insensitive
    assert cql(client, "csw:AnyText LIKE '%没有这个词%'") == []


def test_like_wildcards_escapes_and_a_pathological_pattern(client, tile_data):
    assert cql(client, "dc:identifier LIKE 'planning._oning'") == [ZONING]
    assert cql(client, "dc:identifier LIKE 'planning\\.zoning'") == [ZONING]  # escaped: a literal dot
    # 40 wildcards against every record's text: answered at once (no backtracking regex), matching nothing.
    assert cql(client, "csw:AnyText LIKE '" + "%a" * 40 + "%没有'") == []


def test_bbox_constraint_selects_layers_by_extent_in_either_axis_order(client, tile_data):
    minx, miny, maxx, maxy = PARCEL_BBOX
    assert PUBLIC in cql(client, f"BBOX(ows:BoundingBox, {minx}, {miny}, {maxx}, {maxy})")
    assert PUBLIC not in cql(client, "BBOX(ows:BoundingBox, 10, 10, 11, 11)")
    # FES 1.1 with the EPSG URN: lat/lon, as EPSG defines 4326.
    flt = (f'<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"><ogc:BBOX>'
           f'<ogc:PropertyName>ows:BoundingBox</ogc:PropertyName><gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326">'
           f'<gml:lowerCorner>{miny} {minx}</gml:lowerCorner><gml:upperCorner>{maxy} {maxx}</gml:upperCorner>'
           f'</gml:Envelope></ogc:BBOX></ogc:Filter>')
    assert PUBLIC in identifiers(get_records(client, constraintLanguage="FILTER", constraint=flt, maxRecords="100"))
    swapped = flt.replace("urn:ogc:def:crs:EPSG::4326", "EPSG:4326")  # read as lon/lat: misses the parcel
    assert PUBLIC not in identifiers(get_records(client, constraintLanguage="FILTER", constraint=swapped,
                                                 maxRecords="100"))


def test_filter_xml_combinations_and_dates(client, tile_data):
    from owslib.csw import CatalogueServiceWeb  # noqa: F401 (documents the client whose XML this mirrors)

    body = f"""<csw:GetRecords xmlns:csw="{CSW_NS}" xmlns:ogc="http://www.opengis.net/ogc" service="CSW"
      version="2.0.2" resultType="results" maxRecords="100"><csw:Query typeNames="csw:Record">
      <csw:ElementSetName>brief</csw:ElementSetName><csw:Constraint version="1.1.0"><ogc:Filter><ogc:And>
      <ogc:PropertyIsLike wildCard="*" singleChar="?" escapeChar="!" matchCase="false">
        <ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>控规*</ogc:Literal></ogc:PropertyIsLike>
      <ogc:Not><ogc:PropertyIsEqualTo><ogc:PropertyName>dc:identifier</ogc:PropertyName>
        <ogc:Literal>{PUBLIC}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Not>
      <ogc:PropertyIsGreaterThan><ogc:PropertyName>dct:modified</ogc:PropertyName>
        <ogc:Literal>2000-01-01</ogc:Literal></ogc:PropertyIsGreaterThan>
      </ogc:And></ogc:Filter></csw:Constraint></csw:Query></csw:GetRecords>"""
    response = client.post("/csw", body.encode(), content_type="application/xml")
    assert identifiers(response) == [ZONING]
    assert etree.fromstring(response.content).find(".//csw:BriefRecord", NS) is not None
    assert cql(client, "dct:modified > '2999-01-01'") == []


def test_paging_with_start_position_and_next_record(client, tile_data):
    everything = identifiers(get_records(client, maxRecords="100"))
    assert len(everything) > 5
    first = get_records(client, maxRecords="2")
    results = etree.fromstring(first.content).find(".//csw:SearchResults", NS)
    assert (results.get("numberOfRecordsMatched"), results.get("numberOfRecordsReturned"),
            results.get("nextRecord")) == (str(len(everything)), "2", "3")
    assert identifiers(first) == everything[:2]
    assert identifiers(get_records(client, maxRecords="2", startPosition="3")) == everything[2:4]
    last = get_records(client, maxRecords="100", startPosition=str(len(everything)))
    assert identifiers(last) == everything[-1:]
    assert etree.fromstring(last.content).find(".//csw:SearchResults", NS).get("nextRecord") == "0"
    hits = get(client, REQUEST="GetRecords", typeNames="csw:Record")  # resultType defaults to hits
    results = etree.fromstring(hits.content).find(".//csw:SearchResults", NS)
    assert results.get("numberOfRecordsMatched") == str(len(everything)) and len(results) == 0


def test_default_page_and_sorting(client, tile_data):
    assert len(identifiers(get_records(client))) == 10
    titles = etree.fromstring(get_records(client, maxRecords="100", sortBy="dc:title:D").content).xpath(
        "//dc:title/text()", namespaces=NS)
    assert titles == sorted(titles, reverse=True)


def test_describe_record_names_both_schemas(client, tile_data):
    doc = etree.fromstring(get(client, REQUEST="DescribeRecord").content)
    assert doc.tag == f"{{{CSW_NS}}}DescribeRecordResponse"
    assert [c.get("targetNamespace") for c in doc.findall("csw:SchemaComponent", NS)] == [CSW_NS, GMD_NS]
    one = etree.fromstring(get(client, REQUEST="DescribeRecord", typeName="gmd:MD_Metadata").content)
    assert [c.get("targetNamespace") for c in one.findall("csw:SchemaComponent", NS)] == [GMD_NS]


# --- escaping ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize("schema", [CSW_NS, GMD_NS])
def test_hostile_titles_reach_records_as_text(client, schema):
    from owslib.catalogue.csw2 import CswRecord
    from owslib.iso import MD_Metadata

    from city_gis.text_limits import xml_text

    type_names = "csw:Record" if schema == CSW_NS else "gmd:MD_Metadata"
    response = get(client, REQUEST="GetRecords", typeNames=type_names, resultType="results", outputSchema=schema,
                   ElementSetName="full", maxRecords="100", constraintLanguage="CQL_TEXT",
                   constraint="dc:identifier LIKE 'land.test_esc%'")
    doc = etree.fromstring(response.content)  # strict parse: well-formed
    assert doc.xpath("//*[namespace-uri()=$ns]", ns=XHTML) == []
    assert doc.xpath("//*[local-name()='script' or local-name()='b' or namespace-uri()='']") == []
    if schema == CSW_NS:
        read = {(r := CswRecord(e)).identifier: (r.title, r.abstract, r.subjects)
                for e in doc.findall(".//csw:Record", NS)}
    else:
        read = {(m := MD_Metadata(e)).identifier: (m.identification[0].title, m.identification[0].abstract,
                                                     [k.name for g in m.identification[0].keywords for k in g.keywords])
                for e in doc.findall(".//gmd:MD_Metadata", NS)}
    assert set(read) == set(HOSTILE)
    for name, (_title, abstract, keyword, read_back) in HOSTILE.items():
        # What XML 1.0 cannot carry (control characters) is dropped; everything else reads back verbatim.
        assert read[name][0] == read_back and read[name][1] == xml_text(abstract) and xml_text(keyword) in read[name][2]


def test_hostile_search_text_is_echoed_escaped(client, tile_data):
    response = get(client, REQUEST="GetRecords", typeNames="<script>alert(1)</script>")
    assert exception_of(response)[:2] == (400, "InvalidParameterValue")
    assert b"<script>" not in response.content and b"&lt;script&gt;" in response.content


# --- bad input -----------------------------------------------------------------------------------------------

BAD = [
    ({"REQUEST": "GetRecordz"}, "OperationNotSupported", "request"),
    ({"REQUEST": ""}, "MissingParameterValue", "request"),
    ({"SERVICE": "WMS", "REQUEST": "GetRecords", "typeNames": "csw:Record"}, "InvalidParameterValue", "service"),
    ({"VERSION": "3.0.0", "REQUEST": "GetRecords", "typeNames": "csw:Record"}, "InvalidParameterValue", "version"),
    ({"VERSION": "", "REQUEST": "GetRecordById", "id": "x"}, "MissingParameterValue", "version"),
    ({"REQUEST": "GetCapabilities", "acceptVersions": "3.0.0"}, "VersionNegotiationFailed", "acceptVersions"),
    ({"REQUEST": "GetCapabilities", "sections": "Bogus"}, "InvalidParameterValue", "sections"),
    ({"REQUEST": "GetRecords"}, "MissingParameterValue", "typeNames"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Bogus"}, "InvalidParameterValue", "typeNames"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "outputSchema": "urn:bogus"},
     "InvalidParameterValue", "outputSchema"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "outputFormat": "text/html"},
     "InvalidParameterValue", "outputFormat"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "ElementSetName": "huge"},
     "InvalidParameterValue", "ElementSetName"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "resultType": "validate"},
     "InvalidParameterValue", "resultType"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "maxRecords": "101"}, "InvalidParameterValue",
     "maxRecords"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "maxRecords": "-1"}, "InvalidParameterValue",
     "maxRecords"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "startPosition": "0"}, "InvalidParameterValue",
     "startPosition"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraint": "dc:title = 'x'"},
     "MissingParameterValue", "constraintLanguage"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "SQL", "constraint": "1=1"},
     "InvalidParameterValue", "constraintLanguage"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "CQL_TEXT",
      "constraint": "dc:title = = 'x'"}, "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "CQL_TEXT",
      "constraint": "secret_column = 'x'"}, "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "CQL_TEXT",
      "constraint": "dct:modified > 'yesterday'"}, "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "CQL_TEXT",
      "constraint": "BBOX(ows:BoundingBox, 1, 1, 2, 2, 'EPSG:3857')"}, "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "CQL_TEXT",
      "constraint": " OR ".join(["dc:title = 'x'"] * 60)}, "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "FILTER",
      "constraint": "<ogc:Filter xmlns:ogc='http://www.opengis.net/ogc'><ogc:PropertyIsLike>"},
     "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "constraintLanguage": "FILTER",
      "constraint": "<ogc:Filter xmlns:ogc='http://www.opengis.net/ogc'><ogc:Touches/></ogc:Filter>"},
     "InvalidParameterValue", "constraint"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "sortBy": "secret:A"}, "InvalidParameterValue", "sortBy"),
    ({"REQUEST": "GetRecords", "typeNames": "csw:Record", "ElementName": "dc:title"}, "InvalidParameterValue",
     "ElementName"),
    ({"REQUEST": "GetRecordById"}, "MissingParameterValue", "id"),
    ({"REQUEST": "GetRecordById", "id": ",".join(["x"] * 101)}, "InvalidParameterValue", "id"),
    ({"REQUEST": "DescribeRecord", "typeName": "xs:any"}, "InvalidParameterValue", "typeName"),
]


@pytest.mark.parametrize("params, code, locator", BAD, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_bad_kvp_request_is_a_400_exception_report_naming_the_locator(client, tile_data, params, code, locator):
    response = get(client, **params)
    assert exception_of(response) == (400, code, locator)


def test_missing_service_and_repeated_parameters(client, tile_data):
    assert exception_of(client.get("/csw", {"REQUEST": "GetCapabilities"})) == (
        400, "MissingParameterValue", "service")
    response = client.get("/csw?SERVICE=CSW&REQUEST=GetCapabilities&request=GetRecords")
    assert exception_of(response) == (400, "InvalidParameterValue", "request")


BAD_POST = [
    (b"not xml at all", "NoApplicableCode", "request"),
    (b"", "MissingParameterValue", "request"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><csw:GetRecords xmlns:csw="' + CSW_NS.encode()
     + b'" service="CSW" version="2.0.2">&a;</csw:GetRecords>', "InvalidParameterValue", "request"),
    (b'<GetRecords xmlns="urn:other" service="CSW" version="2.0.2"/>', "OperationNotSupported", "request"),
    (b'<csw:GetRecords xmlns:csw="' + CSW_NS.encode() + b'" service="CSW" version="2.0.2"/>',
     "MissingParameterValue", "Query"),
    (b'<csw:GetRecords xmlns:csw="' + CSW_NS.encode() + b'" service="CSW" version="2.0.2"><csw:Query typeNames='
     b'"csw:Record"><csw:Constraint version="1.1.0"><csw:CqlText>((</csw:CqlText></csw:Constraint></csw:Query>'
     b'</csw:GetRecords>', "InvalidParameterValue", "Constraint"),
    (b'<csw:GetRecords xmlns:csw="' + CSW_NS.encode() + b'" service="CSW" version="2.0.2"><csw:Query typeNames='
     b'"csw:Record"><csw:Constraint version="1.1.0"/></csw:Query></csw:GetRecords>', "InvalidParameterValue",
     "Constraint"),
    (b'<csw:GetRecordById xmlns:csw="' + CSW_NS.encode() + b'" service="CSW" version="2.0.2" outputSchema="x"/>',
     "InvalidParameterValue", "outputSchema"),
]


@pytest.mark.parametrize("body, code, locator", BAD_POST, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD_POST)])
def test_bad_xml_request_is_a_400_exception_report(client, tile_data, body, code, locator):
    response = client.post("/csw", body, content_type="application/xml")
    assert exception_of(response) == (400, code, locator)


def test_a_dtd_is_refused_in_a_request_hidden_by_utf16_and_in_a_constraint(client, tile_data):
    """tileserver.safexml reads CSW bodies as it reads WFS-T ones; the answer is the CSW's own report."""
    request = (b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>'
               b'<csw:GetRecords xmlns:csw="' + CSW_NS.encode() + b'" service="CSW" version="2.0.2">&a;'
               b'</csw:GetRecords>').decode().encode("utf-16")
    response = client.post("/csw", request, content_type="application/xml")
    assert exception_of(response) == (400, "InvalidParameterValue", "request")
    assert b"root:" not in response.content
    constraint = ("<!DOCTYPE f [<!ENTITY a 'b'>]><ogc:Filter xmlns:ogc='http://www.opengis.net/ogc'>"
                  "<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>&a;</ogc:Literal>"
                  "</ogc:PropertyIsEqualTo></ogc:Filter>")
    response = get(client, REQUEST="GetRecords", typeNames="csw:Record", constraintLanguage="FILTER",
                   constraint=constraint)
    assert exception_of(response) == (400, "InvalidParameterValue", "constraint")


def test_post_body_over_the_limit_is_a_413_and_other_methods_a_405(client, tile_data, settings):
    settings.CITYGIS_CSW_MAX_BODY = 1000
    response = client.post("/csw", b"<x>" + b" " * 2000 + b"</x>", content_type="application/xml")
    assert exception_of(response) == (413, "InvalidParameterValue", "body")
    assert client.put("/csw", b"").status_code == 405


def test_form_encoded_post_is_kvp(client, tile_data):
    response = client.post("/csw", "SERVICE=CSW&VERSION=2.0.2&REQUEST=GetRecordById&ID=" + ZONING,
                           content_type="application/x-www-form-urlencoded")
    assert etree.fromstring(response.content).xpath("//dc:identifier/text()", namespaces=NS) == [ZONING]


def test_owslib_reports_bad_constraints_as_exception_reports(csw_url):
    from owslib.csw import CatalogueServiceWeb
    from owslib.ows import ExceptionReport

    csw = CatalogueServiceWeb(csw_url)
    with pytest.raises(ExceptionReport) as info:
        csw.getrecords2(cql="dc:title = = 'x'")
    assert "CQL" in str(info.value)


# --- QGIS --------------------------------------------------------------------------------------------------

QGIS_SCRIPT = textwrap.dedent("""
    import os, sys
    from owslib.csw import CatalogueServiceWeb   # Debian's OWSLib 0.27, the one QGIS' MetaSearch plugin uses
    from owslib.fes import PropertyIsLike
    from qgis.core import QgsApplication, QgsRasterLayer
    csw = CatalogueServiceWeb(sys.argv[1])
    csw.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%地块%")], esn="full")
    record = csw.records[sys.argv[2]]
    wms = [r["url"] for r in record.references if r["scheme"] == "OGC:WMS"][0]  # MetaSearch: "Add WMS"
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    uri = f"url={wms}&layers={sys.argv[2]}&styles=&format=image/png&crs=EPSG:4490"
    layer = QgsRasterLayer(uri, record.title, "wms")
    print(layer.isValid(), layer.name(), flush=True)
    os._exit(0)  # QGIS 3.22 may crash in exitQgis() while providers are alive; the answer is printed
""")


def _has_qgis() -> bool:
    return os.path.exists("/usr/bin/python3") and subprocess.run(
        ["/usr/bin/python3", "-c", "import qgis.core, owslib.csw"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_qgis(), reason="python3-qgis (and python3-owslib) not installed")
def test_qgis_finds_the_layer_by_chinese_keyword_and_adds_its_wms(csw_url):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(["/usr/bin/python3", "-c", QGIS_SCRIPT, csw_url, ZONING], capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True 控规地块"
