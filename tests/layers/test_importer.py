"""Importing files into layers: every format, reprojection, repair, typed mapping, and every bad input."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pytest
from django.core.management import CommandError, call_command
from pyproj import Transformer
from shapely.geometry import Point, Polygon

from layers.importer import LayerCreate, LayerImportError, import_file
from layers.models import GenericFeature, LandParcel, Layer

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db


def zip_shapefile(frame: gpd.GeoDataFrame, tmp_path, name="data", *, prj=True):
    folder = tmp_path / f"{name}_shp"
    folder.mkdir()
    frame.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="UTF-8")
    target = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for part in folder.iterdir():
            if prj or part.suffix != ".prj":
                zf.write(part, part.name)
    return target


def snapshot() -> tuple[int, int, int]:
    return Layer.objects.count(), GenericFeature.objects.count(), LandParcel.objects.count()


def create(dept="land", **kw) -> LayerCreate:
    return LayerCreate(department=dept, title_zh="测试", **kw)


def test_geojson_creates_a_generic_layer_with_attributes(squares, tmp_path):
    path = tmp_path / "squares.geojson"
    squares.to_file(path, driver="GeoJSON")
    report = import_file(path, "land.lyt_generic", create=create())
    layer = Layer.objects.get(name="land.lyt_generic")
    assert (report.rows_read, report.rows_written, report.rows_rejected, report.created) == (3, 3, 0, True)
    assert layer.is_generic and layer.source_table == "layers_genericfeature"
    assert layer.source_where == [{"column": "layer_id", "op": "=", "value": layer.pk}] and layer.geometry_type == "POLYGON"
    assert layer.feature_count == 3 and layer.owner.code == "land"
    names = sorted(f.attributes["name"] for f in layer.generic_features.all())
    assert names == ["丙", "乙", "甲"]
    assert layer.bbox == pytest.approx((LON0, LAT0, LON0 + 0.005, LAT0 + 0.001))


@pytest.mark.parametrize("epsg,suffix", [(4544, "gpkg"), (3857, "gpkg"), (4544, "shp")])
def test_foreign_crs_lands_at_the_right_lon_lat(points_frame, tmp_path, epsg, suffix):
    projected = points_frame.to_crs(epsg)
    if suffix == "shp":
        path = zip_shapefile(projected, tmp_path)
    else:
        path = tmp_path / f"p.{suffix}"
        projected.to_file(path, driver="GPKG")
    report = import_file(path, "land.lyt_points", create=create())
    assert report.source_crs == f"EPSG:{epsg}"
    stored = sorted((f.geom.x, f.geom.y) for f in Layer.objects.get(name="land.lyt_points").generic_features.all())
    assert stored[0] == pytest.approx((LON0, LAT0), abs=1e-7)
    assert stored[1] == pytest.approx((LON0 + 0.01, LAT0 + 0.01), abs=1e-7)


def test_srs_option_names_the_crs_of_a_file_without_one(points_frame, tmp_path):
    xy = Transformer.from_crs(4490, 4544, always_xy=True)
    x, y = xy.transform(LON0, LAT0)
    path = tmp_path / "pts.csv"
    path.write_text(f"名称,x,y\n甲,{x},{y}\n", encoding="utf-8")
    import_file(path, "land.lyt_csv", create=create(), srs="EPSG:4544")
    feature = Layer.objects.get(name="land.lyt_csv").generic_features.get()
    assert (feature.geom.x, feature.geom.y) == pytest.approx((LON0, LAT0), abs=1e-7)
    assert feature.attributes == {"名称": "甲"}


def test_csv_with_lon_lat_columns(tmp_path):
    path = tmp_path / "shelters.csv"
    path.write_text(f"name,lon,lat,capacity\nA,{LON0},{LAT0},100\nB,{LON0 + 0.01},{LAT0},250\n", encoding="utf-8")
    report = import_file(path, "disaster.lyt_csv", create=create("geohazard"), srs="EPSG:4490")
    assert report.rows_written == 2
    layer = Layer.objects.get(name="disaster.lyt_csv")
    assert layer.geometry_type == "POINT"
    assert sorted(f.attributes["capacity"] for f in layer.generic_features.all()) == [100, 250]


def test_zipped_shapefile_into_a_typed_layer_maps_columns(parcels, tmp_path, test_parcels_layer):
    path = zip_shapefile(parcels, tmp_path)
    report = import_file(path, test_parcels_layer.name)
    assert report.rows_written == 3
    parcel = LandParcel.objects.get(parcel_code="T-002")
    assert (parcel.landuse_code, parcel.landuse_name, parcel.right_holder) == ("0501", "商业服务业设施用地", "")
    assert parcel.geom.geom_type == "MultiPolygon" and parcel.geom.srid == 4490
    test_parcels_layer.refresh_from_db()
    assert test_parcels_layer.feature_count == 3


def test_replace_removes_the_previous_features(squares, tmp_path):
    path = tmp_path / "squares.gpkg"
    squares.to_file(path, driver="GPKG")
    import_file(path, "land.lyt_replace", create=create())
    import_file(path, "land.lyt_replace")
    assert Layer.objects.get(name="land.lyt_replace").feature_count == 6
    report = import_file(path, "land.lyt_replace", mode="replace")
    assert report.rows_deleted == 6
    assert Layer.objects.get(name="land.lyt_replace").feature_count == 3


def test_invalid_geometry_is_repaired(tmp_path):
    bowtie = Polygon([(LON0, LAT0), (LON0 + 0.001, LAT0 + 0.001), (LON0 + 0.001, LAT0), (LON0, LAT0 + 0.001)])
    path = tmp_path / "bowtie.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[bowtie], crs=4490).to_file(path, driver="GPKG")
    report = import_file(path, "land.lyt_bowtie", create=create())
    assert report.rows_repaired == 1 and report.rows_written == 1
    assert Layer.objects.get(name="land.lyt_bowtie").generic_features.get().geom.valid


def test_typed_rows_with_bad_values_are_reported_and_nothing_is_written(parcels, tmp_path, test_parcels_layer):
    parcels.loc[1, "landuse_code"] = "1234567"  # longer than the field allows
    parcels.loc[2, "parcel_code"] = "T-001"  # duplicate key
    path = tmp_path / "p.gpkg"
    parcels.to_file(path, driver="GPKG")
    before = snapshot()
    with pytest.raises(LayerImportError) as err:
        import_file(path, test_parcels_layer.name)
    rejected = {(r["row"], r["field"]) for r in err.value.report["rejected"]}
    assert rejected == {(2, "landuse_code"), (3, "parcel_code")}
    assert snapshot() == before
    report = import_file(path, test_parcels_layer.name, skip_rejected=True)
    assert (report.rows_written, report.rows_rejected) == (1, 2)


def test_typed_layer_requires_its_fields(parcels, tmp_path, test_parcels_layer):
    path = tmp_path / "p.geojson"
    parcels.drop(columns=["landuse_name"]).to_file(path, driver="GeoJSON")
    with pytest.raises(LayerImportError, match="landuse_name"):
        import_file(path, test_parcels_layer.name)


# --- bad input: clear error, DB unchanged ---------------------------------------------------------------------
def _zip_with(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "case,match",
    [
        ("no_crs", "坐标系"),
        ("broken_zip", "zip"),
        ("zip_slip", "越出目标目录"),
        ("absolute_zip", "越出目标目录"),
        ("unsupported", "不支持的文件类型"),
        ("wrong_geometry", "几何类型不符"),
        ("unknown_layer", "未知图层"),
        ("broken_gpkg", "无法读取"),
    ],
)
def test_bad_input_is_refused_and_db_unchanged(case, match, tmp_path, squares, points_frame, test_parcels_layer):
    layer = test_parcels_layer.name
    if case == "no_crs":
        path = zip_shapefile(squares, tmp_path, prj=False)
        layer = "land.lyt_new"
    elif case == "broken_zip":
        path = tmp_path / "broken.zip"
        path.write_bytes(b"PK\x03\x04 this is not really a zip")
    elif case == "zip_slip":
        path = _zip_with(tmp_path, {"../../evil.geojson": b"{}"})
    elif case == "absolute_zip":
        path = _zip_with(tmp_path, {"/tmp/evil.geojson": b"{}"})
    elif case == "unsupported":
        path = tmp_path / "data.txt"
        path.write_text("hello")
    elif case == "wrong_geometry":
        path = tmp_path / "points.geojson"
        points_frame.to_file(path, driver="GeoJSON")
    elif case == "unknown_layer":
        path = tmp_path / "s.geojson"
        squares.to_file(path, driver="GeoJSON")
        layer = "land.no_such_layer"
    else:
        path = tmp_path / "broken.gpkg"
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    before = snapshot()
    with pytest.raises(LayerImportError, match=match):
        import_file(path, layer, create=create() if layer == "land.lyt_new" else None)
    with pytest.raises(CommandError, match=match):
        call_command("import_layer", str(path), "--layer", layer, *(
            ["--create", "--department", "land"] if layer == "land.lyt_new" else []))
    assert snapshot() == before


def test_file_over_the_size_limit_is_refused(settings, squares, tmp_path):
    path = tmp_path / "s.geojson"
    squares.to_file(path, driver="GeoJSON")
    settings.CITYGIS_IMPORT_MAX_BYTES = 100
    before = snapshot()
    with pytest.raises(LayerImportError, match="超过上限"):
        import_file(path, "land.lyt_big", create=create())
    assert snapshot() == before


def test_steward_of_another_department_may_not_write(user_factory, parcels, tmp_path, test_parcels_layer):
    path = tmp_path / "p.gpkg"
    parcels.to_file(path, driver="GPKG")
    foreign = user_factory("housing_steward", roles=["data_steward"], department="housing")
    own = user_factory("land_steward", roles=["data_steward"], department="land")
    with pytest.raises(PermissionError):
        import_file(path, test_parcels_layer.name, user=foreign)
    with pytest.raises(PermissionError):
        import_file(path, "land.lyt_foreign", user=foreign, create=create("land"))
    assert import_file(path, test_parcels_layer.name, user=own).rows_written == 3


def test_cli_prints_the_report(squares, tmp_path, capsys):
    path = tmp_path / "s.geojson"
    squares.to_file(path, driver="GeoJSON")
    call_command("import_layer", str(path), "--layer", "land.lyt_cli", "--create", "--department", "land",
                 "--title-zh", "命令行测试", "--verbosity", "0")
    out = capsys.readouterr().out
    assert "读取 3 行，写入 3，拒绝 0" in out
    assert Layer.objects.get(name="land.lyt_cli").title_zh == "命令行测试"


def test_point_in_shapefile_named_in_chinese_columns(tmp_path):
    frame = gpd.GeoDataFrame({"名称": ["避难所"]}, geometry=[Point(LON0, LAT0)], crs=4490)
    report = import_file(zip_shapefile(frame, tmp_path), "disaster.lyt_zh", create=create("geohazard"))
    assert report.rows_written == 1
    assert Layer.objects.get(name="disaster.lyt_zh").generic_features.get().attributes == {"名称": "避难所"}


def test_import_announces_the_changed_extent(squares, tmp_path, django_capture_on_commit_callbacks):
    from layers.signals import layer_changed

    seen = []

    def listener(sender, layer, what, bbox, **kw):
        seen.append((layer.name, what, bbox))

    path = tmp_path / "s.geojson"
    squares.to_file(path, driver="GeoJSON")
    layer_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            import_file(path, "land.lyt_signal", create=create())
    finally:
        layer_changed.disconnect(listener)
    features = [s for s in seen if s[1] == "features"]
    assert features and features[-1][0] == "land.lyt_signal"
    assert features[-1][2] == pytest.approx((LON0, LAT0, LON0 + 0.005, LAT0 + 0.001))


def test_csv_export_of_points_uses_lon_lat(points_frame, tmp_path):
    import pandas as pd

    path = tmp_path / "p.gpkg"
    points_frame.to_file(path, driver="GPKG")
    import_file(path, "disaster.lyt_pts", create=create("geohazard"))
    out = tmp_path / "out.csv"
    call_command("export_layer", "disaster.lyt_pts", "--format", "csv", "-o", str(out))
    table = pd.read_csv(out).sort_values("lon")
    assert list(table["label"]) == ["一", "二"]
    assert table[["lon", "lat"]].iloc[0].tolist() == pytest.approx([LON0, LAT0])


def test_messages_are_translated_to_english(tmp_path):
    from django.utils import translation

    path = tmp_path / "data.txt"
    path.write_text("x")
    with translation.override("en"), pytest.raises(LayerImportError, match="unknown layer: land.nope"):
        import_file(path, "land.nope")


def test_typed_point_layer_takes_single_part_multipoints_and_rejects_real_multipoints(tmp_path):
    from shapely.geometry import MultiPoint

    from layers.models import Shelter
    from layers.registry import register_layer

    register_layer("disaster.lyt_shelters", owner="geohazard", title_zh="测试避难所", geometry_type="POINT",
                   source_table="layers_shelter",
                   source_where=[{"column": "name", "op": "like", "value": "T%"}])
    frame = gpd.GeoDataFrame(
        {"name": ["T甲", "T乙"], "capacity": [300, 80]},
        geometry=[MultiPoint([(LON0, LAT0)]), MultiPoint([(LON0, LAT0), (LON0 + 0.01, LAT0)])], crs=4490,
    )
    path = tmp_path / "shelters.gpkg"
    frame.to_file(path, driver="GPKG")
    with pytest.raises(LayerImportError) as err:
        import_file(path, "disaster.lyt_shelters")
    assert [(r["row"], r["field"]) for r in err.value.report["rejected"]] == [(2, "geometry")]
    report = import_file(path, "disaster.lyt_shelters", skip_rejected=True)
    assert report.rows_written == 1
    shelter = Shelter.objects.get(name="T甲")
    assert shelter.geom.geom_type == "Point" and shelter.capacity == 300


def test_mixed_single_and_multi_polygons_become_multipolygons(parcels, tmp_path, test_parcels_layer):
    from shapely.geometry import MultiPolygon

    parcels.loc[0, "geometry"] = MultiPolygon([parcels.geometry[0], parcels.geometry[2].buffer(-0.0003)])
    path = tmp_path / "mixed.gpkg"
    parcels.to_file(path, driver="GPKG")
    assert import_file(path, test_parcels_layer.name).rows_written == 3
    counts = sorted(len(p.geom) for p in LandParcel.objects.filter(parcel_code__startswith="T-"))
    assert counts == [1, 1, 2]


# --- the chunked pipeline (issue 15): chunks are prepared while the previous one is COPYed --------------------
def _stored(layer_name: str) -> list[tuple[str, int]]:
    """(EWKT-free WKT, SRID) of a generic layer's features, in import order."""
    layer = Layer.objects.get(name=layer_name)
    return [(f.geom.wkt, f.geom.srid) for f in layer.generic_features.order_by("id")]


