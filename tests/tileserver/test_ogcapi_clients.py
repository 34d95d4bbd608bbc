"""Real OGC API – Features clients against the production WSGI entry point (gunicorn, `ows_server`): OWSLib's
`owslib.ogcapi.features`, GDAL's OAPIF driver (`ogrinfo`/`ogr2ogr`) and QGIS 3.22's OAPIF provider (Debian's
python3-qgis, headless, in a subprocess of the system python).

What they must agree on: every public vector layer is a collection, with the registry's feature count; the
coordinates fall inside the layer's extent (the axis-order proof: lat/lon read as lon/lat would land in the
Indian Ocean); a restricted layer is invisible without credentials and readable with the owner's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import PARCEL_BBOX, PASSWORD
from .test_ogcapi_core import _visible_vector_names, sql_count

pytestmark = pytest.mark.django_db

PUBLIC, RESTRICTED = "land.test_parcels", "land.test_restricted"
SYSTEM_PYTHON = "/usr/bin/python3"
SLACK = 1e-6  # degrees: GeoJSON's 7 decimals against the registry's extent


@pytest.fixture(scope="module")
def api(ows_server) -> str:
    return ows_server + "/ogcapi"


def _inside(points, bbox) -> bool:
    minx, miny, maxx, maxy = bbox
    return all(minx - SLACK <= x <= maxx + SLACK and miny - SLACK <= y <= maxy + SLACK for x, y in points)


def _points(geometry: dict) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            out.append((c[0], c[1]))
        else:
            for part in c:
                walk(part)

    walk(geometry["coordinates"])
    return out


def _extent(name: str):
    from layers.models import Layer

    return Layer.objects.get(name=name).bbox


# --- OWSLib ------------------------------------------------------------------------------------------------


def test_owslib_lists_collections_and_counts_like_the_registry(api, tile_data):
    from owslib.ogcapi.features import Features

    from layers.models import Layer
    from layers.registry import refresh_stats

    for layer in Layer.objects.filter(kind="vector"):  # the fixtures add rows to shared tables behind its back
        refresh_stats(layer, announce=False)
    service = Features(api)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in service.conformance()["conformsTo"]
    ids = {c["id"] for c in service.collections()["collections"]}
    assert ids == _visible_vector_names(None) and RESTRICTED not in ids
    for name in sorted(ids):
        page = service.collection_items(name, limit=1)
        assert page["numberMatched"] == sql_count(name) == Layer.objects.get(name=name).feature_count, name
    items = service.collection_items(PUBLIC)
    (feature,) = items["features"]
    assert _inside(_points(feature["geometry"]), PARCEL_BBOX)
    assert service.collection_item(PUBLIC, str(feature["id"]))["properties"]["parcel_code"] == "TSTILE-0001"
    assert "parcel_code" in service.collection_queryables(PUBLIC)["properties"]


def test_owslib_with_basic_credentials_reads_the_restricted_collection(api, tile_data):
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    service = Features(api, auth=Authentication(username="tiles_land", password=PASSWORD))
    assert RESTRICTED in {c["id"] for c in service.collections()["collections"]}
    assert service.collection_items(RESTRICTED)["numberMatched"] == 1


def test_owslib_cql2_filter(api, tile_data):
    from owslib.ogcapi.features import Features

    page = Features(api).collection_items("land.parcels", filter="landuse_code = '0701'", limit=1)
    assert page["numberMatched"] == sql_count("land.parcels", "landuse_code = '0701'") > 0


# --- GDAL OAPIF --------------------------------------------------------------------------------------------


def _gdal(*args: str, credentials: bool = False) -> subprocess.CompletedProcess:
    config = ["--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", f"tiles_land:{PASSWORD}"] \
        if credentials else []
    return subprocess.run([*args[:1], *config, *args[1:]], capture_output=True, text=True, timeout=300)


def test_gdal_feature_count_of_every_public_collection(api, tile_data):
    for name in sorted(_visible_vector_names(None)):
        run = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{api}", name)
        assert run.returncode == 0, run.stderr[-500:]
        count = int(re.search(r"Feature Count: (\d+)", run.stdout).group(1))
        assert count == sql_count(name), name


@pytest.mark.parametrize(("name", "page_size"), [(PUBLIC, None), ("land.parcels", "100")])
def test_gdal_reads_every_feature_inside_the_layer_extent(api, tile_data, name, page_size):
    options = ["-oo", f"PAGE_SIZE={page_size}"] if page_size else []
    run = _gdal("ogr2ogr", "-f", "GeoJSON", "/vsistdout/", *options, f"OAPIF:{api}", name)
    assert run.returncode == 0, run.stderr[-500:]
    features = json.loads(run.stdout)["features"]
    assert len(features) == sql_count(name)
    extent = _extent(name)
    assert all(_inside(_points(f["geometry"]), extent) for f in features)
    if name == PUBLIC:
        assert features[0]["properties"]["parcel_code"] == "TSTILE-0001"


def test_gdal_sees_the_restricted_collection_only_with_credentials(api, tile_data):
    anonymous = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{api}", RESTRICTED)
    assert anonymous.returncode != 0
    owner = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{api}", RESTRICTED, credentials=True)
    assert owner.returncode == 0, owner.stderr[-500:]
    assert "Feature Count: 1" in owner.stdout


# --- QGIS 3.22 (python3-qgis) ------------------------------------------------------------------------------

QGIS_SCRIPT = r"""
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
url, typename, username, password = sys.argv[1:5]
uri = f"url='{url}' typename='{typename}'"
if username:
    uri += f" username='{username}' password='{password}'"
layer = QgsVectorLayer(uri, "t", "OAPIF")
out = {"valid": layer.isValid()}
if layer.isValid():
    features = list(layer.getFeatures())
    points = []
    for f in features:
        g = f.geometry()
        points += [(v.x(), v.y()) for v in g.vertices()]
    out.update(featureCount=layer.featureCount(), fetched=len(features), crs=layer.crs().authid(),
               fields=[f.name() for f in layer.fields()], points=points[:5000])
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 may crash in exitQgis() while providers are alive; the answer is printed
"""


def _has_qgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


needs_qgis = pytest.mark.skipif(not _has_qgis(), reason="python3-qgis missing: scripts/setup.sh installs it")


def qgis_layer(url: str, typename: str, username: str = "", password: str = "") -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)
    run = subprocess.run([SYSTEM_PYTHON, "-c", QGIS_SCRIPT, url, typename, username, password],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@needs_qgis
def test_qgis_oapif_layer_is_valid_with_the_registry_count_fields_and_coordinates(api, tile_data):
    result = qgis_layer(api, "land.parcels")
    assert result["valid"], result
    assert result["featureCount"] == result["fetched"] == sql_count("land.parcels")
    assert {"parcel_code", "landuse_code", "landuse_name", "area_m2"} <= set(result["fields"])
    assert result["crs"] in ("EPSG:4326", "OGC:CRS84")
    assert result["points"] and _inside(result["points"], _extent("land.parcels"))


@needs_qgis
def test_qgis_needs_the_owner_credentials_for_the_restricted_layer(api, tile_data):
    assert not qgis_layer(api, RESTRICTED)["valid"]
    owner = qgis_layer(api, RESTRICTED, "tiles_land", PASSWORD)
    assert owner["valid"] and owner["featureCount"] == 1
    minx, miny, maxx, maxy = _extent(RESTRICTED)
    assert _inside(owner["points"], (minx, miny, maxx, maxy))
