"""WFS-T (tileserver/wfst.py): Transaction POSTed to /ows — Insert, Update, Delete through
layers.versions.apply_edits (one LayerVersion per layer, all or nothing), writers by the OGC API's rule
(Token or session + CSRF; layers.access.can_write), hostile XML refused, Transaction advertised in the 1.1.0
capabilities for the writer's types only; and QGIS 3.22's WFS provider editing a layer end to end.

Raw POSTs go through Django's test client (the URLconf's /ows); QGIS talks to the production WSGI entry point
(city_gis.wsgi.application) served from a thread of this process, which records the bodies it was sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import geopandas as gpd
import pytest
from django.test import Client
from lxml import etree
from shapely.geometry import box

from layers.models import FeatureHistory, GenericFeature, LandParcel, Layer, LayerVersion

pytestmark = pytest.mark.django_db

GENERIC = "land.test_wfst"
TYPED = "land.test_parcels"  # conftest.tile_data: public, owned by land, one parcel TSTILE-0001
X0, Y0 = 104.86, 26.60  # inside the city, away from the fixture parcels
WFS, OGC, GML, OWS = ("http://www.opengis.net/wfs", "http://www.opengis.net/ogc", "http://www.opengis.net/gml",
                      "http://www.opengis.net/ows")
SYSTEM_PYTHON = "/usr/bin/python3"


# --- fixtures and helpers ------------------------------------------------------------------------------------


def _import_generic(path: Path, name: str) -> Layer:
    from layers.importer import LayerCreate, import_file

    frame = gpd.GeoDataFrame({"code": ["A", "B"], "name": ["甲", "乙"]},
                             geometry=[box(X0, Y0, X0 + 0.001, Y0 + 0.001),
                                       box(X0 + 0.002, Y0, X0 + 0.003, Y0 + 0.001)], crs="EPSG:4490")
    frame.to_file(path, driver="GeoJSON")
    import_file(str(path), name, create=LayerCreate(department="land", title_zh="WFS-T 测试"))
    return Layer.objects.get(name=name)


@pytest.fixture
def generic(tmp_path, tile_data) -> Layer:
    """A generic polygon layer of the land department with features A and B (version 1), a WFS feature type."""
    from tileserver.generate import generate_all

    layer = _import_generic(tmp_path / "wfst.geojson", GENERIC)
    generate_all()  # the mapfile lists it: WFS feature types are what the mapfile publishes
    return layer


def token_of(username: str) -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username=username)
    return {"HTTP_AUTHORIZATION": "Token " + Token.objects.get_or_create(user=user)[0].key}


def post(client, body: str | bytes, headers: dict | None = None, path: str = "/ows",
         content_type: str = "text/xml"):
    return client.post(path, data=body.encode() if isinstance(body, str) else body, content_type=content_type,
                       **(headers if headers is not None else token_of("tiles_land")))


def report(response, status: int) -> tuple[str, str, str]:
    """(exceptionCode, locator, text) of an OWS ExceptionReport with `status`."""
    assert response.status_code == status, response.content[:800]
    root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
    assert etree.QName(root).localname == "ExceptionReport"
    exc = root.find("{*}Exception")
    return exc.get("exceptionCode"), exc.get("locator") or "", exc.findtext("{*}ExceptionText")


def codes(layer: Layer) -> dict[str, GenericFeature]:
    return {f.attributes["code"]: f for f in GenericFeature.objects.filter(layer=layer)}


def versions(layer: Layer) -> list[tuple[int, str, int, int, int]]:
    return [(v.number, v.kind, v.rows_added, v.rows_changed, v.rows_removed)
            for v in LayerVersion.objects.filter(layer=layer).order_by("number")]


def ring(x: float, y: float, size: float = 0.001, lat_lon: bool = True) -> str:
    points = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    return " ".join(f"{b} {a}" if lat_lon else f"{a} {b}" for a, b in points)


def polygon(x: float, y: float, srs: str = "urn:ogc:def:crs:EPSG::4490", size: float = 0.001) -> str:
    lat_lon = srs.startswith("urn:")
    return (f'<gml:MultiSurface srsName="{srs}"><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>'
            f'<gml:posList srsDimension="2">{ring(x, y, size, lat_lon)}</gml:posList></gml:LinearRing>'
            "</gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface>")


def transaction(*actions: str, version: str = "1.1.0", extra: str = "") -> str:
    return (f'<wfs:Transaction service="WFS" version="{version}" xmlns:wfs="{WFS}" xmlns:ogc="{OGC}" '
            f'xmlns:gml="{GML}" xmlns:ms="http://mapserver.gis.umn.edu/mapserver"{extra}>{"".join(actions)}'
            "</wfs:Transaction>")


def insert(code: str, x: float, y: float, name: str = "", layer: str = GENERIC, geometry: str | None = None) -> str:
    name_element = f"<ms:name>{name}</ms:name>" if name else ""
    return (f"<wfs:Insert><ms:{layer}><ms:geom>{geometry or polygon(x, y)}</ms:geom><ms:code>{code}</ms:code>"
            f"{name_element}</ms:{layer}></wfs:Insert>")


def by_id(layer: str, *fids: int, kind: str = "FeatureId") -> str:
    if kind == "GmlObjectId":
        inner = "".join(f'<ogc:GmlObjectId gml:id="{layer}.{fid}"/>' for fid in fids)
    else:
        inner = "".join(f'<ogc:FeatureId fid="{layer}.{fid}"/>' for fid in fids)
    return f"<ogc:Filter>{inner}</ogc:Filter>"


def update(fid: int, layer: str = GENERIC, kind: str = "FeatureId", **props: str | None) -> str:
    body = "".join(f"<wfs:Property><wfs:Name>{k}</wfs:Name>" + ("" if v is None else f"<wfs:Value>{v}</wfs:Value>")
                   + "</wfs:Property>" for k, v in props.items())
    return f'<wfs:Update typeName="ms:{layer}">{body}{by_id(layer, fid, kind=kind)}</wfs:Update>'


def delete(*fids: int, layer: str = GENERIC) -> str:
    return f'<wfs:Delete typeName="ms:{layer}">{by_id(layer, *fids)}</wfs:Delete>'


def response_1_1(inserted: list[str], updated: int = 0, deleted: int = 0) -> bytes:
    results = ""
    if inserted:
        results = "<wfs:InsertResults>" + "".join(
            f'<wfs:Feature><ogc:FeatureId fid="{fid}"/></wfs:Feature>' for fid in inserted) + "</wfs:InsertResults>"
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            f'<wfs:TransactionResponse xmlns:wfs="{WFS}" xmlns:ogc="{OGC}" version="1.1.0">'
            f"<wfs:TransactionSummary><wfs:totalInserted>{len(inserted)}</wfs:totalInserted>"
            f"<wfs:totalUpdated>{updated}</wfs:totalUpdated><wfs:totalDeleted>{deleted}</wfs:totalDeleted>"
            f"</wfs:TransactionSummary>{results}</wfs:TransactionResponse>").encode()


# --- capabilities ------------------------------------------------------------------------------------------


def _caps(client, version: str, headers: dict):
    response = client.get("/ows", {"SERVICE": "WFS", "VERSION": version, "REQUEST": "GetCapabilities"}, **headers)
    assert response.status_code == 200, response.content[:300]
    return etree.fromstring(response.content)


def _editable(root) -> dict[str, list[str]]:
    return {ft.findtext("{*}Name"): [o.text for o in ft.findall("{*}Operations/{*}Operation")]
            for ft in root.iter("{*}FeatureType")}


def test_1_1_0_capabilities_advertise_transaction_for_the_writers_types_only(client, generic, tile_data):
    root = _caps(client, "1.1.0", token_of("tiles_land"))
    operations = _editable(root)
    assert operations[f"ms:{GENERIC}"] == ["Query", "Insert", "Update", "Delete"]
    assert operations[f"ms:{TYPED}"] == ["Query", "Insert", "Update", "Delete"]  # typed, owned by land too
    assert not set(operations["ms:base.roads"]) & {"Insert", "Update", "Delete"}  # another department's
    (transaction_op,) = [o for o in root.iter(f"{{{OWS}}}Operation") if o.get("name") == "Transaction"]
    assert transaction_op.find(".//{*}Post").get("{http://www.w3.org/1999/xlink}href") == "http://testserver/ows?"
    # Operations sits where the 1.1.0 schema has it: after the SRS list, before the WGS84 box
    ft = next(ft for ft in root.iter("{*}FeatureType") if ft.findtext("{*}Name") == f"ms:{GENERIC}")
    names = [etree.QName(c).localname for c in ft]
    assert names.index("Operations") > names.index("DefaultSRS") and names.index("Operations") < names.index(
        "WGS84BoundingBox")
    for headers in ({}, token_of("tiles_planner")):  # anonymous; a planner (no steward of land)
        other = _caps(client, "1.1.0", headers)
        assert not any({"Insert", "Update", "Delete"} & set(ops) for ops in _editable(other).values())
        assert not [o for o in other.iter(f"{{{OWS}}}Operation") if o.get("name") == "Transaction"]
    # 2.0.0: QGIS reads a Transaction operation there as "every type is editable", so it is never listed
    caps_2 = _caps(client, "2.0.0", token_of("tiles_land"))
    assert not [o for o in caps_2.iter("{*}Operation") if o.get("name") == "Transaction"]


# --- insert, update, delete ----------------------------------------------------------------------------------


def test_insert_answers_the_new_ids_and_makes_one_version(client, generic):
    response = post(client, transaction(insert("C", X0 + 0.004, Y0, "丙"), insert("D", X0 + 0.006, Y0)))
    assert response.status_code == 200, response.content[:800]
    rows = codes(generic)
    c, d = rows["C"], rows["D"]
    assert response.content == response_1_1([f"{GENERIC}.{c.pk}", f"{GENERIC}.{d.pk}"])
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert c.attributes == {"code": "C", "name": "丙"} and d.attributes == {"code": "D"}
    # urn:ogc:def:crs:EPSG::4490 is lat/lon on the wire; stored lon/lat
    assert c.geom.extent == pytest.approx((X0 + 0.004, Y0, X0 + 0.005, Y0 + 0.001))
    assert versions(generic) == [(1, "append", 2, 0, 0), (2, "edit", 2, 0, 0)]
    assert LayerVersion.objects.get(layer=generic, number=2).comment == "WFS-T 事务"
    assert LayerVersion.objects.get(layer=generic, number=2).created_by.username == "tiles_land"


def test_update_attributes_and_geometry_and_delete_in_one_transaction(client, generic):
    rows = codes(generic)
    a, b = rows["A"].pk, rows["B"].pk
    moved = polygon(X0 + 0.010, Y0 + 0.010, srs="EPSG:4490")  # EPSG:n: x/y (lon/lat)
    response = post(client, transaction(update(a, name="新名", code="A2"), update(a, kind="GmlObjectId", geom=moved),
                                        delete(b), extra=' handle="整理地块"'))
    assert response.status_code == 200, response.content[:800]
    assert response.content == response_1_1([], updated=2, deleted=1)
    feature = GenericFeature.objects.get(pk=a)
    assert feature.attributes == {"code": "A2", "name": "新名"}
    assert feature.geom.extent == pytest.approx((X0 + 0.010, Y0 + 0.010, X0 + 0.011, Y0 + 0.011))
    assert not GenericFeature.objects.filter(pk=b).exists()
    assert versions(generic)[-1] == (2, "edit", 0, 1, 1)
    assert LayerVersion.objects.get(layer=generic, number=2).comment == "整理地块"  # the Transaction's handle
    # the history has both states of A (feature history: who changed what, and what it was)
    states = FeatureHistory.objects.filter(layer=generic, feature_id=a).order_by("valid_from")
    assert [(s.valid_from, s.valid_to, s.attributes["name"]) for s in states] == [(1, 2, "甲"), (2, None, "新名")]


def test_a_property_without_value_is_null_and_the_typed_layer_converts_its_fields(client, generic, tile_data):
    fid = tile_data["public"].pk
    response = post(client, transaction(update(fid, layer=TYPED, name="改名宗地", area_m2="1234.5",
                                               right_holder=None)))
    assert response.status_code == 200, response.content[:800]
    parcel = LandParcel.objects.get(pk=fid)
    assert (parcel.name, parcel.area_m2, parcel.right_holder) == ("改名宗地", 1234.5, "")
    assert versions(Layer.objects.get(name=TYPED))[-1][1:] == ("edit", 0, 1, 0)


def test_a_generic_layers_json_attributes_replace_its_set_and_server_columns_are_kept(client, generic):
    """WFS publishes a generic layer's JSONB column as `attributes` (JSON text), beside created_at, updated_at and
    layer_id: QGIS sends the edited JSON back whole; the server's own columns are ignored on insert, refused on
    update."""
    a = codes(generic)["A"].pk
    feature = (f"<wfs:Insert><ms:{GENERIC}><ms:geom>{polygon(X0 + 0.004, Y0)}</ms:geom>"
               '<ms:attributes>{"code": "J", "name": "吉"}</ms:attributes><ms:created_at>2020-01-01</ms:created_at>'
               f"<ms:layer_id>1</ms:layer_id></ms:{GENERIC}></wfs:Insert>")
    response = post(client, transaction(feature, update(a, attributes='{"code": "A"}')))
    assert response.status_code == 200, response.content[:800]
    rows = codes(generic)
    assert rows["J"].attributes == {"code": "J", "name": "吉"} and rows["J"].layer_id == generic.pk
    assert rows["A"].attributes == {"code": "A"}  # the object replaces the set: name removed
    assert report(post(client, transaction(update(a, created_at="2020-01-01"))), 400)[1] == "Update[1]/created_at"
    assert report(post(client, transaction(update(a, attributes="[1]"))), 400)[1] == "Update[1]/attributes"
    assert report(post(client, transaction(update(a, attributes='{"colour": "red"}'))), 400)[1] == \
        "Update[1]/colour"  # the OGC API's rule: a generic layer's properties are its attribute keys


def test_other_crs_and_gml_2_coordinates_are_transformed_to_the_storage_crs(client, generic):
    from django.db import connection

    with connection.cursor() as cur:  # a square in EPSG:4544 (northing, easting in the urn form)
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4490), 4544) p",
                    [X0 + 0.02, Y0 + 0.02])
        e, n = cur.fetchone()
    gk = (f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4544"><gml:exterior><gml:LinearRing><gml:posList>'
          f"{n} {e} {n} {e + 50} {n + 50} {e + 50} {n + 50} {e} {n} {e}</gml:posList></gml:LinearRing></gml:exterior>"
          "</gml:Polygon>")
    gml2 = (f'<gml:Polygon srsName="http://www.opengis.net/gml/srs/epsg.xml#4490"><gml:outerBoundaryIs>'
            f"<gml:LinearRing><gml:coordinates>{X0 + 0.03},{Y0} {X0 + 0.031},{Y0} {X0 + 0.031},{Y0 + 0.001} "
            f"{X0 + 0.03},{Y0}</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs></gml:Polygon>")
    response = post(client, transaction(insert("GK", 0, 0, geometry=gk), insert("G2", 0, 0, geometry=gml2)))
    assert response.status_code == 200, response.content[:800]
    rows = codes(generic)
    assert rows["GK"].geom.extent[:2] == pytest.approx((X0 + 0.02, Y0 + 0.02), abs=1e-6)  # PROJ round trip
    assert rows["G2"].geom.extent == pytest.approx((X0 + 0.03, Y0, X0 + 0.031, Y0 + 0.001))


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_wfs_1_0_and_2_0_transactions_answer_in_their_own_form(client, generic, version):
    if version == "2.0.0":
        body = (f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
                f'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
                f'xmlns:ms="http://mapserver.gis.umn.edu/mapserver">'
                f'<wfs:Insert><ms:{GENERIC}><ms:geom>'
                f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4490"><gml:exterior><gml:LinearRing><gml:posList>'
                f"{ring(X0 + 0.004, Y0)}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></ms:geom>"
                f"<ms:code>E</ms:code></ms:{GENERIC}></wfs:Insert>"
                f'<wfs:Update typeName="ms:{GENERIC}"><wfs:Property><wfs:ValueReference>name</wfs:ValueReference>'
                f'<wfs:Value>二</wfs:Value></wfs:Property><fes:Filter><fes:ResourceId rid="{GENERIC}.'
                f'{codes(generic)["A"].pk}"/></fes:Filter></wfs:Update></wfs:Transaction>')
    else:
        body = transaction(insert("E", X0 + 0.004, Y0, geometry=polygon(X0 + 0.004, Y0, srs="EPSG:4490")),
                           update(codes(generic)["A"].pk, name="二"), version="1.0.0")
    response = post(client, body)
    assert response.status_code == 200, response.content[:800]
    root = etree.fromstring(response.content)
    new = f"{GENERIC}.{codes(generic)['E'].pk}"
    if version == "1.0.0":  # what QGIS reads when it edits over a 1.0.0 connection
        assert etree.QName(root).localname == "WFS_TransactionResponse"
        assert [e.get("fid") for e in root.iter(f"{{{OGC}}}FeatureId")] == [new]
        assert root.find(f"{{{WFS}}}TransactionResult/{{{WFS}}}Status/{{{WFS}}}SUCCESS") is not None
    else:
        ns = "http://www.opengis.net/wfs/2.0"
        assert root.findtext(f"{{{ns}}}TransactionSummary/{{{ns}}}totalInserted") == "1"
        assert root.findtext(f"{{{ns}}}TransactionSummary/{{{ns}}}totalUpdated") == "1"
        assert [e.get("rid") for e in root.iter("{http://www.opengis.net/fes/2.0}ResourceId")] == [new]
    assert codes(generic)["A"].attributes["name"] == "二"


# --- all or nothing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "locator"), [
    (lambda layer: update(999_999_999, name="x"), "Update[2]/Filter"),  # no such feature
    (lambda layer: insert("Z", 106.5, 26.0), "Insert[2]/geom"),  # outside the city
    (lambda layer: insert("Z", X0, Y0, geometry='<gml:Point srsName="EPSG:4490"><gml:pos>104.9 26.6</gml:pos>'
                                                 "</gml:Point>"), "Insert[2]/geom"),  # not a polygon
    (lambda layer: insert("Z", X0, Y0, geometry='<gml:Polygon srsName="EPSG:4490"><gml:exterior>'
                                                 "<gml:LinearRing><gml:posList>1 2 3</gml:posList></gml:LinearRing>"
                                                 "</gml:exterior></gml:Polygon>"), "Insert[2]/geom"),  # broken GML
    (lambda layer: insert("Z", X0, Y0, geometry=polygon(X0, Y0, srs="EPSG:2000")), "Insert[2]/geom/srsName"),
    (lambda layer: update(codes(layer)["A"].pk, **{"bad name": "x"}), "Update[2]/bad name"),
    (lambda layer: update(codes(layer)["A"].pk, layer=TYPED, name="x"), "Update[2]/Filter"),  # not a TYPED id
    (lambda layer: delete(codes(layer)["A"].pk, 999_999_999), "Delete[1]/Filter"),
])
def test_a_failing_action_writes_nothing_and_names_its_element(client, generic, bad, locator):
    before = {k: (f.attributes, f.geom.wkt) for k, f in codes(generic).items()}
    response = post(client, transaction(insert("C", X0 + 0.004, Y0), update(codes(generic)["B"].pk, name="改"),
                                        bad(generic)))
    code, got, _text = report(response, 400)
    assert (code, got) == ("InvalidParameterValue", locator)
    assert {k: (f.attributes, f.geom.wkt) for k, f in codes(generic).items()} == before
    assert versions(generic) == [(1, "append", 2, 0, 0)]


def test_a_failure_in_one_layer_leaves_the_other_layer_unchanged(client, generic, tile_data):
    typed = Layer.objects.get(name=TYPED)
    before = versions(typed)
    response = post(client, transaction(update(tile_data["public"].pk, layer=TYPED, name="不应保存"),
                                        insert("Z", 106.5, 26.0)))
    report(response, 400)
    assert LandParcel.objects.get(pk=tile_data["public"].pk).name == "测试宗地一"
    assert versions(typed) == before and versions(generic) == [(1, "append", 2, 0, 0)]


# --- who may write -------------------------------------------------------------------------------------------


def test_another_department_is_refused_with_403_and_nothing_written(client, generic):
    response = post(client, transaction(insert("C", X0 + 0.004, Y0)), token_of("tiles_planner"))
    code, locator, text = report(response, 403)
    assert (code, locator) == ("InvalidParameterValue", "Insert[1]/typeName") and "land" in text
    assert set(codes(generic)) == {"A", "B"}


def basic_auth(username: str, password: str) -> dict:
    import base64

    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_anonymous_wrong_basic_and_query_tokens_are_refused_with_a_token_challenge(client, generic, tile_data):
    from .conftest import PASSWORD

    body = transaction(insert("C", X0 + 0.004, Y0))
    for response in (post(client, body, {}), post(client, body, basic_auth("tiles_land", PASSWORD + "x")),
                     post(client, body, {}, path="/ows?token=" + tile_data["token"])):
        code, _locator, _text = report(response, 401)
        assert code == "Unauthorized" and response["WWW-Authenticate"].startswith("Token")
    assert set(codes(generic)) == {"A", "B"}


def test_basic_credentials_write_with_an_xml_body_only(client, generic):
    """QGIS 3.22 sends Basic from its authentication database; the XML media type is the CSRF defence (a page on
    another site cannot POST text/xml without a preflight), so Basic with a form-encodable type is refused."""
    from .conftest import PASSWORD

    body = transaction(insert("C", X0 + 0.004, Y0))
    refused = post(client, body, basic_auth("tiles_land", PASSWORD), content_type="text/plain")
    assert refused.status_code == 401 and set(codes(generic)) == {"A", "B"}
    response = post(client, body, basic_auth("tiles_land", PASSWORD))
    assert response.status_code == 200, response.content[:600]
    assert set(codes(generic)) == {"A", "B", "C"}
    other = post(client, transaction(insert("D", X0 + 0.005, Y0)), basic_auth("tiles_planner", PASSWORD))
    assert other.status_code == 403 and "D" not in codes(generic)


def test_a_session_writes_only_with_its_csrf_token(generic):
    from django.contrib.auth import get_user_model

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.get(username="tiles_land"))
    body = transaction(insert("C", X0 + 0.004, Y0))
    code, locator, _text = report(post(browser, body, {}), 403)
    assert locator == "X-CSRFToken"
    browser.get("/map/")  # sets the CSRF cookie
    response = post(browser, body, {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value})
    assert response.status_code == 200, response.content[:500]
    assert set(codes(generic)) == {"A", "B", "C"}


def test_a_get_never_writes(client, generic):
    response = client.get("/ows", {"SERVICE": "WFS", "VERSION": "1.1.0", "REQUEST": "Transaction"},
                          **token_of("tiles_land"))
    assert report(response, 400)[:2] == ("OperationNotSupported", "REQUEST")
    assert client.put("/ows", b"", content_type="text/xml", **token_of("tiles_land")).status_code == 405
    assert client.post("/tiles/x", b"", content_type="text/xml", **token_of("tiles_land")).status_code == 405


# --- hostile and bad input -----------------------------------------------------------------------------------

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + f']><wfs:Transaction service="WFS" version="1.1.0" xmlns:wfs="{WFS}">&lol9;</wfs:Transaction>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   + transaction(insert("&xxe;", X0 + 0.004, Y0)))
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE t SYSTEM "http://127.0.0.1:9/evil.dtd">' + transaction(
    insert("C", X0 + 0.004, Y0))


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
                                  EXTERNAL_ENTITY.replace('"1.0"?>', '"1.0" encoding="UTF-16"?>', 1).encode("utf-16")],
                         ids=["laughs", "xxe", "dtd", "xxe-utf16"])
def test_hostile_xml_is_refused_before_anything_is_read(client, generic, body):
    started = time.monotonic()
    response = post(client, body)
    code, locator, _text = report(response, 400)
    assert (code, locator) == ("OperationParsingFailed", "DOCTYPE")
    assert b"root:" not in response.content and b"lollol" not in response.content
    assert time.monotonic() - started < 2
    assert set(codes(generic)) == {"A", "B"}


@pytest.mark.parametrize(("body", "status", "code", "locator"), [
    ("<wfs:Transaction", 400, "OperationParsingFailed", "body"),
    (f'<wfs:GetFeature service="WFS" version="1.1.0" xmlns:wfs="{WFS}"/>', 400, "OperationNotSupported",
     "GetFeature"),
    (f'<wfs:Transaction version="1.1.0" xmlns:wfs="{WFS}"/>', 400, "MissingParameterValue", "service"),
    (f'<wfs:Transaction service="WFS" version="3.0.0" xmlns:wfs="{WFS}"/>', 400, "InvalidParameterValue", "version"),
    (transaction(), 400, "MissingParameterValue", "Transaction"),
    (transaction('<wfs:Native vendorId="x" safeToIgnore="false">DROP TABLE x</wfs:Native>'), 400,
     "OperationNotSupported", "Native"),
    (transaction(f'<wfs:Delete typeName="ms:{GENERIC}"><ogc:Filter><ogc:PropertyIsEqualTo>'
                 "<ogc:PropertyName>code</ogc:PropertyName><ogc:Literal>A</ogc:Literal></ogc:PropertyIsEqualTo>"
                 "</ogc:Filter></wfs:Delete>"), 400, "InvalidParameterValue", "Delete[1]/Filter/PropertyIsEqualTo"),
    (transaction(f'<wfs:Delete typeName="ms:{GENERIC}"/>'), 400, "MissingParameterValue", "Delete[1]/Filter"),
    (transaction('<wfs:Delete typeName="ms:land.nope"><ogc:Filter><ogc:FeatureId fid="land.nope.1"/></ogc:Filter>'
                 "</wfs:Delete>"), 400, "InvalidParameterValue", "Delete[1]/typeName"),
    (transaction('<wfs:Insert idgen="UseExisting"/>'), 400, "InvalidParameterValue", "Insert[1]/idgen"),
    (transaction(f'<wfs:Update typeName="ms:{GENERIC}"><ogc:Filter><ogc:FeatureId fid="1"/></ogc:Filter>'
                 "</wfs:Update>"), 400, "MissingParameterValue", "Update[1]/Property"),
])
def test_bad_transactions_are_a_4xx_naming_the_element(client, generic, body, status, code, locator):
    assert report(post(client, body), status)[:2] == (code, locator)
    assert set(codes(generic)) == {"A", "B"}


def test_a_hostile_handle_comes_back_escaped_in_the_locator(client, generic):
    body = transaction(f'<wfs:Update typeName="ms:{GENERIC}" handle="&lt;x&quot;&amp;&gt;"><wfs:Property>'
                       f"<wfs:Name>name</wfs:Name></wfs:Property><ogc:Filter><ogc:FeatureId fid=\"{GENERIC}.999999\"/>"
                       "</ogc:Filter></wfs:Update>")
    code, locator, _text = report(post(client, body), 400)
    assert locator == '<x"&>/Filter'


def test_body_and_feature_bounds(client, generic, settings):
    settings.CITYGIS_WFST_MAX_FEATURES = 2
    body = transaction(insert("C", X0 + 0.004, Y0), delete(codes(generic)["A"].pk, codes(generic)["B"].pk))
    assert report(post(client, body), 400)[:2] == ("InvalidParameterValue", "Delete[1]")
    settings.CITYGIS_WFST_MAX_BODY = 500
    assert report(post(client, body), 413)[1] == "body"
    assert report(post(client, "x" * 10, content_type="application/json"), 415)[1] == "Content-Type"
    assert set(codes(generic)) == {"A", "B"}


# --- QGIS 3.22, end to end -----------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def qgis_site(tile_data, django_db_blocker, tmp_path_factory):
    """A committed generic layer `land.test_wfst_qgis` and http://127.0.0.1:<port> serving the production WSGI
    application (city_gis.wsgi) from a thread, recording every POST body it receives."""
    from django.db import connection

    from city_gis.wsgi import application
    from tileserver.generate import generate_all

    name = "land.test_wfst_qgis"
    with django_db_blocker.unblock():
        Layer.objects.filter(name=name).delete()
        layer = _import_generic(tmp_path_factory.mktemp("wfst") / "qgis.geojson", name)
        generate_all()
    posted: list[bytes] = []

    def app(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            posted.append(body)
            import io

            environ["wsgi.input"] = io.BytesIO(body)
        try:
            return application(environ, start_response)
        finally:
            connection.close()

    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/ows", "layer": layer, "posted": posted}
    server.shutdown()
    server.server_close()
    with django_db_blocker.unblock():
        Layer.objects.filter(name=name).delete()
        GenericFeature.objects.filter(layer_id=layer.pk).delete()


QGIS_EDIT_SCRIPT = r"""
import json, os, sys
from qgis.core import (QgsApplication, QgsFeature, QgsGeometry, QgsNetworkAccessManager, QgsVectorDataProvider,
                       QgsVectorLayer)
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda text, tag, level: messages.append((tag, text)))
url, typename, token = sys.argv[1:4]
# QGIS 3.22 has no HTTP-header setting for WFS: a request preprocessor adds the token (docs/wfs.md)
QgsNetworkAccessManager.setRequestPreprocessor(lambda request: request.setRawHeader(b"Authorization",
                                                                                   ("Token " + token).encode()))