@pytest.mark.parametrize("wkts", [
    ["POINT (104.83 26.59)"],
    ["MULTIPOINT ((104.83 26.59), (104.84 26.6))"],
    ["LINESTRING (104.83 26.59, 104.84 26.6)"],
    ["MULTILINESTRING ((104.83 26.59, 104.84 26.6), (104.85 26.59, 104.86 26.6))"],
    ["POLYGON ((104.83 26.59, 104.84 26.59, 104.84 26.6, 104.83 26.59))",
     "MULTIPOLYGON (((104.85 26.59, 104.86 26.59, 104.86 26.6, 104.85 26.59)))"],
], ids=["point", "multipoint", "line", "multiline", "polygon+multipolygon"])
def test_every_geometry_type_is_stored_exactly_with_srid_4490(tmp_path, wkts):
    from shapely import from_wkt

    path = tmp_path / "kinds.geojson"  # GeoJSON keeps each feature's own type (a GeoPackage layer promotes)
    gpd.GeoDataFrame({"n": range(len(wkts))}, geometry=list(from_wkt(wkts)), crs=4490).to_file(path, driver="GeoJSON")
    import_file(path, "land.lyt_kinds", create=create())
    assert [(from_wkt(w).normalize(), srid) for w, srid in _stored("land.lyt_kinds")] == \
        [(from_wkt(w).normalize(), 4490) for w in wkts]


