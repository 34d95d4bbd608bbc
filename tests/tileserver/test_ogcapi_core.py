"""OGC API – Features Part 1 Core at /ogcapi/ (tileserver/ogcapi): landing page, conformance, collections from the
registry behind layers.access, items with paging links, bbox, datetime and property filters, one item, HTML.

Through Django's test client (the same URLconf gunicorn serves: /ogcapi/ is not one of the fast-path prefixes of
tileserver/wsgi.py); the real clients (OWSLib, GDAL, QGIS) are in test_ogcapi_clients.py.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html as lxml_html

from .conftest import PARCEL_BBOX, PASSWORD
from .test_capabilities_escaping import FEATURE_NAME, HOSTILE, SCRIPT, hostile  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

PUBLIC, RESTRICTED = "land.test_parcels", "land.test_restricted"
BASE = "/ogcapi"


def basic(username: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()}


def get_json(client, url: str, params: dict | None = None, status: int = 200, **headers) -> dict:
    response = client.get(url, params or {}, **headers)
    assert response.status_code == status, (url, params, response.content[:500])
    return json.loads(response.content)


def sql_count(name: str, where: str = "") -> int:
    """A layer's rows counted in PostGIS with the registry's own FROM/WHERE (no input in the SQL)."""
    from django.db import connection

    from layers.models import Layer
    from layers.registry import layer_from_sql

    base = layer_from_sql(Layer.objects.get(name=name))
    glue = (" AND " if " WHERE " in base else " WHERE ") if where else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) {base}{glue}{where}")
        return cur.fetchone()[0]


# --- landing page, conformance, API definition -------------------------------------------------------------


def test_landing_page_links_the_api_definition_conformance_and_collections(client, tile_data):
    data = get_json(client, BASE + "/")
    by_rel = {link["rel"]: link for link in data["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data"} <= set(by_rel)
    assert by_rel["data"]["href"] == "http://testserver/ogcapi/collections"
    assert by_rel["conformance"]["href"] == "http://testserver/ogcapi/conformance"
    assert client.get(BASE).status_code == 200  # with or without the trailing slash


def test_conformance_declares_parts_1_2_3_and_cql2(client, tile_data):
    classes = set(get_json(client, BASE + "/conformance")["conformsTo"])
    for uri in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                "ogcapi-features-1/1.0/conf/html", "ogcapi-features-2/1.0/conf/crs",
                "ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/features-filter",
                "ogcapi-features-3/1.0/conf/queryables", "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json",
                "cql2/1.0/conf/basic-spatial-functions"):
        assert f"http://www.opengis.net/spec/{uri}" in classes


def test_api_definition_states_the_limit_bounds(client, tile_data, settings):
    settings.CITYGIS_OGCAPI_MAX_LIMIT = 5000
    response = client.get(BASE + "/api")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    items = json.loads(response.content)["paths"]["/collections/{collectionId}/items"]["get"]
    limit = next(p for p in items["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100}


# --- collections -------------------------------------------------------------------------------------------


def _visible_vector_names(username: str | None) -> set[str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    from layers.access import visible_layers
    from layers.registry import table_columns

    user = AnonymousUser() if username is None else get_user_model().objects.get(username=username)
    layers = visible_layers(user, partial=True).filter(kind="vector")
    # a registration whose table is missing is no collection (other suites may leave such a test layer behind)
    return {layer.name for layer in layers if table_columns(layer.source_table)}


def test_anonymous_collections_are_the_public_vector_layers_of_the_registry(client, tile_data):
    data = get_json(client, BASE + "/collections")
    ids = {c["id"] for c in data["collections"]}
    assert ids == _visible_vector_names(None)
    assert PUBLIC in ids and "land.parcels" in ids
    assert RESTRICTED not in ids and "raster.dem" not in ids
    assert not {i for i in ids if i.startswith(("cases.", "evaluation."))}
    assert RESTRICTED.encode() not in client.get(BASE + "/collections").content


def test_a_collection_carries_extent_titles_owner_frequency_and_crs(client, tile_data):
    from layers.models import Layer

    layer = Layer.objects.get(name="land.parcels")
    data = get_json(client, BASE + "/collections/land.parcels")
    assert data["id"] == "land.parcels" and data["itemType"] == "feature"
    assert data["title"] == layer.title_zh and data["title_zh"] == layer.title_zh
    assert data["title_en"] == layer.title_en
    assert data["owner"] == {"code": layer.owner.code, "name": layer.owner.name_zh,
                             "name_en": layer.owner.name_en}
    assert data["updateFrequency"] == layer.update_frequency
    assert data["extent"]["spatial"] == {"bbox": [list(layer.bbox)],
                                         "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    assert data["extent"]["temporal"]["interval"][0][0] is not None  # updated_at
    assert data["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/4490"
    assert "http://www.opengis.net/def/crs/EPSG/0/4544" in data["crs"]
    items_links = [link for link in data["links"] if link["rel"] == "items"]
    assert {link["type"] for link in items_links} == {"application/geo+json", "text/html"}


def test_a_collection_without_a_time_column_has_no_temporal_extent(client, tile_data):
    assert "temporal" not in get_json(client, f"{BASE}/collections/{PUBLIC}")["extent"]


def test_english_titles_for_english_clients(client, tile_data):
    from layers.models import Layer

    layer = Layer.objects.get(name="land.parcels")
    assert layer.title_en
    data = get_json(client, BASE + "/collections/land.parcels", HTTP_ACCEPT_LANGUAGE="en")
    assert data["title"] == layer.title_en


@pytest.mark.parametrize("path", ["", "/items", "/queryables", "/items/1"])
def test_restricted_collection_is_401_anonymous_403_other_department(client, tile_data, path):
    anonymous = client.get(f"{BASE}/collections/{RESTRICTED}{path}")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    assert anonymous["Content-Type"] == "application/problem+json"
    planner = client.get(f"{BASE}/collections/{RESTRICTED}{path}", **basic("tiles_planner"))
    assert planner.status_code == 403 and "WWW-Authenticate" not in planner
    for response in (anonymous, planner):
        assert b"TSTILE-0002" not in response.content and b"FeatureCollection" not in response.content


def test_owner_department_token_lists_and_reads_the_restricted_collection(client, tile_data):
    token = {"HTTP_AUTHORIZATION": f"Token {tile_data['token']}"}
    ids = {c["id"] for c in get_json(client, BASE + "/collections", **token)["collections"]}
    assert RESTRICTED in ids
    assert ids == _visible_vector_names("tiles_land")
    items = get_json(client, f"{BASE}/collections/{RESTRICTED}/items", **token)
    assert [f["properties"]["parcel_code"] for f in items["features"]] == ["TSTILE-0002"]
    via_basic = get_json(client, f"{BASE}/collections/{RESTRICTED}/items", **basic("tiles_land"))
    assert via_basic["numberMatched"] == 1
    assert RESTRICTED not in {c["id"] for c in get_json(client, BASE + "/collections",
                                                          **basic("tiles_planner"))["collections"]}


def test_wrong_credentials_are_401_not_anonymous(client, tile_data):
    response = client.get(BASE + "/collections", HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"tiles_land:no").decode())
    assert response.status_code == 401 and json.loads(response.content)["status"] == 401


@pytest.mark.parametrize("name", ["land.nope", "raster.dem", "land", "x" * 300, "%00", "land.parcels%00",
                                  "LAND.PARCELS", "land.parcels'--"])
def test_unknown_or_raster_collection_is_404(client, tile_data, name):
    response = client.get(f"{BASE}/collections/{name}/items")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


# --- items -------------------------------------------------------------------------------------------------


def test_items_are_geojson_with_counts_timestamp_and_links(client, tile_data):
    response = client.get(f"{BASE}/collections/{PUBLIC}/items")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection" and data["numberMatched"] == data["numberReturned"] == 1
    assert data["timeStamp"].endswith("Z")
    (feature,) = data["features"]
    assert feature["id"] == tile_data["public"].pk
    assert feature["properties"] == {"id": tile_data["public"].pk, "parcel_code": "TSTILE-0001",
                                     "landuse_code": "0701", "landuse_name": "城镇住宅用地", "name": "测试宗地一",
                                     "area_m2": 1000.0}
    assert {link["rel"] for link in data["links"]} == {"self", "alternate", "collection"}  # one page only


def test_paging_with_next_links_returns_every_feature_once(client, tile_data):
    total = sql_count("land.parcels")
    url, ids, pages = f"{BASE}/collections/land.parcels/items?limit=100", [], 0
    while url:
        data = get_json(client, url.replace("http://testserver", ""))
        assert data["numberMatched"] == total
        ids += [f["id"] for f in data["features"]]
        pages += 1
        links = {link["rel"]: link["href"] for link in data["links"] if link["type"] == "application/geo+json"}
        if pages > 1:
            assert parse_qs(urlsplit(links["prev"]).query)["offset"] == [str((pages - 2) * 100)]
        url = links.get("next")
    assert len(ids) == total == len(set(ids)) and ids == sorted(ids)
    assert pages == -(-total // 100)


def test_limit_over_the_maximum_is_clamped_and_links_say_so(client, tile_data, settings):
    settings.CITYGIS_OGCAPI_MAX_LIMIT = 7
    data = get_json(client, f"{BASE}/collections/land.parcels/items", {"limit": "100000"})
    assert data["numberReturned"] == 7
    self_link = next(link for link in data["links"] if link["rel"] == "self")
    assert parse_qs(urlsplit(self_link["href"]).query)["limit"] == ["7"]


def test_default_limit(client, tile_data, settings):
    settings.CITYGIS_OGCAPI_DEFAULT_LIMIT = 3
    assert get_json(client, f"{BASE}/collections/land.parcels/items")["numberReturned"] == 3


def test_bbox_selects_features_that_intersect_it(client, tile_data):
    minx, miny, maxx, maxy = PARCEL_BBOX
    inside = get_json(client, f"{BASE}/collections/{PUBLIC}/items",
                      {"bbox": f"{minx + 0.004},{miny + 0.004},{minx + 0.006},{miny + 0.006}"})
    assert inside["numberMatched"] == 1
    outside = get_json(client, f"{BASE}/collections/{PUBLIC}/items", {"bbox": "104.0,25.0,104.1,25.1"})
    assert outside["numberMatched"] == 0 and outside["features"] == []
    box = "104.80,26.57,104.84,26.60"
    where = ("ST_Intersects(geom, ST_MakeEnvelope(104.80, 26.57, 104.84, 26.60, 4490))")
    assert get_json(client, f"{BASE}/collections/land.parcels/items", {"bbox": box})["numberMatched"] == \
        sql_count("land.parcels", where) > 0


def test_property_filter_on_a_queryable_column(client, tile_data):
    data = get_json(client, f"{BASE}/collections/land.parcels/items", {"landuse_code": "0701", "limit": "1000"})
    assert data["numberMatched"] == sql_count("land.parcels", "landuse_code = '0701'") > 0
    assert {f["properties"]["landuse_code"] for f in data["features"]} == {"0701"}
    assert get_json(client, f"{BASE}/collections/{PUBLIC}/items", {"area_m2": "1000"})["numberMatched"] == 1
    assert get_json(client, f"{BASE}/collections/{PUBLIC}/items", {"area_m2": "999.5"})["numberMatched"] == 0


def test_datetime_filters_on_the_temporal_property(client, tile_data):
    url = f"{BASE}/collections/land.parcels/items"
    total = sql_count("land.parcels")
    assert get_json(client, url, {"datetime": "../2000-01-01T00:00:00Z"})["numberMatched"] == 0
    assert get_json(client, url, {"datetime": "2000-01-01T00:00:00Z/.."})["numberMatched"] == total
    assert get_json(client, url, {"datetime": "2000-01-01/2999-12-31"})["numberMatched"] == total
    assert get_json(client, url, {"datetime": "2000-01-01T00:00:00Z"})["numberMatched"] == 0  # an instant


def test_datetime_on_a_collection_without_time_is_a_400(client, tile_data):
    data = get_json(client, f"{BASE}/collections/{PUBLIC}/items", {"datetime": "2020-01-01"}, status=400)
    assert data["parameter"] == "datetime"


def test_one_item_and_its_absence(client, tile_data):
    pk = tile_data["public"].pk
    response = client.get(f"{BASE}/collections/{PUBLIC}/items/{pk}")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    feature = json.loads(response.content)
    assert feature["type"] == "Feature" and feature["id"] == pk
    assert feature["properties"]["parcel_code"] == "TSTILE-0001"
    assert {link["rel"] for link in feature["links"]} >= {"self", "alternate", "collection"}
    # The restricted parcel sits in the same table: the public collection's filter hides it.
    for missing in (tile_data["secret"].pk, 10**12, "abc", "-1", "9" * 30, "%00", "1%00"):
        assert client.get(f"{BASE}/collections/{PUBLIC}/items/{missing}").status_code == 404


# --- HTML ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/conformance", "/collections", "/collections/land.parcels",
                                  "/collections/land.parcels/items", "/collections/land.parcels/queryables"])
def test_every_resource_has_an_html_view(client, tile_data, path):
    by_f = client.get(BASE + path, {"f": "html"})
    by_accept = client.get(BASE + path, HTTP_ACCEPT="text/html,application/xhtml+xml")
    for response in (by_f, by_accept):
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        lxml_html.fromstring(response.content)


@pytest.mark.usefixtures("hostile")
def test_html_is_escaped(client):
    collections = client.get(BASE + "/collections", {"f": "html"}).content.decode()
    assert "<x:script" not in collections and "&lt;x:script" in collections
    items = client.get(f"{BASE}/collections/land.test_esc_script/items", {"f": "html"}).content.decode()
    assert FEATURE_NAME not in items and "&lt;script&gt;" in items
    doc = lxml_html.fromstring(items)
    assert not doc.xpath("//script")
    data = get_json(client, f"{BASE}/collections/land.test_esc_script")
    assert data["title"] == SCRIPT  # JSON carries the text as it is
    assert HOSTILE  # the fixture's layers


def test_html_follows_the_language(client, tile_data):
    zh = client.get(BASE + "/collections", {"f": "html"}).content.decode()
    en = client.get(BASE + "/collections", {"f": "html"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "要素集合" in zh and "Feature collections" in en


# --- headers ---------------------------------------------------------------------------------------------


def test_security_headers_and_cors_only_for_anonymous_answers(client, tile_data):
    anonymous = client.get(BASE + "/collections")
    assert anonymous["X-Content-Type-Options"] == "nosniff" and anonymous["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in anonymous["Vary"]
    signed = client.get(BASE + "/collections", **basic("tiles_land"))
    assert "Access-Control-Allow-Origin" not in signed and "private" in signed["Cache-Control"]


def test_writes_are_not_allowed_on_read_only_resources(client, tile_data):
    # /items and /items/{id} take the Part 4 writes (tests/tileserver/test_ogcapi_write.py); the rest is read-only
    response = client.post(f"{BASE}/collections/{PUBLIC}", data="{}", content_type="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


def test_head_answers_like_get_without_a_body(client, tile_data):
    response = client.head(f"{BASE}/collections/{PUBLIC}/items")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    assert response.content == b""
