"""Layer text reaches every XML/HTML document escaped exactly once (issue 9, observation 2).

A department's title, abstract, keywords and attribute values are hostile input: markup must come out as text
(no element injected, no script), `&` must keep the document well-formed, and nothing is escaped twice
(`A&B` reads `A&B`, not `A&amp;B`). Checked with a real XML parser on what clients get: MapProxy's WMS 1.1.1,
1.3.0, WMTS and TMS capabilities, MapServer's own capabilities and its GetFeatureInfo HTML. The rows are stored
with `.update()`, as text stored before (or past) input validation would be.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from lxml import etree, html

from .conftest import PREFIX, _square

pytestmark = pytest.mark.django_db

XHTML = "http://www.w3.org/1999/xhtml"
SCRIPT = f'<x:script xmlns:x="{XHTML}">alert(1)</x:script>'
# layer name → (title, abstract, keyword, the title as every parser must read it back)
HOSTILE = {
    "land.test_esc_script": (SCRIPT, f"摘要{SCRIPT}", "<b>kw</b>", SCRIPT),
    "land.test_esc_amp": ("A&B", "R&D <abstract>", "a&b", "A&B"),
    "land.test_esc_quotes": ('say "hi" \'x\' C:\\dir', 'back\\slash "q"', '"kw"', 'say "hi" \'x\' C:\\dir'),
    # XML 1.0 forbids C0 controls other than tab/newline/CR: removed, the rest of the text kept.
    "land.test_esc_control": ("ctl\x01\x02title", "abs\x0btract", "k\x1fw", "ctltitle"),
}
FEATURE_NAME = '<script>alert("fi")</script>'
FEATURE_BBOX = (104.860, 26.580, 104.870, 26.590)


@pytest.fixture(scope="module")
def hostile(django_db_blocker, tile_data):
    """Committed hostile layers (public) and a parcel with markup in its attributes; config regenerated."""
    from layers.models import LandParcel, Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    with django_db_blocker.unblock():
        parcel = LandParcel.objects.create(parcel_code=PREFIX + "ESC1", landuse_code="0701",
                                           landuse_name="A&B <i>用地</i>", name=FEATURE_NAME,
                                           geom=_square(FEATURE_BBOX))
        for name, (title, abstract, keyword, _read) in HOSTILE.items():
            register_layer(name, owner="land", title_zh="待替换", kind="vector", geometry_type="POLYGON",
                           source_table="layers_landparcel", classification="public",
                           source_where=[{"column": "parcel_code", "op": "=", "value": parcel.parcel_code}],
                           attribute_columns=["id", "parcel_code", "landuse_name", "name"])
            Layer.objects.filter(name=name).update(title_zh=title, abstract=abstract, keywords=[keyword])
        paths = generate_all()
    yield paths
    with django_db_blocker.unblock():
        Layer.objects.filter(name__in=list(HOSTILE)).delete()
        LandParcel.objects.filter(pk=parcel.pk).delete()
        generate_all()


def parse(content: bytes) -> etree._Element:
    """A strict XML parse: raises on anything not well-formed."""
    return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True, recover=False))


def assert_no_injected_markup(doc: etree._Element) -> None:
    assert doc.xpath("//*[namespace-uri()=$ns]", ns=XHTML) == []
    assert doc.xpath("//*[local-name()='script' or local-name()='b' or local-name()='abstract']") == []


CAPABILITIES = {
    "wms-1.1.1": {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.1.1"},
    "wms-1.3.0": {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"},
}


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_wms_capabilities_are_well_formed_and_titles_round_trip_as_text(client, hostile, version):
    resp = client.get("/ows", CAPABILITIES[f"wms-{version}"])
    assert resp.status_code == 200
    doc = parse(resp.content)
    assert_no_injected_markup(doc)
    for name, (_title, abstract, keyword, read) in HOSTILE.items():
        layer = doc.xpath("//*[local-name()='Layer'][*[local-name()='Name']=$n]", n=name)
        assert len(layer) == 1, name
        texts = {child.tag.rsplit("}", 1)[-1]: child.text for child in layer[0]}
        assert texts["Title"] == read
        assert texts["Abstract"].startswith(abstract[:3])
        if version == "1.3.0":  # MapProxy's 1.1.1 document has no layer keywords
            assert keyword.replace("\x1f", "") in layer[0].xpath(".//*[local-name()='Keyword']/text()")


def test_owslib_reads_the_hostile_titles_verbatim(client, hostile):
    from owslib.wms import WebMapService

    resp = client.get("/ows", CAPABILITIES["wms-1.3.0"])
    wms = WebMapService("http://testserver/ows", version="1.3.0", xml=resp.content)
    assert {name: wms[name].title for name in HOSTILE} == {name: row[3] for name, row in HOSTILE.items()}


def test_wmts_capabilities_are_well_formed(client, hostile):
    resp = client.get("/wmts/1.0.0/WMTSCapabilities.xml")
    assert resp.status_code == 200, resp.content[:300]
    doc = parse(resp.content)
    assert_no_injected_markup(doc)
    for name, row in HOSTILE.items():
        titles = doc.xpath("//*[local-name()='Layer'][*[local-name()='Identifier']=$n]/*[local-name()='Title']"
                           "/text()", n=name)
        assert titles == [row[3]], name


def test_tms_capabilities_are_well_formed_with_titles_in_attributes(client, hostile):
    resp = client.get("/tms/1.0.0/")
    assert resp.status_code == 200, resp.content[:300]
    doc = parse(resp.content)
    assert_no_injected_markup(doc)
    titles = {el.get("title") for el in doc.iter("TileMap")}
    assert {row[3] for row in HOSTILE.values()} <= titles
    one = client.get("/tms/1.0.0/land.test_esc_quotes/webmercator")
    assert one.status_code == 200, one.content[:300]
    assert parse(one.content).findtext("Title") == HOSTILE["land.test_esc_quotes"][3]


def mapserv(paths, query: str) -> bytes:
    """A request to MapServer itself (CGI on the command line), body without the CGI headers."""
    env = dict(os.environ, MAPSERVER_CONFIG_FILE=str(paths.mapserver_config), QUERY_STRING=query,
               REQUEST_METHOD="GET", SERVER_NAME="localhost", SERVER_PORT="80", SCRIPT_NAME="/mapserv")
    out = subprocess.run(["/usr/bin/mapserv"], env=env, capture_output=True, timeout=60, check=True).stdout
    return out.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_mapserver_reads_the_mapfile_strings_back_verbatim(hostile, version):
    """The mapfile quoting (`"`, backslash, control characters) is MapServer's: its own capabilities carry
    each title exactly as stored, XML-escaped once by MapServer."""
    body = mapserv(hostile, f"map=CITYGIS&SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities")
    doc = parse(body)
    assert etree.QName(doc).localname in ("WMT_MS_Capabilities", "WMS_Capabilities"), body[:500]
    assert_no_injected_markup(doc)
    for name, row in HOSTILE.items():
        titles = doc.xpath("//*[local-name()='Layer'][*[local-name()='Name']=$n]/*[local-name()='Title']/text()",
                           n=name)
        assert titles == [row[3]], name


def test_getfeatureinfo_html_escapes_attribute_values(client, hostile):
    from .test_wms import getmap_params

    cx, cy = (FEATURE_BBOX[0] + FEATURE_BBOX[2]) / 2, (FEATURE_BBOX[1] + FEATURE_BBOX[3]) / 2
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_esc_amp", LAYERS="land.test_esc_amp",
                           bbox=(cx - 0.015, cy - 0.015, cx + 0.015, cy + 0.015), INFO_FORMAT="text/html",
                           I="150", J="150")
    resp = client.get("/ows", params)
    assert resp.status_code == 200, resp.content[:300]
    page = html.fromstring(resp.content.decode("utf-8"))
    assert page.xpath("//script|//i") == []
    cells = page.xpath("//td/text()")
    assert FEATURE_NAME in cells and "A&B <i>用地</i>" in cells


def test_mapfile_symbols_are_the_style_validators_symbols():
    """One list of point symbols: every symbol layers.style accepts is defined in the mapfile."""
    from layers.style import SYMBOLS
    from tileserver.mapfile import SYMBOL_DEFS

    assert set(SYMBOL_DEFS) == set(SYMBOLS)


@pytest.mark.parametrize("value,quoted", [
    ('a"b', '"a\\"b"'),
    ("a\\b", '"a\\\\b"'),
    ("line1\nline2\r\tend", '"line1 line2 end"'),
    ("nul\x00bell\x07", '"nulbell"'),
    ("A&B <x>", '"A&B <x>"'),  # MapServer escapes its XML itself: not here
])
def test_mapfile_quoting(value, quoted):
    from tileserver.mapfile import q

    assert q(value) == quoted


def test_getfeatureinfo_gml_is_well_formed_with_markup_in_attribute_values(client, hostile):
    from .test_wms import getmap_params

    cx, cy = (FEATURE_BBOX[0] + FEATURE_BBOX[2]) / 2, (FEATURE_BBOX[1] + FEATURE_BBOX[3]) / 2
    params = getmap_params(REQUEST="GetFeatureInfo", QUERY_LAYERS="land.test_esc_amp", LAYERS="land.test_esc_amp",
                           bbox=(cx - 0.015, cy - 0.015, cx + 0.015, cy + 0.015),
                           INFO_FORMAT="application/vnd.ogc.gml", I="150", J="150")
    resp = client.get("/ows", params)
    assert resp.status_code == 200, resp.content[:300]
    doc = parse(resp.content)
    assert_no_injected_markup(doc)
    assert doc.xpath("//*[local-name()='i']") == []
    values = doc.xpath("//*[namespace-uri()='' and (local-name()='name' or local-name()='landuse_name')]/text()")
    assert sorted(values) == sorted([FEATURE_NAME, "A&B <i>用地</i>"])
    assert doc.xpath("//*[local-name()='name' and namespace-uri()!='']/text()") == ["A&B"]  # the layer title
