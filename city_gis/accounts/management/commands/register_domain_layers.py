"""citygis register_domain_layers: register (or update) the domain's own layers now (e.g. after loading departments)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from city_gis.accounts.layer_owner import register_domain_layers


class Command(BaseCommand):
    help = "Register the layers of every app that offers them (cases, grid, evaluation), owned by CITYGIS_DOMAIN_LAYER_OWNER."

    def handle(self, *args, **opts) -> None:
        registered = register_domain_layers(list(apps.get_app_configs()))
        if not registered:
            raise CommandError(f"no department with code {settings.CITYGIS_DOMAIN_LAYER_OWNER!r} "
                               "(CITYGIS_DOMAIN_LAYER_OWNER): load the departments first; nothing registered")
        for label, names in registered.items():
            self.stdout.write(f"{label}: {', '.join(names) or '—'}")
