"""Which registry layers are OGC API collections for a user, and what each one advertises.

A collection is a vector layer of the registry with a readable source table; rasters are not collections.
Who sees which is layers.access' decision alone: `visible_layers(user, partial=True)` — a domain layer the user
may read only row-filtered (cases.* for a department handler) is a collection whose items are filtered by
`row_filter`. A layer that exists but is not visible answers 401 (anonymous) / 403 and is absent from lists.

The schema of a collection (its queryable properties and their JSON types) comes from the database catalog for
typed tables and from one pass over the JSONB attributes for generic layers (layers.exporter); both are cached
per layer until its registry row changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from layers.access import in_services, visible_layers
from layers.access import row_filter as layer_row_filter
from layers.datasets import dataset_for_layer
from layers.exporter import attribute_kinds  # the one JSONB key/kind scan of the registry
from layers.features import attribute_columns
from layers.models import Layer, LayerKind
from layers.models.registry import LAYER_NAME_RE
from layers.registry import layer_from_sql, table_columns

from . import crs
from .problems import Problem

# information_schema data_type → JSON Schema (type, format)
_TYPES: dict[str, tuple[str, str]] = {
    "smallint": ("integer", ""), "integer": ("integer", ""), "bigint": ("integer", ""),
    "real": ("number", ""), "double precision": ("number", ""), "numeric": ("number", ""),
    "boolean": ("boolean", ""), "date": ("string", "date"),
    "timestamp with time zone": ("string", "date-time"), "timestamp without time zone": ("string", "date-time"),
}
_GENERIC_KINDS = {"int": ("integer", ""), "float": ("number", ""), "bool": ("boolean", ""), "str": ("string", "")}
# The temporal property of a collection (datetime=): the first of these among its date/time columns, else the
# first date/time column; a layer without one answers datetime= with a 400.
TEMPORAL_PREFERENCE = ("observed_at", "reported_at", "closed_at", "approved_on", "valid_from", "updated_at")
GEOMETRY_PROPERTY = "geometry"
_CACHE_SECONDS = 60
_cache: dict[tuple, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(key: tuple, compute, ttl: float | None = _CACHE_SECONDS):
    """compute() remembered under `key` (which holds the layer's version) for `ttl` seconds (None: until the key
    changes, i.e. until the registry row changes)."""
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and (ttl is None or now - hit[0] < ttl):
        return hit[1]
    value = compute()
    with _cache_lock:
        if len(_cache) > 2000:
            _cache.clear()
        _cache[key] = (now, value)
    return value


@dataclass(frozen=True)
class Property:
    """A queryable property: its name, JSON Schema type/format, and whether it is a JSONB key (generic layers)."""

    name: str
    type: str
    format: str = ""
    generic: bool = False
    choices: tuple[tuple[Any, Any], ...] = ()  # (value, label) of a typed field with choices: the edit form's list
    max_length: int | None = None

    @property
    def temporal(self) -> bool:
        return self.format in ("date", "date-time")


@dataclass(frozen=True)
class Schema:
    """What the items SQL and the CQL compiler may reference of a collection."""

    layer: Layer
    id_column: str
    id_type: str  # integer | string
    geom_column: str
    properties: dict[str, Property] = field(default_factory=dict)
    temporal: str | None = None

    @property
    def generic(self) -> bool:
        return bool(self.layer.is_generic)


def _layer_key(layer: Layer) -> tuple:
    return (layer.pk, layer.updated_at, layer.last_update)


def schema(layer: Layer) -> Schema:
    """The collection's schema, cached until its registry row or its set of attributes changes (a write stamps
    attributes_changed_at unless it kept every attribute's name and kind): a generic layer's key scan reads every
    feature once per such change, not once per request or per small edit. 404 when its table is missing."""
    key = ("schema", layer.pk, layer.updated_at, layer.attributes_changed_at)
    return _cached(key, lambda: _schema(layer), ttl=None)


def _schema(layer: Layer) -> Schema:
    columns = {name: (data_type, udt) for name, data_type, udt in table_columns(layer.source_table)}
    if layer.geom_column not in columns or layer.id_column not in columns:
        raise Problem(404, f"collection {layer.name} has no readable source table")
    id_type = _TYPES.get(columns[layer.id_column][0], ("string", ""))[0]
    props: dict[str, Property] = {}
    if layer.is_generic:
        for key, kind in attribute_kinds(layer).items():
            json_type, fmt = _GENERIC_KINDS[kind]
            props[key] = Property(key, json_type, fmt, generic=True)
    else:
        dataset = dataset_for_layer(layer)
        model_fields = {f.column: f for f in dataset.fields()} if dataset else {}
        for name in attribute_columns(layer):
            if name not in columns or columns[name][1] in ("geometry", "geography"):
                continue
            json_type, fmt = _TYPES.get(columns[name][0], ("string", ""))
            f = model_fields.get(name)
            props[name] = Property(name, json_type, fmt, choices=tuple(f.flatchoices) if f is not None else (),
                                   max_length=getattr(f, "max_length", None) if json_type == "string" else None)
    temporal_columns = [p.name for p in props.values() if p.temporal]
    temporal = next((n for n in TEMPORAL_PREFERENCE if n in temporal_columns), None) or next(
        iter(temporal_columns), None)
    return Schema(layer, layer.id_column, "integer" if id_type == "integer" else "string", layer.geom_column,
                  props, temporal)


def collection_layers(user) -> QuerySet[Layer]:
    """The vector layers `user` may read (fully or row-filtered), in registry order."""
    return (visible_layers(user, partial=True).filter(kind=LayerKind.VECTOR).exclude(source_table="")
            .select_related("owner").order_by("theme", "sort_order", "name"))


def listed_collections(user) -> list[Layer]:
    """The collections of /collections: visible vector layers whose table exists."""
    out = []
    for layer in collection_layers(user):
        try:
            schema(layer)
        except Problem:
            continue  # a broken registration must not take the whole list down
        out.append(layer)
    return out


def collection_for(user, name: str) -> Layer:
    """The collection `name` for `user`: 404 when it is no collection (unknown, raster), 401 (anonymous) / 403
    when it is one the user may not read, as WMS and WFS answer for the same layer."""
    layer = None
    if LAYER_NAME_RE.match(name):  # registry names only: nothing else (NUL, 300 characters) reaches the database
        layer = Layer.objects.select_related("owner").filter(name=name, kind=LayerKind.VECTOR).exclude(
            source_table="").first()
    if layer is None:
        raise Problem(404, f"no collection {name[:100]!r}")
    # in_services, not read_access alone: it also drops what the registry hides from every service
    if not in_services(user, layer, partial=True):
        anonymous = user is None or not user.is_authenticated
        raise Problem(401 if anonymous else 403,
                      f"collection {name} is not readable" + (" without credentials" if anonymous else ""))
    schema(layer)
    return layer


def rows_for(user, layer: Layer) -> tuple[str, list] | None:
    """The row filter of layers.access for `user` on `layer` (None: every row)."""
    return layer_row_filter(user, layer)


def temporal_extent(layer: Layer) -> list[str | None] | None:
    """[first, last] of the collection's temporal property (ISO 8601), None without one (cached)."""
    s = schema(layer)
    if s.temporal is None:
        return None

    def compute():
        column = connection.ops.quote_name(s.temporal)
        with connection.cursor() as cur:
            # registry SQL only, no parameters: the registry's filter may hold a literal %
            cur.execute(f"SELECT min({column}), max({column}) {layer_from_sql(layer)}")
            low, high = cur.fetchone()
        return [_iso(low), _iso(high)]

    return _cached(("temporal", *_layer_key(layer)), compute)


def _iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text.replace("+00:00", "Z")


def spatial_extent(layer: Layer) -> dict[str, Any]:
    """The layer's extent in CRS84 (CGCS2000 and WGS 84 coincide to centimetres; PROJ maps one to the other
    unchanged) and in the storage CRS (Part 2's storageCrsBbox, lat/lon order)."""
    from tileserver.specs import CITY_EXTENT

    minx, miny, maxx, maxy = layer.bbox or CITY_EXTENT
    return {"bbox": [[minx, miny, maxx, maxy]], "crs": crs.CRS84.uri}


def storage_bbox(layer: Layer) -> list[list[float]]:
    from tileserver.specs import CITY_EXTENT

    minx, miny, maxx, maxy = layer.bbox or CITY_EXTENT
    return [[miny, minx, maxy, maxx]]
