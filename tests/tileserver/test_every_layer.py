"""Every layer the demo city registers is published and renders (no MapServer error), rasters included."""

from __future__ import annotations

import io

import pytest
from PIL import Image

pytestmark = pytest.mark.django_db
# Central Zhongshan district, where the demo city's features are.
WINDOW = "104.78,26.54,104.90,26.64"


def registered_layers():
    from layers.models import Layer

    return list(Layer.objects.values_list("name", flat=True))


def test_every_registered_layer_renders_as_admin(client, tile_data, django_user_model):
    from tileserver.specs import all_layer_specs

    admin = django_user_model.objects.create_user(username="tiles_admin_smoke", password="x-Smoke-2026",
                                                  roles=["admin"])
    client.force_login(admin)
    published = {s.name for s in all_layer_specs()}
    assert published == set(registered_layers())  # nothing silently dropped
    failures, colours = {}, {}
    for name in sorted(published):
        resp = client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": name,
                                   "STYLES": "", "SRS": "EPSG:4490", "BBOX": WINDOW, "WIDTH": "128",
                                   "HEIGHT": "128", "FORMAT": "image/png"})
        if resp.status_code != 200 or resp["Content-Type"] != "image/png":
            failures[name] = resp.content[:300]
            continue
        image = Image.open(io.BytesIO(resp.content)).convert("RGBA")
        if name.startswith("raster."):  # the demo rasters cover the town: something must be drawn
            assert image.getextrema()[3][1] > 0, f"{name} drew nothing"
            colours[name] = image.getpixel((64, 64))
    assert not failures
    if {"raster.dem", "raster.hillshade"} <= set(colours):
        assert colours["raster.dem"] != colours["raster.hillshade"]  # the terrain ramp, not a grey stretch
