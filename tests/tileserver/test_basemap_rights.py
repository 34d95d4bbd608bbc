"""Who is drawn into the shared base map (issue 9, observation 6, composition side).

`base.basemap` is shown to everyone, anonymous included. It composes only public vector base layers owned by a
base-map department (CITYGIS_BASEMAP_DEPARTMENTS, via layers.access.basemap_departments; the demo: `survey`).
A base layer of any other department is still its own layer, but it never defaces the shared map — even if a
write path let it be created.
"""

from __future__ import annotations

import io

import pytest
import yaml
from PIL import Image

from .conftest import PREFIX, _square

pytestmark = pytest.mark.django_db

# Rural Liupanshui, away from the demo's town features: the base map shows its plain background there.
BOXES = {"base.test_defaced": (105.200, 25.900, 105.210, 25.910),
         "base.test_survey_overlay": (105.230, 25.900, 105.240, 25.910),
         "base.test_survey_internal": (105.260, 25.900, 105.270, 25.910)}
# layer → (owner department, classification, fill, drawn into the base map)
LAYERS = {
    "base.test_defaced": ("planning", "public", "#ff0000", False),
    "base.test_survey_overlay": ("survey", "public", "#ff00ff", True),
    "base.test_survey_internal": ("survey", "internal", "#00ff00", False),
}


@pytest.fixture(scope="module")
def base_layers(django_db_blocker, tile_data):
    from layers.models import LandParcel, Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    with django_db_blocker.unblock():
        for i, (name, (owner, classification, fill, _drawn)) in enumerate(LAYERS.items()):
            code = f"{PREFIX}BM{i}"
            LandParcel.objects.update_or_create(parcel_code=code, defaults={"landuse_code": "0701",
                                                                            "geom": _square(BOXES[name])})
            # Created directly: the composition rule must hold whatever a write path allowed.
            register_layer(name, owner=owner, title_zh=name, kind="vector", geometry_type="POLYGON",
                           source_table="layers_landparcel", classification=classification,
                           source_where=[{"column": "parcel_code", "op": "=", "value": code}],
                           attribute_columns=["id", "parcel_code"],
                           style={"fill": fill, "stroke": fill, "opacity": 100})
        paths = generate_all()
    yield paths
    with django_db_blocker.unblock():
        Layer.objects.filter(name__in=list(LAYERS)).delete()
        LandParcel.objects.filter(parcel_code__startswith=PREFIX + "BM").delete()
        generate_all()


def basemap_source_layers(conf: dict) -> set[str]:
    return set(conf["sources"]["src_base.basemap"]["req"]["layers"].split(","))


@pytest.mark.parametrize("name", list(LAYERS))
def test_basemap_composes_only_public_layers_of_basemap_departments(base_layers, name):
    conf = yaml.safe_load(base_layers.mapproxy_yaml.read_text())
    assert (name in basemap_source_layers(conf)) is LAYERS[name][3]
    assert f"src_{name}" in conf["sources"]  # every one is still published as a layer of its own
    assert {"base.roads", "base.city"} <= basemap_source_layers(conf)  # the demo's survey layers


def share_of(content: bytes, rgb: tuple[int, int, int]) -> float:
    """Share of the image's central 40×40 pixels that have colour `rgb` (±40 per channel)."""
    img = Image.open(io.BytesIO(content)).convert("RGB")
    w, h = img.size
    px = [img.getpixel((x, y)) for x in range(w // 2 - 20, w // 2 + 20) for y in range(h // 2 - 20, h // 2 + 20)]
    return sum(all(abs(a - b) <= 40 for a, b in zip(p, rgb, strict=True)) for p in px) / len(px)


def getmap(client, layer: str, bbox) -> bytes:
    minx, miny, maxx, maxy = bbox
    resp = client.get("/ows", {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": layer,
                               "STYLES": "", "SRS": "EPSG:4490", "BBOX": f"{minx},{miny},{maxx},{maxy}",
                               "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png"})
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png", resp.content[:300]
    return resp.content


@pytest.mark.parametrize("name", ["base.test_defaced", "base.test_survey_overlay"])
def test_anonymous_base_map_pixels(client, base_layers, name):
    fill = tuple(int(LAYERS[name][2][i:i + 2], 16) for i in (1, 3, 5))
    minx, miny, maxx, maxy = BOXES[name]
    window = (minx - 0.01, miny - 0.01, maxx + 0.01, maxy + 0.01)
    assert share_of(getmap(client, name, window), fill) > 0.9  # the layer itself draws (public)
    drawn = share_of(getmap(client, "base.basemap", window), fill)
    assert (drawn > 0.9) if LAYERS[name][3] else (drawn == 0), drawn


def test_the_basemap_departments_setting_decides(base_layers, settings):
    from tileserver.mapproxy_conf import build_mapproxy_conf
    from tileserver.specs import all_layer_specs

    settings.CITYGIS_BASEMAP_DEPARTMENTS = ["planning"]
    conf = build_mapproxy_conf(all_layer_specs(), base_layers)
    assert basemap_source_layers(conf) == {"base.test_defaced"}
    settings.CITYGIS_BASEMAP_DEPARTMENTS = []
    conf = build_mapproxy_conf(all_layer_specs(), base_layers)
    assert "src_base.basemap" not in conf["sources"] and "base.basemap" not in conf["caches"]


def test_nginx_serves_the_basemap_only_when_it_is_composed(base_layers, settings):
    from tileserver.generate import nginx_snippet
    from tileserver.specs import all_layer_specs

    assert "base\\.basemap" in nginx_snippet(all_layer_specs(), base_layers)
    settings.CITYGIS_BASEMAP_DEPARTMENTS = []
    assert "base\\.basemap" not in nginx_snippet(all_layer_specs(), base_layers)
