"""The demo component inventory (built by the session fixture): 16-digit identifiers that agree with the
component's district and class, every component in a current cell, and the grid.components layer."""

import re

from django.db import connection

from city_gis.grid.models import Component
from layers.models import Layer


def test_components_have_16_digit_codes_matching_district_and_class(db):
    comps = list(Component.objects.select_related("category", "cell__community__street__district")[:3000])
    assert len(comps) > 1000
    for c in comps:
        assert re.fullmatch(r"\d{16}", c.code)
        assert c.code[:6] == c.cell.community.street.district.code
        assert c.code[6:10] == c.category.code and c.category.kind == "component"
        assert c.cell.geom.contains(c.geom)
        assert c.maintainer_department == c.category.default_department


def test_inventory_has_the_usual_street_furniture(db):
    names = set(Component.objects.values_list("category__name_zh", flat=True).distinct())
    assert {"路灯", "污水井盖", "雨水箅子", "垃圾箱", "行道树", "公交站亭"} <= names


def test_components_layer_is_registered_on_its_view(db):
    layer = Layer.objects.get(name="grid.components")
    assert layer.source_table == "grid_component_v" and layer.owner.code == "urban"
    assert layer.feature_count == Component.objects.count()
    with connection.cursor() as cur:
        cur.execute("SELECT code, category_name, state FROM grid_component_v LIMIT 1")
        code, name, state = cur.fetchone()
    assert len(code) == 16 and name and state in ("intact", "damaged", "lost", "removed")
