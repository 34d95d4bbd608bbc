"""An edit session of a few features keeps the layer's feature count and extent exact without scanning its table
(layers.versions derives them from the counts and envelopes of the states it closes and opens), and stamps
`attributes_changed_at` only when the layer's attribute names or kinds may have changed."""

from __future__ import annotations

import geopandas as gpd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from shapely.geometry import box

from layers.importer import LayerCreate, import_file
from layers.models import GenericFeature, Layer
from layers.versions import apply_edits, current_versions

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db
STEP = 0.002


def square(i: int, j: int = 0, size: float = 0.001) -> dict:
    x, y = LON0 + i * STEP, LAT0 + j * STEP
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


@pytest.fixture
def grid(tmp_path) -> Layer:
    """land.lyt_stats: a 3×3 block of squares (code "i,j", size an integer), version 1."""
    cells = [(i, j) for j in range(3) for i in range(3)]
    frame = gpd.GeoDataFrame({"code": [f"{i},{j}" for i, j in cells], "size": [i + j for i, j in cells]},
                             geometry=[box(LON0 + i * STEP, LAT0 + j * STEP, LON0 + i * STEP + 0.001,
                                           LAT0 + j * STEP + 0.001) for i, j in cells], crs="EPSG:4490")
    path = tmp_path / "grid.geojson"
    frame.to_file(path, driver="GeoJSON")
    import_file(str(path), "land.lyt_stats", create=LayerCreate(department="land", title_zh="统计"))
    return Layer.objects.get(name="land.lyt_stats")


def ids(layer: Layer) -> dict[str, int]:
    return {f.attributes["code"]: f.pk for f in GenericFeature.objects.filter(layer=layer)}


def scanned(layer: Layer) -> tuple[int, tuple[float, ...] | None]:
    """What a full scan of the layer's table says: (count, extent)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)),"
                    " ST_YMax(ST_Extent(geom)) FROM layers_genericfeature WHERE layer_id = %s", [layer.pk])
        row = cur.fetchone()
    return row[0], tuple(round(c, 9) for c in row[1:]) if row[0] else None


def stored(layer: Layer) -> tuple[int, tuple[float, ...] | None]:
    layer.refresh_from_db()
    return layer.feature_count, tuple(round(c, 9) for c in layer.extent.extent) if layer.extent else None


def edit(layer: Layer, *edits: dict):
    referenced = [e["id"] for e in edits if "id" in e]
    return apply_edits(layer, None, list(edits), "统计", expected_versions=current_versions(layer, referenced))


def test_count_and_extent_stay_exact_through_edits_that_grow_shrink_or_keep_the_extent(grid):
    f = ids(grid)
    sessions = [
        [{"op": "update", "id": f["1,1"], "properties": {"size": 9}}],              # inside, attributes only
        [{"op": "update", "id": f["0,0"], "properties": {"size": 7}}],              # on the border, same geometry
        [{"op": "update", "id": f["1,1"], "geometry": square(1, 1, 0.0005)}],       # inside, reshaped
        [{"op": "insert", "geometry": square(5, 1), "properties": {"code": "5,1", "size": 6}}],  # grows east
        [{"op": "delete", "id": f["2,2"]}, {"op": "delete", "id": f["2,1"]}],       # corner pieces go
        [{"op": "update", "id": f["0,0"], "geometry": square(1, 0)}],               # the south-west corner moves in
    ]
    for session in sessions:
        edit(grid, *session)
        assert stored(grid) == scanned(grid), session


def test_an_inside_edit_does_not_scan_the_layer(grid):
    f = ids(grid)
    with CaptureQueriesContext(connection) as queries:
        edit(grid, {"op": "update", "id": f["1,1"], "properties": {"size": 4}, "geometry": square(1, 1, 0.0008)})
    scans = [q["sql"] for q in queries.captured_queries if "ST_Extent(\"geom\")" in q["sql"]]
    assert scans == []
    assert stored(grid) == scanned(grid)


def test_a_border_feature_moving_in_makes_the_extent_shrink(grid):
    f = ids(grid)
    edit(grid, {"op": "update", "id": f["2,2"], "geometry": square(1, 1, 0.0002)},
         {"op": "update", "id": f["2,1"], "geometry": square(1, 1, 0.0003)},
         {"op": "update", "id": f["2,0"], "geometry": square(1, 0, 0.0003)})
    count, extent = stored(grid)
    assert count == 9
    assert extent[2] == pytest.approx(LON0 + STEP + 0.001)  # the east edge is now the middle column's


@pytest.mark.parametrize("change, kept", [
    ({"size": 12}, True),                     # an integer for an integer
    ({"code": "X"}, True),                    # text for text
    ({"size": "large"}, False),               # text where integers were: the key's kind may change
    ({"size": 1.5}, False),                   # a fraction where integers were
    ({"colour": "red"}, False),               # a new key
])
def test_attributes_changed_at_moves_only_when_names_or_kinds_may_change(grid, change, kept):
    f = ids(grid)
    before = Layer.objects.get(pk=grid.pk).attributes_changed_at
    assert before is not None  # the import stamped it
    edit(grid, {"op": "update", "id": f["1,1"], "properties": change})
    after = Layer.objects.get(pk=grid.pk)
    assert (after.attributes_changed_at == before) is kept
    assert after.last_update > before  # the data changed either way


def test_inserts_deletes_and_geometry_edits_stamp_as_they_should(grid):
    f = ids(grid)
    stamp = lambda: Layer.objects.get(pk=grid.pk).attributes_changed_at  # noqa: E731
    first = stamp()
    edit(grid, {"op": "update", "id": f["1,1"], "geometry": square(1, 1, 0.0004)})
    assert stamp() == first  # a geometry has no attribute kinds
    edit(grid, {"op": "delete", "id": f["0,0"]})
    assert stamp() > first  # the last holder of a key or kind may be gone
    second = stamp()
    edit(grid, {"op": "insert", "geometry": square(4, 4), "properties": {"code": "4,4", "size": 8}})
    assert stamp() > second