layer = QgsVectorLayer(f"url='{url}' typename='ms:{typename}' version='1.1.0' srsname='EPSG:4490'", "t", "WFS")
out = {"valid": layer.isValid()}
provider = layer.dataProvider()
caps = provider.capabilities()
out["caps"] = [name for name, flag in (("add", QgsVectorDataProvider.AddFeatures),
                                       ("change", QgsVectorDataProvider.ChangeAttributeValues),
                                       ("geometry", QgsVectorDataProvider.ChangeGeometries),
                                       ("delete", QgsVectorDataProvider.DeleteFeatures)) if caps & flag]
fields = layer.fields()
out["fields"] = [f.name() for f in fields]
if not layer.isValid() or "attributes" not in out["fields"]:
    out["errors"] = provider.errors() if provider else []
    print(json.dumps(out, ensure_ascii=False), flush=True)
    os._exit(0)
# a generic layer's attributes are one JSON text field in WFS (its JSONB column)
features = {json.loads(f["attributes"])["code"]: f for f in layer.getFeatures()}
out["read"] = sorted(features)
new = QgsFeature(fields)
new.setAttribute("attributes", json.dumps({"code": "Q", "name": "青"}, ensure_ascii=False))
new.setGeometry(QgsGeometry.fromWkt("MULTIPOLYGON(((104.87 26.61, 104.871 26.61, 104.871 26.611, 104.87 26.611, "
                                    "104.87 26.61)))"))
