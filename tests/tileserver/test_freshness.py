"""Freshness: changed features and restyled layers show in the next tile/GetMap, without a restart.

These tests commit for real (MapServer reads through its own connection), so they run outside the per-test
transaction and restore what they change.
"""

from __future__ import annotations

from .conftest import PARCEL_BBOX
from .test_tiles import PROBE, Z, rgba, tile_pixel_of, xyz
from .test_wms import getmap_params, pixel


def test_changing_a_feature_through_refresh_stats_changes_the_next_tile_and_getmap(client, tile_data, django_db_blocker):
    from django.db import transaction

    from layers.models import LandParcel, Layer
    from layers.registry import refresh_stats

    x, y = xyz(*PROBE, Z)
    url = f"/tiles/land.test_parcels/webmercator/{Z}/{x}/{y}.png"
    tile_file = tile_data["paths"].cache_dir / "land.test_parcels/webmercator" / str(Z) / str(x) / f"{y}.png"
    parcel = tile_data["public"]
    with django_db_blocker.unblock():
        assert rgba(client.get(url).content, tile_pixel_of(*PROBE, Z))[0] > 200
        assert tile_file.exists()
        try:
            with transaction.atomic():  # committed (MapServer reads from its own connection)
                LandParcel.objects.filter(pk=parcel.pk).update(landuse_code="0601")  # leaves the red class
                refresh_stats(Layer.objects.get(name="land.test_parcels"), bbox=PARCEL_BBOX)
            assert not tile_file.exists()  # invalidated on commit
            r, g, b, a = rgba(client.get(url).content, tile_pixel_of(*PROBE, Z))
            assert a > 200 and not (r > 200 and g < 60)  # drawn in the default class now
            resp = client.get("/ows", getmap_params())
            assert pixel(resp.content, 150, 115)[0:3] != (255, 0, 0)
        finally:
            with transaction.atomic():
                LandParcel.objects.filter(pk=parcel.pk).update(landuse_code="0701")
                refresh_stats(Layer.objects.get(name="land.test_parcels"), bbox=PARCEL_BBOX)
        assert rgba(client.get(url).content, tile_pixel_of(*PROBE, Z))[0] > 200


def test_restyling_a_layer_regenerates_and_drops_its_cache(client, tile_data, django_db_blocker):
    from django.db import transaction

    from layers.models import Layer

    x, y = xyz(*PROBE, Z)
    url = f"/tiles/land.test_parcels/webmercator/{Z}/{x}/{y}.png"
    layer_dir = tile_data["paths"].cache_dir / "land.test_parcels/webmercator"
    with django_db_blocker.unblock():
        client.get(url)
        assert layer_dir.exists()
        layer = Layer.objects.get(name="land.test_parcels")
        old = dict(layer.style)
        try:
            with transaction.atomic():
                layer.style = {**old, "classes": [{"value": "0701", "label": "城镇住宅用地", "fill": "#00ff00"}]}
                layer.save()
            assert not layer_dir.exists()
            r, g, b, a = rgba(client.get(url).content, tile_pixel_of(*PROBE, Z))
            assert g > 200 and r < 60  # the new style, no restart
        finally:
            with transaction.atomic():
                layer.style = old
                layer.save()
        assert rgba(client.get(url).content, tile_pixel_of(*PROBE, Z))[0] > 200
