"""OGC API – Features Part 3 (tileserver/ogcapi/cql.py): queryables, CQL2 text and JSON compiled to parameterised
SQL against the queryable columns only, `filter-crs`; and the table of bad input — every one a 400 problem
naming its parameter, never a 500, never SQL from input.

Each filter's numberMatched is compared with the same condition counted straight in PostGIS.
"""

from __future__ import annotations

import json

import pytest

from .conftest import PARCEL_CENTER
from .test_ogcapi_core import sql_count

pytestmark = pytest.mark.django_db

PUBLIC = "land.test_parcels"
PARCELS = "/ogcapi/collections/land.parcels/items"


def matched(client, url: str = PARCELS, **params) -> int:
    response = client.get(url, params)
    assert response.status_code == 200, (params, response.content[:400])
    return json.loads(response.content)["numberMatched"]


def problem(client, url: str = PARCELS, status: int = 400, **params) -> dict:
    response = client.get(url, params)
    assert response.status_code == status, (params, response.content[:400])
    assert response["Content-Type"] == "application/problem+json"
    return json.loads(response.content)


# --- queryables --------------------------------------------------------------------------------------------


def test_queryables_are_a_json_schema_of_the_published_columns(client, tile_data):
    response = client.get(f"/ogcapi/collections/{PUBLIC}/queryables")
    assert response.status_code == 200 and response["Content-Type"] == "application/schema+json"
    schema = json.loads(response.content)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    props = schema["properties"]
    assert set(props) == {"geometry", "id", "parcel_code", "landuse_code", "landuse_name", "name", "area_m2"}
    assert props["geometry"]["format"] == "geometry-polygon"
    assert (props["area_m2"]["type"], props["id"]["type"], props["name"]["type"]) == ("number", "integer", "string")


def test_queryables_mark_the_temporal_property(client, tile_data):
    props = json.loads(client.get("/ogcapi/collections/land.parcels/queryables").content)["properties"]
    assert props["updated_at"] == {"title": "updated_at", "type": "string", "format": "date-time",
                                   "x-ogc-role": "primary-instant"}
    assert props["synthetic"]["type"] == "boolean"


def test_queryables_of_a_field_with_choices_list_them_with_their_titles(client, tile_data):
    """A closed list (a model field's choices) is an `enum` with `x-enum-titles`: the /map/ edit form's drop-down."""
    response = client.get("/ogcapi/collections/base.roads/queryables")
    assert response.status_code == 200, response.content[:300]
    grade = json.loads(response.content)["properties"]["grade"]
    assert grade["enum"] == ["expressway", "arterial", "secondary", "branch"]
    assert grade["x-enum-titles"] == ["快速路", "主干路", "次干路", "支路"]
    assert grade["maxLength"] == 12


# --- CQL2 text and JSON ------------------------------------------------------------------------------------

