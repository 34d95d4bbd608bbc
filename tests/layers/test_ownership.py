"""Ownership on every write path (admin, API, CLI) and the explicit right to publish into the base map.

One policy, layers.access: can_write / writable_layers (admins, or stewards of the owner department) and
may_publish_to_theme / may_create_layer (base theme: admins and CITYGIS_BASEMAP_DEPARTMENTS only).
"""

from __future__ import annotations

import io

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from layers.access import can_write, may_create_layer, may_publish_to_theme, writable_layers
from layers.models import GenericFeature, Layer
from layers.registry import register_layer

from .conftest import LAT0, LON0

pytestmark = pytest.mark.django_db


def _generic(name: str, owner: str) -> Layer:
    layer = register_layer(name, owner=owner, title_zh=name, geometry_type="POINT", is_generic=True,
                           source_table="layers_genericfeature",
                           source_where=[{"column": "layer_id", "op": "is_null"}])
    layer.source_where = [{"column": "layer_id", "op": "=", "value": layer.pk}]
    layer.save(update_fields=["source_where"])
    return layer


@pytest.fixture
def land_layer() -> Layer:
    return _generic("land.lyt_own_land", "land")


@pytest.fixture
def housing_layer() -> Layer:
    return _generic("housing.lyt_own_housing", "housing")


@pytest.fixture
def feature(land_layer) -> GenericFeature:
    return GenericFeature.objects.create(layer=land_layer, geom=Point(LON0, LAT0, srid=4490), attributes={"k": "v"})


def _staff(user_factory, username: str, department: str, roles=("data_steward",)):
    user = user_factory(username, roles=list(roles), department=department)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def land_steward(user_factory):
    return _staff(user_factory, "own_land_steward", "land")


@pytest.fixture
def survey_steward(user_factory):
    return _staff(user_factory, "own_survey_steward", "survey")


# ----------------------------------------------------------------------------------------- the policy

@pytest.mark.parametrize(("username", "department", "roles", "theme", "may"), [
    ("p_admin", "urban", ["admin"], "base", True),
    ("p_survey", "survey", ["data_steward"], "base", True),
    ("p_land", "land", ["data_steward"], "base", False),
    ("p_land2", "land", ["data_steward"], "land", True),
    ("p_planner", "planning", ["planner"], "base", False),
])
def test_who_may_publish_to_the_base_theme(user_factory, username, department, roles, theme, may):
    assert may_publish_to_theme(user_factory(username, roles=roles, department=department), theme) is may


def test_basemap_departments_come_from_the_setting(user_factory, settings):
    steward = user_factory("p_land3", roles=["data_steward"], department="land")
    assert not may_create_layer(steward, "land", "base")
    settings.CITYGIS_BASEMAP_DEPARTMENTS = ["land"]
    assert may_create_layer(steward, "land", "base")
    assert not may_create_layer(steward, "housing", "land"), "own department only"


def test_writable_layers_agrees_with_can_write(land_steward, land_layer, housing_layer, user_factory):
    planner = user_factory("w_planner", roles=["planner"], department="land")
    for user in (land_steward, planner):
        writable = set(writable_layers(user).filter(name__in=[land_layer.name, housing_layer.name]))
        assert writable == {x for x in (land_layer, housing_layer) if can_write(user, x)}
    assert can_write(land_steward, land_layer) and not can_write(land_steward, housing_layer)
    assert not can_write(planner, land_layer), "the department alone is not the data steward role"


# ----------------------------------------------------------------------------------------------- admin

def test_admin_never_moves_a_feature_to_another_layer(client, land_steward, feature, housing_layer):
    client.force_login(land_steward)
    url = f"/admin/layers/genericfeature/{feature.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "layer" not in page.context["adminform"].form.fields, "the layer of an existing feature is read-only"
    response = client.post(url, {"layer": housing_layer.pk, "geom": feature.geom.geojson,
                                 "attributes": '{"k": "moved"}'})
    assert response.status_code == 302
    feature.refresh_from_db()
    assert feature.layer_id != housing_layer.pk
    assert not GenericFeature.objects.filter(layer=housing_layer).exists()


