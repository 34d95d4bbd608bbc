"""Capabilities advertise each layer's real extent (issue 9, observation 17), not the whole world.

Each layer: EX_GeographicBoundingBox / LatLonBoundingBox and a BoundingBox per CRS (EPSG:4490, 4544, 4326, 3857,
axis order of the CRS in WMS 1.3.0) from its data extent (tileserver.specs.advertised_extent), groups the
union of their children, layers without data the city's extent; MapProxy sources carry the same `coverage`.
A layer whose data grows outside its coverage gets a regenerated configuration.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from lxml import etree

from .conftest import PARCEL_BBOX, PREFIX, _square

pytestmark = pytest.mark.django_db

LIUPANSHUI = (104.3, 25.3, 105.7, 26.9)  # lon/lat, roughly the prefecture
EPSG = ["EPSG:4490", "EPSG:4544", "EPSG:4326", "EPSG:3857"]
GROW_BBOX = (105.30, 25.60, 105.31, 25.61)  # far from every test parcel, inside the city


def inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def near(a, b, tol) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def extent_layers(django_db_blocker, tile_data):
    """`land.test_empty` (no features) and `land.test_growing` (one parcel now, one added by a test)."""
    from layers.models import Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    common = dict(owner="land", kind="vector", geometry_type="POLYGON", source_table="layers_landparcel",
                  classification="public", attribute_columns=["id", "parcel_code"])
    with django_db_blocker.unblock():
        register_layer("land.test_empty", title_zh="无数据图层",
                       source_where=[{"column": "parcel_code", "op": "=", "value": "TSTILE-NONE"}], **common)
        # the public parcel now and the one test_growing_layer adds
        register_layer("land.test_growing", title_zh="增长图层",
                       source_where=[{"column": "parcel_code", "op": "in",
                                      "value": [tile_data["public"].parcel_code, PREFIX + "GROW1"]}], **common)
        paths = generate_all()
    yield paths
    with django_db_blocker.unblock():
        Layer.objects.filter(name__in=["land.test_empty", "land.test_growing"]).delete()
        generate_all()


def capabilities(client, version: str) -> bytes:
    resp = client.get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": version})
    assert resp.status_code == 200
    return resp.content


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_sees_real_extents(client, extent_layers, version):
    from owslib.wms import WebMapService

    from tileserver.specs import CITY_EXTENT

    wms = WebMapService("http://testserver/ows", version=version, xml=capabilities(client, version))
    parcels = wms["land.parcels"].boundingBoxWGS84
    assert inside(parcels, LIUPANSHUI), parcels
    assert (parcels[2] - parcels[0]) < 2 and (parcels[3] - parcels[1]) < 2  # not the world
    test = wms["land.test_parcels"].boundingBoxWGS84
    assert inside(PARCEL_BBOX, test) and inside(test, (104.8, 26.56, 104.85, 26.61)), test
    assert near(wms["land.test_empty"].boundingBoxWGS84, CITY_EXTENT, 1e-6)
    # The theme group: the union of its children (those this client sees, and all of the configuration).
    from tileserver.specs import union_extent

    conf = yaml.safe_load(extent_layers.mapproxy_yaml.read_text())
    configured = union_extent([tuple(src["coverage"]["bbox"]) for name, src in conf["sources"].items()
                               if name.startswith("src_land.")])
    visible = union_extent([wms[name].boundingBoxWGS84 for name in wms.contents if name.startswith("land.")])
    group = wms["land"].boundingBoxWGS84
    assert inside(visible, group) and near(group, configured, 1e-6)


def bounding_boxes(doc: etree._Element, layer: str, attr: str) -> dict[str, tuple[float, ...]]:
    boxes = doc.xpath("//*[local-name()='Layer'][*[local-name()='Name']=$n]/*[local-name()='BoundingBox']", n=layer)
    return {b.get(attr): tuple(float(b.get(k)) for k in ("minx", "miny", "maxx", "maxy")) for b in boxes}


# (WMS version, CRS, axis order of the BoundingBox attributes: "xy" = lon/lat or easting/northing)
AXES = [("1.1.1", "EPSG:4490", "xy"), ("1.1.1", "EPSG:4326", "xy"), ("1.1.1", "EPSG:3857", "xy"),
        ("1.1.1", "EPSG:4544", "xy"), ("1.3.0", "EPSG:4490", "yx"), ("1.3.0", "EPSG:4326", "yx"),
        ("1.3.0", "EPSG:3857", "xy"), ("1.3.0", "EPSG:4544", "yx")]


@pytest.mark.parametrize("version,crs,axes", AXES)
def test_bounding_box_per_crs_in_the_axis_order_of_the_version(client, tile_data, version, crs, axes):
    from pyproj import Transformer

    from tileserver.specs import advertised_extent

    doc = etree.fromstring(capabilities(client, version))
    boxes = bounding_boxes(doc, "land.test_parcels", "CRS" if version == "1.3.0" else "SRS")
    assert set(EPSG) <= set(boxes)
    lon_lat = advertised_extent(PARCEL_BBOX)
    t = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
    x0, y0, x1, y1 = t.transform_bounds(*lon_lat, densify_pts=21)
    expected = (x0, y0, x1, y1) if axes == "xy" else (y0, x0, y1, x1)
    tol = 1e-3 * max(x1 - x0, y1 - y0)
    assert near(boxes[crs], expected, tol), (boxes[crs], expected)


def test_every_mapproxy_source_has_the_layers_coverage(extent_layers):
    from tileserver.specs import CITY_EXTENT, advertised_extent, all_layer_specs

    conf = yaml.safe_load(extent_layers.mapproxy_yaml.read_text())
    specs = all_layer_specs()
    for spec in specs:
        cov = conf["sources"][f"src_{spec.name}"]["coverage"]
        assert cov["srs"] == "EPSG:4490"
        assert near(cov["bbox"], advertised_extent(spec.extent), 1e-6), spec.name
        if spec.extent:
            assert inside(spec.extent, cov["bbox"])
    assert near(conf["sources"]["src_land.test_empty"]["coverage"]["bbox"], CITY_EXTENT, 1e-9)
    base = conf["sources"]["src_base.basemap"]["coverage"]["bbox"]
    for spec in specs:
        if spec.name.startswith("base.") and spec.classification == "public" and spec.kind == "vector":
            assert inside(advertised_extent(spec.extent), base)


@pytest.mark.parametrize("extent,expected", [
    (None, "city"),
    ((float("nan"), 0, 1, 1), "city"),
    ((2, 2, 1, 1), "city"),  # inverted
    ((104.8, 26.5, 104.9, 26.6), (104.795, 26.495, 104.905, 26.605)),  # 5 % margin > 0.005°
    ((104.8, 26.5, 104.8, 26.5), (104.795, 26.495, 104.805, 26.505)),  # a point: the minimum margin
    ((-180, -90, 180, 90), (-180, -90, 180, 90)),  # clipped to lon/lat limits
])
def test_advertised_extent(extent, expected):
    from tileserver.specs import CITY_EXTENT, advertised_extent

    assert near(advertised_extent(extent), CITY_EXTENT if expected == "city" else expected, 2e-7)


def test_data_outgrowing_its_coverage_regenerates_the_configuration(client, extent_layers,
                                                                     django_capture_on_commit_callbacks):
    from layers.models import LandParcel, Layer
    from layers.registry import refresh_stats
    from tileserver.generate import generated_coverage

    before = generated_coverage("land.test_growing")
    assert before is not None and not inside(GROW_BBOX, before)
    LandParcel.objects.create(parcel_code=PREFIX + "GROW1", landuse_code="0701", geom=_square(GROW_BBOX))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_stats(Layer.objects.get(name="land.test_growing"), bbox=GROW_BBOX)
    after = generated_coverage("land.test_growing")
    assert inside(GROW_BBOX, after) and inside(before, after)
    from owslib.wms import WebMapService

    wms = WebMapService("http://testserver/ows", version="1.3.0", xml=capabilities(client, "1.3.0"))
    assert inside(GROW_BBOX, wms["land.test_growing"].boundingBoxWGS84)


def test_data_inside_its_coverage_does_not_regenerate(extent_layers, django_capture_on_commit_callbacks):
    from layers.models import Layer
    from layers.registry import refresh_stats

    yaml_file = extent_layers.mapproxy_yaml
    mtime = yaml_file.stat().st_mtime_ns
    with django_capture_on_commit_callbacks(execute=True):
        refresh_stats(Layer.objects.get(name="land.test_parcels"), bbox=PARCEL_BBOX)
    assert yaml_file.stat().st_mtime_ns == mtime


def test_gdal_wms_driver_lists_the_layer_with_its_extent(ows_server):
    out = subprocess.run(["gdalinfo", f"WMS:{ows_server}/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    line = next(x for x in out.splitlines() if "LAYERS=land.test_parcels&" in x and "_NAME=" in x)
    bbox = tuple(float(v) for v in line.split("BBOX=", 1)[1].split("&", 1)[0].split(","))
    assert inside(PARCEL_BBOX, bbox) and inside(bbox, (104.8, 26.56, 104.85, 26.61)), bbox


def test_tiles_outside_the_coverage_are_not_rendered_nor_stored(client, tile_data):
    """The tile cache has the layer's coverage too: a tile far outside it is never stored (issue 9, obs. 4)."""
    import io
    import math

    from PIL import Image

    z, lon, lat = 15, 105.6, 25.4  # inside the city, far from the test parcel
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    stored = tile_data["paths"].cache_dir / "land.test_parcels/webmercator" / str(z) / str(x) / f"{y}.png"
    resp = client.get(f"/tiles/land.test_parcels/webmercator/{z}/{x}/{y}.png")
    assert resp.status_code in (200, 404)  # blank tile, or refused before MapProxy
    if resp.status_code == 200:
        assert Image.open(io.BytesIO(resp.content)).convert("RGBA").getextrema()[3] == (0, 0)
    assert not stored.exists()