@pytest.mark.parametrize("epsg", [4490, 4544])
def test_z_coordinates_are_dropped(tmp_path, epsg):
    frame = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(LON0, LAT0, 1200.0)], crs=4490).to_crs(epsg)
    path = tmp_path / "z.gpkg"
    frame.to_file(path, driver="GPKG")
    import_file(path, "land.lyt_z", create=create())
    (wkt, srid), = _stored("land.lyt_z")
    stored = Layer.objects.get(name="land.lyt_z").generic_features.get().geom
    assert (stored.hasz, srid) == (False, 4490)
    assert (stored.x, stored.y) == pytest.approx((LON0, LAT0), abs=1e-7)


def _seven_triangles(tmp_path, *, bad_rows=()):
    """Seven triangles in EPSG:4544; rows in `bad_rows` (0-based) carry a control character in `name`."""
    geoms = [Polygon([(LON0 + i * 0.002, LAT0), (LON0 + i * 0.002 + 0.001, LAT0), (LON0 + i * 0.002 + 0.001, LAT0 + 0.001)])
             for i in range(7)]
    names = [f"块{i}\x01" if i in bad_rows else f"块{i}" for i in range(7)]
    path = tmp_path / "seven.gpkg"
    gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=4490).to_crs(4544).to_file(path, driver="GPKG")
    return path


