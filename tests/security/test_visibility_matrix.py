"""A domain's visibility holds on every path to its layers: role × layer × path → expected status.

The layers: a public, an internal and a restricted (owner: land) layer, and the domain layers cases.open,
cases.closed and evaluation.grid_score. The paths: REST features, export, WMS GetMap, GetFeatureInfo, an XYZ
tile, the legend and the version history. What each role may read of each layer is stated once (READS: full / partial / none);
the status of each path follows from it:

- REST features: full or partial → 200 (partial = row-filtered, see the row tests), none → 404 (hidden);
- export, versions and the OGC services, which cannot filter rows: full → 200; otherwise 404 (export, versions),
  401 for anonymous and 403 for authenticated clients (OGC);
- OGC API – Features (/ogcapi/ collection and items) filters rows: full or partial → 200 (partial: the rows of
  row_filter, see the row tests), none → 401 anonymous / 403 authenticated;
- the live domain layers (not cached, drawn per tile request) do not even exist in the tile service for
  those who may not read them: 404, not 401/403.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.tileserver.conftest import (  # noqa: F401 — the tileserver's committed fixture layers
    tile_data,
    tile_settings,
    tiles_var,
)

# the tileserver's fixture layers and generated configuration, for every test here
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tile_data")]

ROLES = {  # role → demo account (None = anonymous)
    "anonymous": None,
    "planner": "planner",
    "inspector": "inspector1",
    "operator": "operator",
    "owner_handler": "dept_land",  # handler + data steward of the land department, owner of the land layers
    "other_handler": "dept_sanitation",
    "admin": "admin",
}
LAYERS = {
    "public": "land.test_parcels",
    "internal": "housing.projects",
    "restricted": "land.test_restricted",
    "cases_open": "cases.open",
    "cases_closed": "cases.closed",
    "score": "evaluation.grid_score",
}
F, P, N = "full", "partial", "none"
#                 public internal restricted cases_open cases_closed score
READS = {
    "anonymous":     (F, N, N, N, N, N),
    "planner":       (F, F, N, N, N, N),
    "inspector":     (F, F, N, P, P, N),
    "operator":      (F, F, N, F, F, F),
    "owner_handler": (F, F, F, P, P, N),
    "other_handler": (F, F, N, P, P, N),
    "admin":         (F, F, F, F, F, F),
}
PATHS = ("features", "export", "getmap", "featureinfo", "tile", "legend", "versions",
         "ogcapi_collection", "ogcapi_items", "wfs", "csw")

# A 0.03° window in central Zhongshan (both test parcels, demo cases and cells around it), lon/lat.
WINDOW = (104.815, 26.570, 104.855, 26.600)
TILE = (14, 13153, 6915)


UNTILED = {"cases_open", "cases_closed", "score"}  # live layers: not cached, so not in WMTS


def expected(role: str, kind: str, reads: str, path: str) -> int:
    if path == "tile" and kind in UNTILED and reads != F:
        return 404
    if path == "features":
        return 404 if reads == N else 200
    if path.startswith("ogcapi"):  # OGC API filters rows (layers.access.row_filter): partial readers get theirs
        return (401 if role == "anonymous" else 403) if reads == N else 200
    if path == "csw":  # a record the user may not read is absent: the same empty answer as a missing id
        return 200
    if reads == F:
        return 200
    if path in ("export", "versions"):  # versions: the history of the whole layer (layers.versions_api)
        return 404
    return 401 if role == "anonymous" else 403


CASES = [
    pytest.param(role, kind, path, id=f"{role}-{kind}-{path}")
    for role in ROLES for kind in LAYERS for path in PATHS
]


def _basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{os.environ['CITYGIS_DEMO_PASSWORD']}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def _ogc_params(path: str, layer: str) -> dict[str, str]:
    minx, miny, maxx, maxy = WINDOW
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "LAYERS": layer, "STYLES": "", "FORMAT": "image/png",
              "TRANSPARENT": "TRUE", "WIDTH": "64", "HEIGHT": "64", "CRS": "EPSG:4490",
              "BBOX": f"{miny},{minx},{maxy},{maxx}"}  # lat,lon: EPSG:4490's axis order in 1.3.0
    if path == "getmap":
        params["REQUEST"] = "GetMap"
    elif path == "featureinfo":
        params.update(REQUEST="GetFeatureInfo", QUERY_LAYERS=layer, INFO_FORMAT="application/json", I="32", J="32")
    else:
        params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": layer,
                  "FORMAT": "image/png", "SLD_VERSION": "1.1.0"}
    return params


def request_path(client, role: str, layer: str, path: str):
    """One request as `role` (session for the REST API, HTTP Basic for the OGC services, like QGIS)."""
    from city_gis.accounts.models import User

    username = ROLES[role]
    if path in ("features", "export", "versions"):
        if username:
            client.force_login(User.objects.get(username=username))
        url = f"/api/v1/layers/{layer}/{path}/"
        return client.get(url, {"features": {"limit": "5"}, "export": {"format": "geojson"}}.get(path, {}))
    headers = _basic(username) if username else {}
    if path == "wfs":  # WFS 2.0 GetFeature as GeoJSON, layer-level like WMS
        return client.get("/ows", {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                   "TYPENAMES": layer, "COUNT": "5", "OUTPUTFORMAT": "application/json"}, **headers)
    if path == "csw":  # CSW GetRecordById: the catalogue record of the layer
        return client.get("/csw", {"SERVICE": "CSW", "VERSION": "2.0.2", "REQUEST": "GetRecordById", "ID": layer,
                                   "ELEMENTSETNAME": "brief"}, **headers)
    if path.startswith("ogcapi"):  # OGC API – Features, with Basic like QGIS
        url = f"/ogcapi/collections/{layer}" + ("/items" if path == "ogcapi_items" else "")
        return client.get(url, {"limit": "5"} if path == "ogcapi_items" else {}, **headers)
    if path == "tile":
        z, x, y = TILE
        return client.get(f"/tiles/{layer}/webmercator/{z}/{x}/{y}.png", **headers)
    return client.get("/ows", _ogc_params(path, layer), **headers)


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    """A private cache: earlier requests of the suite must not throttle this matrix (and ours none of theirs)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygis-visibility-matrix"}}
    from django.core.cache import cache

    cache.clear()