# (cql2-text, cql2-json, the same condition in SQL on the layer's table)
EQUIVALENT = [
    ("landuse_code = '0701'", {"op": "=", "args": [{"property": "landuse_code"}, "0701"]}, "landuse_code = '0701'"),
    ("landuse_code <> '0701'", {"op": "<>", "args": [{"property": "landuse_code"}, "0701"]},
     "landuse_code <> '0701'"),
    ("area_m2 > 5000 AND landuse_code LIKE '07%'",
     {"op": "and", "args": [{"op": ">", "args": [{"property": "area_m2"}, 5000]},
                            {"op": "like", "args": [{"property": "landuse_code"}, "07%"]}]},
     "area_m2 > 5000 AND landuse_code LIKE '07%'"),
    ("landuse_code IN ('0701', '0601')", {"op": "in", "args": [{"property": "landuse_code"}, ["0701", "0601"]]},
     "landuse_code IN ('0701', '0601')"),
    ("area_m2 BETWEEN 1000 AND 20000", {"op": "between", "args": [{"property": "area_m2"}, 1000, 20000]},
     "area_m2 BETWEEN 1000 AND 20000"),
    ("right_holder IS NULL", {"op": "isNull", "args": [{"property": "right_holder"}]}, "right_holder IS NULL"),
    ("NOT (landuse_code = '0701') OR area_m2 < 100",
     {"op": "or", "args": [{"op": "not", "args": [{"op": "=", "args": [{"property": "landuse_code"}, "0701"]}]},
                           {"op": "<", "args": [{"property": "area_m2"}, 100]}]},
     "NOT (landuse_code = '0701') OR area_m2 < 100"),
    ("CASEI(landuse_name) LIKE '%住宅%'",
     {"op": "like", "args": [{"op": "casei", "args": [{"property": "landuse_name"}]}, "%住宅%"]},
     "lower(landuse_name) LIKE '%住宅%'"),
    ("synthetic = true", {"op": "=", "args": [{"property": "synthetic"}, True]}, "synthetic"),
    ("updated_at > TIMESTAMP('2000-01-01T00:00:00Z')",
     {"op": ">", "args": [{"property": "updated_at"}, {"timestamp": "2000-01-01T00:00:00Z"}]},
     "updated_at > '2000-01-01T00:00:00Z'"),
    ("area_m2 * 2 > 10000", {"op": ">", "args": [{"op": "*", "args": [{"property": "area_m2"}, 2]}, 10000]},
     "area_m2 * 2 > 10000"),
    ("S_INTERSECTS(geometry, POLYGON((104.80 26.57, 104.84 26.57, 104.84 26.60, 104.80 26.60, 104.80 26.57)))",
     {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[
         [104.80, 26.57], [104.84, 26.57], [104.84, 26.60], [104.80, 26.60], [104.80, 26.57]]]}]},
     "ST_Intersects(geom, ST_MakeEnvelope(104.80, 26.57, 104.84, 26.60, 4490))"),
    ("S_WITHIN(geometry, BBOX(104.80, 26.57, 104.84, 26.60))",
     {"op": "s_within", "args": [{"property": "geometry"}, {"bbox": [104.80, 26.57, 104.84, 26.60]}]},
     "ST_Within(geom, ST_MakeEnvelope(104.80, 26.57, 104.84, 26.60, 4490))"),
]


@pytest.mark.parametrize(("text", "document", "where"), EQUIVALENT, ids=[e[0][:40] for e in EQUIVALENT])
def test_cql2_text_and_json_select_what_postgis_selects(client, tile_data, text, document, where):
    expected = sql_count("land.parcels", where)
    assert matched(client, filter=text) == expected
    assert matched(client, filter=json.dumps(document), **{"filter-lang": "cql2-json"}) == expected
    assert matched(client, filter=text, **{"filter-lang": "cql2-text"}) == expected


def test_temporal_operators(client, tile_data):
    total = sql_count("land.parcels")
    after = {"op": "t_after", "args": [{"property": "updated_at"}, {"timestamp": "2000-01-01T00:00:00Z"}]}
    before = {"op": "t_before", "args": [{"property": "updated_at"}, {"timestamp": "2000-01-01T00:00:00Z"}]}
    during = {"op": "t_intersects", "args": [{"property": "updated_at"}, {"interval": ["2000-01-01", ".."]}]}
    for document, expected in ((after, total), (before, 0), (during, total)):
        assert matched(client, filter=json.dumps(document), **{"filter-lang": "cql2-json"}) == expected
    # pygeofilter 0.4 reads the text form infix (docs/ogcapi.md)
    assert matched(client, filter="updated_at T_AFTER TIMESTAMP('2000-01-01T00:00:00Z')") == total
    assert problem(client, filter=json.dumps({"op": "t_after", "args": [{"property": "area_m2"},
                                                                        {"timestamp": "2000-01-01T00:00:00Z"}]}),
                   **{"filter-lang": "cql2-json"})["parameter"] == "filter"


def test_filters_select_a_real_subset(client, tile_data):
    total = sql_count("land.parcels")
    assert 0 < matched(client, filter="landuse_code = '0701'") < total
    assert 0 < matched(client, filter="S_WITHIN(geometry, BBOX(104.80, 26.57, 104.84, 26.60))") < total