def test_chunked_import_writes_every_chunk_reprojected(monkeypatch, tmp_path):
    monkeypatch.setattr("layers.importer.CHUNK", 2)  # four chunks: [0 1] [2 3] [4 5] [6]
    report = import_file(_seven_triangles(tmp_path), "land.lyt_chunks", create=create())
    layer = Layer.objects.get(name="land.lyt_chunks")
    assert (report.rows_read, report.rows_written, layer.feature_count) == (7, 7, 7)
    features = list(layer.generic_features.order_by("id"))
    assert [f.attributes["name"] for f in features] == [f"块{i}" for i in range(7)]
    assert [f.geom.extent[:2] for f in features] == [pytest.approx((LON0 + i * 0.002, LAT0), abs=1e-7) for i in range(7)]
    assert report.bbox == pytest.approx([LON0, LAT0, LON0 + 0.013, LAT0 + 0.001], abs=1e-7)


@pytest.mark.parametrize("mode", ["create", "replace"])
def test_a_rejected_row_in_a_later_chunk_rolls_back_the_chunks_already_written(monkeypatch, tmp_path, squares, mode):
    if mode == "replace":
        squares.to_file(tmp_path / "old.geojson", driver="GeoJSON")
        import_file(tmp_path / "old.geojson", "land.lyt_chunks", create=create())
    before = snapshot()
    old = _stored("land.lyt_chunks") if mode == "replace" else None
    monkeypatch.setattr("layers.importer.CHUNK", 2)  # rows 1-4 are COPYed before row 6 is seen
    path = _seven_triangles(tmp_path, bad_rows=(5, 6))
    with pytest.raises(LayerImportError) as err:
        if mode == "create":
            import_file(path, "land.lyt_chunks", create=create())
        else:
            import_file(path, "land.lyt_chunks", mode="replace")
    assert [(r["row"], r["field"]) for r in err.value.report["rejected"]] == [(6, "name"), (7, "name")]
    assert err.value.report["rows_rejected"] == 2
    assert snapshot() == before
    if mode == "create":
        assert not Layer.objects.filter(name="land.lyt_chunks").exists()
    else:
        assert _stored("land.lyt_chunks") == old


