"""The typed-dataset registry agrees with the models and with the layers registered by the demo city."""

import pytest

from layers.datasets import DATASETS, dataset_for, dataset_for_layer
from layers.models import GeometryType, LandParcel, Layer


def test_every_dataset_has_a_geometry_family_and_required_fields():
    for name, dataset in DATASETS.items():
        assert dataset.geometry_type in GeometryType.values, name
        assert "geom" not in dataset.required() and "id" not in dataset.required()
    assert DATASETS["land.parcels"].required() == ["parcel_code", "landuse_code", "landuse_name"]
    assert dataset_for("land.parcels").model is LandParcel and dataset_for("land.anything_else") is None


@pytest.mark.django_db
def test_registered_typed_layers_point_at_their_model_tables():
    for layer in Layer.objects.filter(name__in=list(DATASETS)):
        assert layer.source_table == DATASETS[layer.name].table, layer.name
        assert layer.geometry_type == DATASETS[layer.name].geometry_type, layer.name
        assert dataset_for_layer(layer) is DATASETS[layer.name]