@pytest.mark.parametrize(("role", "kind", "path"), CASES)
def test_visibility_matrix(client, role, kind, path):
    layer = LAYERS[kind]
    reads = READS[role][list(LAYERS).index(kind)]
    response = request_path(client, role, layer, path)
    want = expected(role, kind, reads, path)
    assert response.status_code == want, (role, layer, path, response.content[:300])
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if want != 200:
        body = content.decode(errors="replace")
        # refusals carry a message, never the data: no feature, no image
        assert "FeatureCollection" not in body and not response["Content-Type"].startswith("image/")
    elif path in ("getmap", "tile", "legend"):
        assert response["Content-Type"].startswith("image/png")
    elif path in ("features", "export"):
        assert "FeatureCollection" in content.decode()
    elif path == "ogcapi_items":
        assert "FeatureCollection" in content.decode() and response["Content-Type"] == "application/geo+json"
    elif path == "ogcapi_collection":
        assert json.loads(content)["id"] == layer
    elif path == "wfs":
        assert "FeatureCollection" in content.decode()
    elif path == "csw":  # the record only for those who may read the whole layer (layers.access.visible_layers)
        assert (f"<dc:identifier>{layer}</dc:identifier>" in content.decode()) == (reads == F), content[:300]
    else:  # GetFeatureInfo: an answer (empty where nothing is hit), not an OGC exception
        assert "ServiceException" not in content.decode()


# ------------------------------------------------------------------------------------ row level (REST)