ok, added = provider.addFeatures([new])
out["added"] = ok
out["new_id"] = added[0].id() if ok else None
a = features["A"]
out["changed"] = provider.changeAttributeValues({a.id(): {fields.indexOf("attributes"): json.dumps(
    {"code": "A", "name": "改名"}, ensure_ascii=False)}})
out["moved"] = provider.changeGeometryValues({a.id(): QgsGeometry.fromWkt(
    "MULTIPOLYGON(((104.88 26.62, 104.881 26.62, 104.881 26.621, 104.88 26.621, 104.88 26.62)))")})
out["deleted"] = provider.deleteFeatures([features["B"].id()])
out["errors"] = provider.errors()
outside = QgsFeature(fields)  # outside the city: the server's 400 reaches the user as QGIS' provider error
outside.setAttribute("attributes", json.dumps({"code": "X"}))
outside.setGeometry(QgsGeometry.fromWkt("MULTIPOLYGON(((106.5 26, 106.501 26, 106.501 26.001, 106.5 26)))"))
out["outside_added"] = provider.addFeatures([outside])[0]
out["outside_errors"] = provider.errors()
out["messages"] = messages
print(json.dumps(out, ensure_ascii=False), flush=True)
os._exit(0)  # QGIS 3.22 may crash in exitQgis() while providers are alive; the answer is printed
"""


def _has_qgis() -> bool:
    return Path(SYSTEM_PYTHON).exists() and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_qgis(), reason="python3-qgis not installed (scripts/setup.sh installs it)")
def test_qgis_wfs_provider_adds_changes_and_deletes_features_in_postgis(qgis_site, tile_data, tmp_path):
    layer = qgis_site["layer"]
    b = codes(layer)["B"].pk
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "QT_QPA_PLATFORM": "offscreen", "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path)}
    run = subprocess.run([SYSTEM_PYTHON, "-c", QGIS_EDIT_SCRIPT, qgis_site["url"], layer.name, tile_data["token"]],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["valid"] and out.get("read") == ["A", "B"], out
    assert out["caps"] == ["add", "change", "geometry", "delete"], out
    assert (out["added"], out["changed"], out["moved"], out["deleted"]) == (True, True, True, True), out
    # a refused Transaction: QGIS reports the server's exception text in its WFS message log
    assert out["outside_added"] is False
    # (in QGIS's language: headless QGIS asks for English; the text is the domain's translated message)
    assert any(tag == "WFS" and text.startswith("WFS exception report (code=InvalidParameterValue text=")
               and ("几何超出市域范围" in text or "geometry outside the city" in text)
               for tag, text in out["messages"]), out["messages"]
    # what QGIS sent: WFS 1.1.0 Transactions, one per provider call; GML 3 in urn:…:4490 (lat/lon), FeatureId
    sent = [etree.fromstring(body) for body in qgis_site["posted"]]
    assert [(etree.QName(t).localname, t.get("version")) for t in sent] == [("Transaction", "1.1.0")] * 5
    assert [etree.QName(t[0]).localname for t in sent] == ["Insert", "Update", "Update", "Delete", "Insert"]
    assert {g.get("srsName") for g in sent[0].iter(f"{{{GML}}}MultiPolygon")} == {"urn:ogc:def:crs:EPSG::4490"}
    assert [f.get("fid") for f in sent[3].iter(f"{{{OGC}}}FeatureId")] == [f"{layer.name}.{b}"]
    # the rows in PostGIS
    rows = codes(layer)
    assert set(rows) == {"A", "Q"}
    assert rows["Q"].attributes == {"code": "Q", "name": "青"}
    assert rows["Q"].geom.extent == pytest.approx((104.87, 26.61, 104.871, 26.611))
    assert rows["A"].attributes["name"] == "改名"
    assert rows["A"].geom.extent == pytest.approx((104.88, 26.62, 104.881, 26.621))
    assert versions(layer) == [(1, "append", 2, 0, 0), (2, "edit", 1, 0, 0), (3, "edit", 0, 1, 0),
                               (4, "edit", 0, 1, 0), (5, "edit", 0, 0, 1)]
