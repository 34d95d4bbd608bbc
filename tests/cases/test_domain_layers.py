"""The domain registers its own layers (cases.*, grid.*, evaluation.*): after migrate and by
`citygis register_domain_layers`, owned by CITYGIS_DOMAIN_LAYER_OWNER — and creates nothing when that
department does not exist (departments are the operator's data, never invented)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from city_gis.accounts.layer_owner import register_after_migrate
from city_gis.accounts.models import Department
from layers.models import Layer

pytestmark = pytest.mark.django_db

DOMAIN_LAYERS = {
    "cases": ["cases.open", "cases.closed"],
    "grid": ["grid.cells", "grid.components"],
    "evaluation": ["evaluation.grid_score", "evaluation.community_score", "evaluation.street_score"],
}
ALL = sorted(name for names in DOMAIN_LAYERS.values() for name in names)


def _owners(names=ALL) -> dict[str, str | None]:
    found = dict(Layer.objects.filter(name__in=names).values_list("name", "owner__code"))
    return {name: found.get(name) for name in names}


def test_the_demo_layers_are_owned_by_the_default_owner_urban():
    assert _owners() == dict.fromkeys(ALL, "urban")


def test_the_command_registers_every_domain_layer_for_the_configured_owner(settings, capsys):
    settings.CITYGIS_DOMAIN_LAYER_OWNER = "survey"
    Layer.objects.filter(name__in=ALL).delete()
    call_command("register_domain_layers")
    assert _owners() == dict.fromkeys(ALL, "survey")
    out = capsys.readouterr().out
    assert "cases: cases.open, cases.closed" in out and "grid: grid.cells, grid.components" in out


def test_the_command_refuses_a_missing_owner_and_changes_nothing(settings):
    settings.CITYGIS_DOMAIN_LAYER_OWNER = "no-such-dept"
    Layer.objects.filter(name="grid.cells").delete()
    before = list(Layer.objects.order_by("name").values_list("name", "owner__code", "updated_at"))
    with pytest.raises(CommandError, match="CITYGIS_DOMAIN_LAYER_OWNER"):
        call_command("register_domain_layers")
    assert list(Layer.objects.order_by("name").values_list("name", "owner__code", "updated_at")) == before
    assert not Department.objects.filter(code="no-such-dept").exists()  # no department invented


@pytest.mark.parametrize("app", sorted(DOMAIN_LAYERS))
def test_after_migrate_each_app_registers_only_its_own_layers(settings, app):
    settings.CITYGIS_DOMAIN_LAYER_OWNER = "survey"
    Layer.objects.filter(name__in=ALL).delete()
    register_after_migrate(sender=apps.get_app_config(app), using="default", verbosity=0)
    assert {n for n, owner in _owners().items() if owner} == set(DOMAIN_LAYERS[app])
    assert set(_owners(DOMAIN_LAYERS[app]).values()) == {"survey"}


def test_after_migrate_without_the_owner_department_registers_nothing(settings):
    settings.CITYGIS_DOMAIN_LAYER_OWNER = "no-such-dept"
    Layer.objects.filter(name__in=ALL).delete()
    for app in DOMAIN_LAYERS:
        register_after_migrate(sender=apps.get_app_config(app), using="default", verbosity=0)
    assert _owners() == dict.fromkeys(ALL)


def test_the_domain_read_policies_still_govern_the_registered_layers(settings):
    from layers.access import read_policies

    settings.CITYGIS_DOMAIN_LAYER_OWNER = "survey"
    call_command("register_domain_layers")
    assert {"cases.", "evaluation."} <= {p.prefix for p in read_policies()}