def test_spatial_contains_a_point(client, tile_data):
    x, y = PARCEL_CENTER
    url = f"/ogcapi/collections/{PUBLIC}/items"
    assert matched(client, url, filter=f"S_CONTAINS(geometry, POINT({x} {y}))") == 1
    assert matched(client, url, filter=f"S_CONTAINS(geometry, POINT({x + 1} {y}))") == 0
    assert matched(client, url, filter=f"S_DISJOINT(geometry, POINT({x + 1} {y}))") == 1


def test_filter_crs_gives_the_axis_order_of_geometry_literals(client, tile_data):
    x, y = PARCEL_CENTER
    url = f"/ogcapi/collections/{PUBLIC}/items"
    epsg_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
    assert matched(client, url, filter=f"S_INTERSECTS(geometry, POINT({y} {x}))", **{"filter-crs": epsg_4326}) == 1
    assert matched(client, url, filter=f"S_INTERSECTS(geometry, POINT({x} {y}))", **{"filter-crs": epsg_4326}) == 0
    from pyproj import Transformer

    e, n = Transformer.from_crs("EPSG:4490", "EPSG:3857", always_xy=True).transform(x, y)
    assert matched(client, url, filter=f"S_INTERSECTS(geometry, POINT({e} {n}))",
                   **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}) == 1


def test_filter_combines_with_bbox_and_paging(client, tile_data):
    text = "landuse_code = '0701'"
    box = "104.80,26.57,104.84,26.60"
    where = "landuse_code = '0701' AND ST_Intersects(geom, ST_MakeEnvelope(104.80, 26.57, 104.84, 26.60, 4490))"
    data = json.loads(client.get(PARCELS, {"filter": text, "bbox": box, "limit": "5"}).content)
    assert data["numberMatched"] == sql_count("land.parcels", where) and data["numberReturned"] <= 5
    nxt = next(link["href"] for link in data["links"] if link["rel"] == "next")
    assert "filter=landuse_code" in nxt and "bbox=" in nxt


def test_literals_are_values_never_sql(client, tile_data):
    evil = "x' OR '1'='1"
    doc = {"op": "=", "args": [{"property": "name"}, evil]}
    assert matched(client, filter=json.dumps(doc), **{"filter-lang": "cql2-json"}) == 0
    assert matched(client, filter="name LIKE '%; DROP TABLE layers_landparcel; --'") == 0
    assert matched(client, name=evil) == 0
    assert sql_count("land.parcels") > 0


def test_row_filter_of_the_registry_still_applies(client, tile_data):
    """The public collection is one row of a shared table: no filter reaches the restricted parcel's row."""
    url = f"/ogcapi/collections/{PUBLIC}/items"
    assert matched(client, url, filter="parcel_code = 'TSTILE-0002'") == 0
    assert matched(client, url, filter="parcel_code = 'TSTILE-0001' OR parcel_code = 'TSTILE-0002'") == 1


# --- bad input -----------------------------------------------------------------------------------------------

