"""layers.exporter.attribute_kinds: the {attribute → kind} of a layer, shared by the exports and the OGC API's
generic schema (tileserver.ogcapi.collections) — typed layers by column type, generic layers by their values."""

from __future__ import annotations

import pytest

from layers import exporter
from layers.importer import LayerCreate, import_file
from layers.models import Layer

pytestmark = pytest.mark.django_db


def test_generic_layer_kinds_come_from_the_values(squares, tmp_path):
    squares["count"] = [1, 2, 3]
    squares["flag"] = [True, False, True]
    path = tmp_path / "kinds.geojson"
    squares.to_file(path, driver="GeoJSON")
    import_file(path, "land.lyt_kinds", create=LayerCreate(department="land", title_zh="类型", classification="public"))
    layer = Layer.objects.get(name="land.lyt_kinds")

    kinds = exporter.attribute_kinds(layer)

    # 2.0 beside 1.5 and 3.25 stays a float: a key is int only when every value is integral
    assert kinds == {"count": "int", "flag": "bool", "kind": "str", "name": "str", "value": "float"}
    assert exporter.prepare_export(layer, "csv").columns == kinds  # the export writes these columns


def test_typed_layer_kinds_come_from_the_column_types(test_parcels_layer):
    kinds = exporter.attribute_kinds(test_parcels_layer)

    assert kinds["area_m2"] == "float" and kinds["synthetic"] == "bool"  # numeric and boolean columns
    assert kinds["parcel_code"] == "str" and kinds["updated_at"] == "str"  # text and every other type
    assert list(kinds) == exporter.attribute_columns(test_parcels_layer)  # the published columns, in order