def _open_ids() -> set[int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id FROM cases_open_v")
        return {r[0] for r in cur.fetchall()}


@pytest.mark.parametrize("username", ["dept_sanitation", "dept_land", "inspector1"])
def test_partial_readers_get_exactly_the_cases_the_cases_api_shows_them(client, username):
    from city_gis.accounts.models import User
    from city_gis.cases.access import visible_cases

    user = User.objects.get(username=username)
    all_open = _open_ids()
    mine = all_open & set(visible_cases(user).values_list("pk", flat=True))
    assert len(mine) < len(all_open), "the demo has open cases this user may not see"
    client.force_login(user)
    response = client.get("/api/v1/layers/cases.open/features/", {"limit": "1000"})
    assert response.status_code == 200
    body = response.json()
    assert {f["id"] for f in body["features"]} == mine
    assert body["numberMatched"] == len(mine)
    # a filter or bbox never widens the row filter
    wide = client.get("/api/v1/layers/cases.open/features/", {"limit": "1000", "bbox": "-180,-90,180,90"}).json()
    assert {f["id"] for f in wide["features"]} == mine


@pytest.mark.parametrize("username", ["dept_sanitation", "inspector1"])
def test_ogcapi_items_of_a_partial_reader_are_exactly_their_cases(client, username):
    """OGC API – Features applies the same row filter as the REST features: no filter or bbox widens it."""
    from city_gis.accounts.models import User
    from city_gis.cases.access import visible_cases

    user = User.objects.get(username=username)
    mine = _open_ids() & set(visible_cases(user).values_list("pk", flat=True))
    url = "/ogcapi/collections/cases.open/items"
    for params in ({"limit": "1000"}, {"limit": "1000", "bbox": "-180,-90,180,90"},
                   {"limit": "1000", "filter": "number LIKE '%' OR number IS NULL"}):
        body = json.loads(client.get(url, params, **_basic(username)).content)
        assert {f["id"] for f in body["features"]} == mine and body["numberMatched"] == len(mine), params
    hidden = sorted(_open_ids() - mine)[0]
    assert client.get(f"{url}/{hidden}", **_basic(username)).status_code == 404
    if mine:
        assert client.get(f"{url}/{min(mine)}", **_basic(username)).status_code == 200


@pytest.mark.parametrize("role", list(ROLES))
def test_ogcapi_collections_list_what_the_role_reads(client, role):
    headers = _basic(ROLES[role]) if ROLES[role] else {}
    ids = {c["id"] for c in json.loads(client.get("/ogcapi/collections", **headers).content)["collections"]}
    for kind, name in LAYERS.items():
        reads = READS[role][list(LAYERS).index(kind)]
        assert (name in ids) is (reads != N), (role, name)


def test_a_department_sees_its_dispatched_cases_through_the_layer(client):
    """Non-trivial row filter: sanitation holds open cases in the demo, and sees them."""
    from city_gis.accounts.models import User
    from city_gis.cases.models import Case

    user = User.objects.get(username="dept_sanitation")
    held = set(Case.objects.filter(department=user.department, pk__in=_open_ids()).values_list("pk", flat=True))
    assert held, "the demo dispatches open cases to sanitation"
    client.force_login(user)
    ids = {f["id"] for f in client.get("/api/v1/layers/cases.open/features/", {"limit": "1000"}).json()["features"]}
    assert held <= ids


def test_full_readers_see_every_open_case(client):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username="operator"))
    body = client.get("/api/v1/layers/cases.open/features/", {"limit": "1000"}).json()
    assert body["numberMatched"] == len(_open_ids())


# --------------------------------------------------------------------------- catalogs and capabilities


def _wms_layer_names(client, **headers) -> str:
    response = client.get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}, **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("role", "sees_domain_layers"), [
    ("anonymous", False), ("planner", False), ("inspector", False), ("other_handler", False),
    ("operator", True), ("admin", True),
])
def test_capabilities_list_domain_layers_only_for_full_readers(client, role, sees_domain_layers):
    headers = _basic(ROLES[role]) if ROLES[role] else {}
    wms = _wms_layer_names(client, **headers)
    wmts = client.get("/wmts/1.0.0/WMTSCapabilities.xml", **headers).content.decode()
    for name in ("cases.open", "cases.closed", "evaluation.grid_score"):
        assert (f">{name}<" in wms) is sees_domain_layers, (role, name)
        assert f">{name}<" not in wmts, "live layers are not in WMTS"
    assert ">land.test_parcels<" in wms


def test_rest_catalog_hides_domain_layers_from_planner(client):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username="planner"))
    names = {layer["name"] for layer in client.get("/api/v1/layers/").json()}
    assert not {n for n in names if n.startswith(("cases.", "evaluation."))}
    assert "base.roads" in names
    assert client.get("/api/v1/layers/cases.open/").status_code == 404


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def test_refused_tiles_leave_the_tile_cache_unchanged(client, settings):
    root = Path(settings.CITYGIS_TILE_CACHE_DIR)
    before = _tree(root)
    z, x, y = TILE
    for layer, (planner, anonymous) in {"land.test_restricted": (403, 401), "cases.open": (404, 404),
                                        "evaluation.grid_score": (404, 404)}.items():
        for dz in range(3):  # neighbouring tiles too: nothing rendered, nothing stored
            url = f"/tiles/{layer}/webmercator/{z}/{x + dz}/{y}.png"
            assert client.get(url, **_basic("planner")).status_code == planner
            assert client.get(url).status_code == anonymous
    assert _tree(root) == before


@pytest.mark.parametrize("group", ["cases", "evaluation", "citygis"])
def test_groups_do_not_leak_domain_layers_to_planner(client, group):
    """The theme groups and the root are always listed; for a planner they hold no case or score layer."""
    params = _ogc_params("featureinfo", group)
    params.update(INFO_FORMAT="application/json", FEATURE_COUNT="50")
    response = client.get("/ows", params, **_basic("planner"))
    body = response.content.decode(errors="replace")
    assert response.status_code in (200, 400, 403), body[:300]
    for marker in ("stage_deadline", "supervised", "close_type", "on_time_closing_rate"):  # case / score columns
        assert marker not in body, (group, marker)
    getmap = client.get("/ows", _ogc_params("getmap", group), **_basic("planner"))
    assert getmap.status_code in (200, 400, 403)