BAD = [
    ({"filter": "landuse_code = "}, "filter"),
    ({"filter": "bad (("}, "filter"),
    ({"filter": "nosuchcolumn = 1"}, "filter"),
    ({"filter": "area_m2 = 'big'"}, "filter"),
    ({"filter": "landuse_code > 5"}, "filter"),
    ({"filter": "geometry = 1"}, "filter"),
    ({"filter": "S_INTERSECTS(landuse_code, POINT(1 2))"}, "filter"),
    ({"filter": "S_INTERSECTS(geometry, SRID=4326;POINT(1 2))"}, "filter"),
    ({"filter": "ST_AREA(geometry) > 1"}, "filter"),
    ({"filter": "area_m2 / 0 > 1"}, "filter"),
    ({"filter": "updated_at > TIMESTAMP('2020-13-45T00:00:00Z')"}, "filter"),
    ({"filter": json.dumps({"op": "s_intersects", "args": [{"property": "geometry"},
                                                          {"type": "Polygon", "coordinates": "x"}]}),
      "filter-lang": "cql2-json"}, "filter"),
    ({"filter": "landuse_code = '0701' AND " * 300 + "TRUE = TRUE"}, "filter"),
    ({"filter": '{"op": "not", "args": [' * 3000 + '{"op": "=", "args": [{"property": "area_m2"}, 1]}'
      + "]}" * 3000, "filter-lang": "cql2-json"}, "filter"),
    ({"filter": "x" * 30_000}, "filter"),
    ({"filter": ""}, "filter"),
    ({"filter": "{not json", "filter-lang": "cql2-json"}, "filter"),
    ({"filter": json.dumps({"op": "nope", "args": []}), "filter-lang": "cql2-json"}, "filter"),
    ({"filter": json.dumps({"op": "=", "args": [{"property": "secret"}, 1]}), "filter-lang": "cql2-json"}, "filter"),
    ({"filter": json.dumps({"op": "between", "args": [{"property": "area_m2"}, 1]}), "filter-lang": "cql2-json"},
     "filter"),
    ({"filter": json.dumps([1, 2]), "filter-lang": "cql2-json"}, "filter"),
    ({"filter": "landuse_code = '0701'", "filter-lang": "ecql"}, "filter-lang"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-5"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "1e3"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"offset": "99999999999999999999"}, "offset"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "105,26,104,27"}, "bbox"),
    ({"bbox": "nan,1,2,3"}, "bbox"),
    ({"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, "bbox-crs"),
    ({"crs": "EPSG:0"}, "crs"),
    ({"datetime": "yesterday"}, "datetime"),
    ({"datetime": "2020-01-01/2019-01-01"}, "datetime"),
    ({"datetime": "../.."}, "datetime"),
    ({"area_m2": "big"}, "area_m2"),
    ({"synthetic": "maybe"}, "synthetic"),
    ({"nosuchparameter": "1"}, "nosuchparameter"),
    ({"sortby": "area_m2"}, "sortby"),
    ({"f": "xml"}, "f"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD, ids=[f"{p}-{i}" for i, (_q, p) in enumerate(BAD)])
def test_bad_input_is_a_400_problem_naming_the_parameter(client, tile_data, params, parameter):
    body = problem(client, **params)
    assert body["status"] == 400 and body["parameter"] == parameter
    for secret in ("layers_landparcel", "SELECT", "psycopg2", "Traceback"):
        assert secret not in body["detail"]


def test_unknown_property_is_named(client, tile_data):
    body = problem(client, filter="nosuchcolumn = 1")
    assert "nosuchcolumn" in body["detail"] and "landuse_code" in body["detail"]


def test_repeated_parameter_and_control_characters_are_refused(client, tile_data):
    response = client.get(PARCELS + "?limit=1&limit=2")
    assert response.status_code == 400 and json.loads(response.content)["parameter"] == "limit"
    response = client.get(PARCELS + "?filter=landuse_code%3D%270701%27%00")
    assert response.status_code == 400
    response = client.get(PARCELS + "?filter=%FF")
    assert response.status_code == 400
    # tab and newline may format a filter
    assert client.get(PARCELS + "?filter=landuse_code%0A%3D%09%270701%27").status_code == 200


def test_bad_input_on_other_resources(client, tile_data):
    assert problem(client, f"/ogcapi/collections/{PUBLIC}", extra="1")["parameter"] == "extra"
    assert problem(client, f"/ogcapi/collections/{PUBLIC}/items/1", limit="1")["parameter"] == "limit"
    assert problem(client, "/ogcapi/collections", f="pdf")["parameter"] == "f"


def test_a_statement_over_its_time_limit_is_a_503(client, tile_data, settings):
    settings.CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS = 1
    body = problem(client, status=503, filter="S_INTERSECTS(geometry, BBOX(104, 25, 106, 27))", limit="10000")
    assert "time limit" in body["detail"]
    settings.CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS = 15_000
    assert matched(client) == sql_count("land.parcels")



# --- generic layers (geometry + JSONB attributes) ------------------------------------------------------------


@pytest.fixture
def generic_layer(db):
    """A public generic layer of three points with typed JSONB attributes (rolled back after the test)."""
    from django.contrib.gis.geos import Point

    from city_gis.accounts.models import Department
    from layers.models import GenericFeature, Layer
    from layers.registry import refresh_stats

    Department.objects.get_or_create(code="land", defaults={"name_zh": "自然资源局"})
    layer = Layer.objects.create(name="land.test_generic", theme="land", title_zh="通用测试", kind="vector",
                                 geometry_type="POINT", owner=Department.objects.get(code="land"),
                                 classification="public", source_table="layers_genericfeature",
                                 is_generic=True, source_where=[{"column": "layer_id", "op": "is_null"}])
    layer.source_where = [{"column": "layer_id", "op": "=", "value": layer.pk}]
    layer.save()
    for i, attrs in enumerate([{"kind": "well", "depth": 12.5, "ok": True}, {"kind": "pump", "depth": 3, "ok": False},
                               {"kind": "well", "depth": "unknown", "ok": True}]):
        GenericFeature.objects.create(layer=layer, geom=Point(104.82 + i * 0.001, 26.58, srid=4490),
                                      attributes={**attrs, "n": i})
    refresh_stats(layer, announce=False)
    return layer


def test_generic_layer_items_queryables_and_filters(client, generic_layer):
    url = "/ogcapi/collections/land.test_generic"
    props = json.loads(client.get(url + "/queryables").content)["properties"]
    assert (props["kind"]["type"], props["depth"]["type"], props["ok"]["type"]) == ("string", "string", "boolean")
    data = json.loads(client.get(url + "/items").content)
    assert data["numberMatched"] == 3
    assert data["features"][0]["properties"] == {"kind": "well", "depth": 12.5, "ok": True, "n": 0}
    assert props["n"]["type"] == "integer"
    assert matched(client, url + "/items", filter='"n" >= 1') == 2  # one-letter names need quotes in pygeofilter
    assert matched(client, url + "/items", n="2") == 1
    assert problem(client, url + "/items", filter='"n" = \'x\'')["parameter"] == "filter"
    assert matched(client, url + "/items", filter="kind = 'well'") == 2
    assert matched(client, url + "/items", filter="ok = false") == 1
    assert matched(client, url + "/items", kind="pump") == 1
    assert matched(client, url + "/items", filter="S_INTERSECTS(geometry, BBOX(104.8195, 26.579, 104.8205, 26.581))") == 1


# --- generated input: never a server error -----------------------------------------------------------------

_PARAMETERS = ["filter", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "filter-crs", "landuse_code",
               "area_m2", "synthetic", "updated_at", "f"]


def test_generated_parameters_never_yield_a_server_error(client, tile_data):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cql_words = st.sampled_from(["landuse_code", "area_m2", "geometry", "updated_at", "=", "<", "AND", "OR", "NOT",
                                 "LIKE", "IN", "(", ")", "'0701'", "1e308", "-1", "S_INTERSECTS", "BBOX", ",",
                                 "POINT(1 2)", "TIMESTAMP('2020-01-01T00:00:00Z')", "IS NULL", "BETWEEN", "%", "'"])
    values = st.one_of(st.text(max_size=40), st.lists(cql_words, max_size=12).map(" ".join),
                       st.integers(-10**20, 10**20).map(str), st.floats().map(str),
                       st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(
                           lambda xs: ",".join(map(str, xs))))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(st.sampled_from(_PARAMETERS), values, max_size=4), st.booleans())
    def run(params, as_json):
        if as_json and "filter" in params:
            params["filter-lang"] = "cql2-json"
        response = client.get(PARCELS, params)
        assert response.status_code < 500, (params, response.content[:300])
        if response.status_code == 400:
            assert json.loads(response.content)["parameter"]

    run()
