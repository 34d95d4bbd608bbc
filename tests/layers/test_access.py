"""Layer visibility and write rights by classification, department and role."""

import pytest
from django.contrib.auth.models import AnonymousUser

from city_gis.accounts.models import Department
from layers.access import can_read, can_write, visible_layers
from layers.models import Classification, Layer


@pytest.fixture
def three_layers(db):
    land = Department.objects.get(code="land")
    make = lambda name, cls: Layer.objects.create(  # noqa: E731
        name=name, theme=name.split(".")[0], title_zh=name, owner=land, geometry_type="POLYGON",
        source_table="layers_landparcel", classification=cls,
    )
    return make("land.t_public", Classification.PUBLIC), make("land.t_internal", Classification.INTERNAL), make(
        "land.t_restricted", Classification.RESTRICTED
    )


def test_anonymous_sees_only_public(three_layers):
    public, internal, restricted = three_layers
    names = set(visible_layers(AnonymousUser()).values_list("name", flat=True))
    assert public.name in names and internal.name not in names and restricted.name not in names
    assert not can_read(AnonymousUser(), internal)


def test_restricted_is_for_owner_and_granted_departments(three_layers, user_factory):
    _, _, restricted = three_layers
    owner_staff = user_factory("landclerk", roles=["planner"], department="land")
    other = user_factory("sanclerk", roles=["planner"], department="sanitation")
    assert can_read(owner_staff, restricted)
    assert not can_read(other, restricted)
    assert restricted.name not in set(visible_layers(other).values_list("name", flat=True))
    restricted.readers.add(Department.objects.get(code="sanitation"))
    assert can_read(other, restricted)


def test_only_owner_data_stewards_write(three_layers, user_factory):
    public, _, _ = three_layers
    steward = user_factory("ls", roles=["data_steward"], department="land")
    foreign = user_factory("hs", roles=["data_steward"], department="housing")
    planner = user_factory("pl", roles=["planner"], department="land")
    assert can_write(steward, public)
    assert not can_write(foreign, public)
    assert not can_write(planner, public)


def test_in_services_is_visible_layers_for_one_layer(three_layers, user_factory):
    """The one-layer form of the rule (a request naming a collection) agrees with the queryset for every layer,
    retired ones and domain layers with their own read policy included, for every kind of user."""
    from django.utils import timezone

    from layers.access import in_services

    _, internal, _ = three_layers
    Layer.objects.filter(pk=internal.pk).update(retired_at=timezone.now())
    users = [AnonymousUser(), user_factory("svc_land", roles=["planner"], department="land"),
             user_factory("svc_san", roles=["planner"], department="sanitation"),
             user_factory("svc_insp", roles=["inspector"], department="urban"),
             user_factory("svc_admin", roles=["admin"], department="land")]
    layers = list(Layer.objects.all())
    assert any(layer.retired_at for layer in layers)
    for user in users:
        for partial in (False, True):
            expected = set(visible_layers(user, partial=partial).values_list("pk", flat=True))
            assert {layer.pk for layer in layers if in_services(user, layer, partial=partial)} == expected, (
                user, partial)
