"""Registering layers and keeping their statistics (feature count, extent, last update) current."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from city_gis.accounts.models import Department

from . import source_filter
from .models import Layer
from .raster import raster_extent, validate_raster
from .signals import layer_changed
from .style import StyleError, normalise_style


def register_layer(name: str, *, owner: Department | str, **fields: Any) -> Layer:
    """Create or update the registry entry `name` (`<theme>.<name>`) and announce the change.

    `owner` is a Department or its code; other keyword arguments are Layer fields.
    """
    if isinstance(owner, str):
        owner = Department.objects.get(code=owner)
    fields.setdefault("theme", name.split(".", 1)[0])
    readers = fields.pop("readers", None)
    if fields.get("kind") == "raster":
        validate_raster(fields.get("raster_path", ""))
    if fields.get("style"):
        try:
            normalise_style(fields["style"])
        except StyleError as exc:
            raise ValidationError({"style": str(exc)}) from exc
    layer, _created = Layer.objects.update_or_create(name=name, defaults={"owner": owner, **fields})
    layer.full_clean()
    if readers is not None:
        layer.readers.set(readers)
    refresh_stats(layer, announce=False)
    transaction.on_commit(lambda: layer_changed.send(sender=Layer, layer=layer, what="metadata", bbox=None))
    return layer


def table_columns(table: str) -> list[tuple[str, str, str]]:
    """[(column, data_type, udt_name)] of a layer's source table or view, in order ([] when it is missing)."""
    schema, _dot, name = table.rpartition(".")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [schema or "public", name],
        )
        return list(cur.fetchall())


def _qualified(table: str) -> str:
    return ".".join(connection.ops.quote_name(part) for part in table.split("."))


def layer_from_sql(layer: Layer) -> str:
    """`FROM … WHERE …` fragment selecting the layer's features (identifiers validated by the model; the WHERE
    only when the layer has a source filter, its values quoted by the driver: layers.source_filter)."""
    sql = f"FROM {_qualified(layer.source_table)}"
    where = source_filter.as_sql_text(layer, connection)
    if where:
        sql += f" WHERE {where}"
    return sql


def refresh_stats(layer: Layer, *, bbox: tuple[float, float, float, float] | None = None, announce: bool = True,
                  known: tuple[int, Any] | None = None, attributes_kept: bool = False) -> Layer:
    """Recompute feature count and extent of a vector layer in PostGIS; stamp last_update.

    `known`: (feature count, extent polygon) the caller already derived exactly (an edit session of a few features
    on a large layer: layers.versions), so the layer's table is not scanned. `attributes_kept`: the write left the
    layer's attribute names and kinds as they were (attributes_changed_at stays). With `announce`, send
    `layer_changed(what="features", bbox=bbox)` after commit.
    """
    now = timezone.now()  # one stamp: the row and this instance agree (caches key on it)
    stamp = {"last_update": now} | ({} if attributes_kept else {"attributes_changed_at": now})
    if layer.kind == "vector" and layer.source_table and known is not None:
        layer.feature_count, layer.extent = known
        Layer.objects.filter(pk=layer.pk).update(feature_count=layer.feature_count, extent=layer.extent,
                                                 **stamp)
    elif layer.kind == "vector" and layer.source_table:
        geom = connection.ops.quote_name(layer.geom_column)
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT count(*), ST_AsEWKT(ST_Envelope(ST_Extent({geom})::geometry)) {layer_from_sql(layer)}"
            )
            count, extent = cur.fetchone()
        from django.contrib.gis.geos import GEOSGeometry, Polygon

        env = None
        if extent:
            g = GEOSGeometry(extent)
            env = g if isinstance(g, Polygon) else Polygon.from_bbox(g.buffer(1e-6).extent)
            env.srid = 4490
        Layer.objects.filter(pk=layer.pk).update(feature_count=count, extent=env, **stamp)
        layer.feature_count, layer.extent = count, env
    elif layer.kind == "raster" and layer.raster_path:
        try:
            layer.extent = raster_extent(layer.raster_path)
        except ValidationError:
            layer.extent = None  # unreadable now: the catalog shows no extent rather than failing
        Layer.objects.filter(pk=layer.pk).update(extent=layer.extent, **stamp)
    else:
        Layer.objects.filter(pk=layer.pk).update(**stamp)
    for name, value in stamp.items():
        setattr(layer, name, value)
    if announce:
        transaction.on_commit(lambda: layer_changed.send(sender=Layer, layer=layer, what="features", bbox=bbox))
    return layer
