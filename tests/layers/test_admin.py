"""Admin: the layer list is limited to the user's department; style JSON is validated; map widgets render."""

import json

import pytest

from layers.models import Layer
from layers.registry import register_layer

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_layers():
    make = lambda name, owner: register_layer(  # noqa: E731
        name, owner=owner, title_zh=name, geometry_type="POLYGON", source_table="layers_landparcel",
        source_where=[{"column": "id", "op": "is_null"}])
    return make("land.lyt_admin_land", "land"), make("housing.lyt_admin_housing", "housing")


@pytest.fixture
def steward(user_factory):
    user = user_factory("land_admin_steward", roles=["data_steward"], department="land")
    user.is_staff = True
    user.save()
    return user


def test_steward_sees_only_own_department_layers(client, steward, two_layers):
    client.force_login(steward)
    page = client.get("/admin/layers/layer/").content.decode()
    assert "land.lyt_admin_land" in page and "housing.lyt_admin_housing" not in page
    other = two_layers[1]
    assert client.get(f"/admin/layers/layer/{other.pk}/change/").status_code in (302, 404)


def test_admin_refuses_an_invalid_style(client, two_layers, user_factory):
    admin_user = user_factory("root_admin", roles=["admin"], department="urban")
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    layer = two_layers[0]
    url = f"/admin/layers/layer/{layer.pk}/change/"
    form = client.get(url)
    assert form.status_code == 200
    data = {k: v for k, v in form.context["adminform"].form.initial.items() if v is not None}
    data.update({"style": '{"fill": "red"}', "keywords": "", "attribute_columns": "", "readers": [],
                 "owner": layer.owner_id, "extent": "", "source_where": json.dumps(layer.source_where)})
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["style"] and errors["style"][0].startswith("fill:")
    assert Layer.objects.get(pk=layer.pk).style == {}
    # the source filter is JSON checked by its schema and against the table's columns, named in the error
    data.update({"style": "{}", "source_where": '[{"column": "no_such", "op": "is_null"}]'})
    errors = client.post(url, data).context["adminform"].form.errors
    assert list(errors) == ["source_where"] and errors["source_where"][0].startswith("source_where[0].column:")
    data["source_where"] = '[{"column": "id", "op": "drop"}]'
    errors = client.post(url, data).context["adminform"].form.errors
    assert list(errors) == ["source_where"] and errors["source_where"][0].startswith("source_where[0].op:")
    assert Layer.objects.get(pk=layer.pk).source_where == [{"column": "id", "op": "is_null"}]


def test_thematic_admin_has_a_leaflet_map(client, user_factory):
    admin_user = user_factory("map_admin", roles=["admin"], department="urban")
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    page = client.get("/admin/layers/landparcel/add/").content.decode()
    assert "leaflet" in page.lower() and "/tiles/" in page
