"""The one place that maps typed layer names to their Django models (and how file columns map to fields).

A layer whose name is not here is stored generically (GenericFeature: geometry + JSONB attributes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models as dj

from . import models as m

# Columns the importer never takes from a file: the key, the geometry and the bookkeeping stamps.
SYSTEM_FIELDS = {"id", "geom", "updated_at"}


@dataclass(frozen=True)
class Dataset:
    """A typed dataset: its model and optional column aliases ({file column (lower case) → model field})."""

    model: type[dj.Model]
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def geometry_type(self) -> str:
        """The registry geometry family: POINT, LINESTRING or POLYGON."""
        gtype = self.model._meta.get_field("geom").geom_type.upper()
        return gtype.removeprefix("MULTI")

    @property
    def multi(self) -> bool:
        return self.model._meta.get_field("geom").geom_type.upper().startswith("MULTI")

    def fields(self) -> list[dj.Field]:
        """The model fields a file may fill (concrete, not the key, geometry or stamps)."""
        return [
            f for f in self.model._meta.concrete_fields if f.name not in SYSTEM_FIELDS and not f.primary_key
        ]

    def required(self) -> list[str]:
        """Fields a file must provide: not nullable, not blank-able and without a default."""
        return [
            f.name for f in self.fields()
            if not f.null and not f.blank and not f.has_default() and not isinstance(f, dj.BooleanField)
        ]


DATASETS: dict[str, Dataset] = {
    "base.roads": Dataset(m.Road),
    "base.buildings": Dataset(m.Building),
    "base.water": Dataset(m.WaterBody),
    "land.parcels": Dataset(m.LandParcel, {"dlbm": "landuse_code", "dlmc": "landuse_name", "zdh": "parcel_code"}),
    "land.farmland": Dataset(m.BasicFarmland),
    "land.mining": Dataset(m.MiningRight),
    "planning.zoning": Dataset(m.ZoningPlot, {"ydxz": "landuse_name", "yddm": "landuse_code"}),
    "housing.projects": Dataset(m.HousingProject),
    "disaster.hazard_points": Dataset(m.HazardPoint),
    "disaster.hazard_zones": Dataset(m.HazardZone),
    "disaster.shelters": Dataset(m.Shelter),
}


def dataset_for(layer_name: str) -> Dataset | None:
    """The typed dataset behind `layer_name`, or None for a generic layer."""
    return DATASETS.get(layer_name)


def dataset_for_layer(layer) -> Dataset | None:
    """The typed dataset of a registered layer: by name, else by its source table (e.g. layers_landparcel)."""
    if layer.is_generic:
        return None
    found = DATASETS.get(layer.name)
    if found is None:
        found = next((d for d in DATASETS.values() if d.table == layer.source_table), None)
    return found