def test_admin_add_offers_only_writable_layers(client, land_steward, land_layer, housing_layer):
    client.force_login(land_steward)
    page = client.get("/admin/layers/genericfeature/add/")
    assert page.status_code == 200
    choices = set(page.context["adminform"].form.fields["layer"].queryset)
    assert land_layer in choices and housing_layer not in choices
    response = client.post("/admin/layers/genericfeature/add/", {
        "layer": housing_layer.pk, "geom": Point(LON0, LAT0, srid=4490).geojson, "attributes": "{}"})
    assert response.status_code == 200 and "layer" in response.context["adminform"].form.errors
    assert not GenericFeature.objects.filter(layer=housing_layer).exists()


def test_admin_hides_other_departments_features(client, user_factory, feature):
    client.force_login(_staff(user_factory, "own_housing_steward", "housing"))
    assert client.get(f"/admin/layers/genericfeature/{feature.pk}/change/").status_code in (302, 404)
    assert client.post(f"/admin/layers/genericfeature/{feature.pk}/delete/", {"post": "yes"}).status_code in (302, 404)
    assert GenericFeature.objects.filter(pk=feature.pk).exists()


def _layer_form_data(client, layer: Layer) -> dict:
    form = client.get(f"/admin/layers/layer/{layer.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"keywords": "", "attribute_columns": "", "readers": [], "owner": layer.owner_id, "extent": "",
                 "style": "{}"})
    return data


@pytest.mark.parametrize(("steward", "allowed"), [("land_steward", False), ("survey_steward", True)])
def test_admin_moving_a_layer_into_the_base_theme_needs_the_right(client, request, steward, allowed):
    user = request.getfixturevalue(steward)
    layer = _generic("land.lyt_own_rename", user.department.code)
    client.force_login(user)
    data = _layer_form_data(client, layer)
    data.update({"name": "base.lyt_own_rename", "theme": "base", "classification": "public"})
    response = client.post(f"/admin/layers/layer/{layer.pk}/change/", data)
    layer.refresh_from_db()
    if allowed:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert layer.name == "base.lyt_own_rename"
    else:
        assert response.status_code == 200
        assert "theme" in response.context["adminform"].form.errors
        assert layer.name == "land.lyt_own_rename" and layer.theme == "land"


# ------------------------------------------------------------------------------------------------- API

def _upload(squares) -> io.BytesIO:
    buf = io.BytesIO(squares.to_json().encode())
    buf.name = "data.geojson"
    return buf


@pytest.mark.parametrize(("steward", "status"), [("land_steward", 403), ("survey_steward", 201)])
def test_api_creates_base_layers_only_for_basemap_departments(request, squares, steward, status):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(steward))
    response = client.post("/api/v1/layers/", {"name": "base.lyt_own_deface", "title_zh": "底图", "theme": "base",
                                               "classification": "public", "file": _upload(squares)},
                           format="multipart")
    assert response.status_code == status, response.content
    assert Layer.objects.filter(name="base.lyt_own_deface").exists() is (status == 201)
    if status == 403:
        assert "theme" in response.json()


def test_api_import_into_another_departments_layer_is_403(squares, land_steward, housing_layer):
    client = APIClient()
    client.force_authenticate(land_steward)
    response = client.post(f"/api/v1/layers/{housing_layer.name}/import/", {"file": _upload(squares)},
                           format="multipart")
    assert response.status_code == 403
    assert not GenericFeature.objects.filter(layer=housing_layer).exists()


# ------------------------------------------------------------------------------------------------- CLI

def test_cli_import_as_a_user_of_another_department_is_refused(squares, tmp_path, land_steward, housing_layer):
    path = tmp_path / "squares.geojson"
    squares.to_file(path, driver="GeoJSON")
    with pytest.raises(CommandError):
        call_command("import_layer", str(path), "--layer", housing_layer.name, "--user", land_steward.username,
                     verbosity=0)
    assert not GenericFeature.objects.filter(layer=housing_layer).exists()


def test_cli_create_of_a_base_layer_needs_the_basemap_right(squares, tmp_path, land_steward):
    path = tmp_path / "squares.geojson"
    squares.to_file(path, driver="GeoJSON")
    with pytest.raises(CommandError):
        call_command("import_layer", str(path), "--layer", "base.lyt_own_cli", "--create", "--department", "land",
                     "--title-zh", "底图", "--classification", "public", "--user", land_steward.username,
                     verbosity=0)
    assert not Layer.objects.filter(name="base.lyt_own_cli").exists()