def test_skip_rejected_keeps_the_good_rows_of_every_chunk(monkeypatch, tmp_path):
    monkeypatch.setattr("layers.importer.CHUNK", 2)
    report = import_file(_seven_triangles(tmp_path, bad_rows=(1, 5)), "land.lyt_chunks", create=create(),
                         skip_rejected=True)
    assert (report.rows_written, report.rows_rejected) == (5, 2)
    names = [f.attributes["name"] for f in Layer.objects.get(name="land.lyt_chunks").generic_features.order_by("id")]
    assert names == ["块0", "块2", "块3", "块4", "块6"]


def test_a_row_of_another_family_in_a_later_chunk_is_a_rejected_row(monkeypatch, tmp_path):
    """Read in chunks, the family comes from the first chunk; a later point among polygons is reported."""
    monkeypatch.setattr("layers.importer.CHUNK", 2)
    geoms = [Polygon([(LON0 + i * 0.002, LAT0), (LON0 + i * 0.002 + 0.001, LAT0), (LON0 + i * 0.002, LAT0 + 0.001)])
             for i in range(4)] + [Point(LON0, LAT0)]
    path = tmp_path / "mixed.gpkg"
    gpd.GeoDataFrame({"n": range(5)}, geometry=geoms, crs=4490).to_file(path, driver="GPKG")
    before = snapshot()
    with pytest.raises(LayerImportError) as err:
        import_file(path, "land.lyt_mixed", create=create())
    assert [(r["row"], r["field"]) for r in err.value.report["rejected"]] == [(5, "geometry")]
    assert "几何类型不符" in err.value.report["rejected"][0]["reason"] and snapshot() == before
    report = import_file(path, "land.lyt_mixed", create=create(), skip_rejected=True)
    assert (report.rows_read, report.rows_written, Layer.objects.get(name="land.lyt_mixed").geometry_type) == \
        (5, 4, "POLYGON")
