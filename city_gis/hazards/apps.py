from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HazardsConfig(AppConfig):
    name = "city_gis.hazards"
    label = "hazards"
    verbose_name = _("地质灾害监测预警")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Patrol tasks for yellow+ alerts: hazards calls into cases, never the other way round.
        from . import alerts, patrols

        if patrols.on_alert_changes not in alerts.CHANGE_HOOKS:
            alerts.CHANGE_HOOKS.append(patrols.on_alert_changes)

        from city_gis.accounts.layer_owner import register_after_migrate

        # The app's live layers exist wherever its tables do (owner: CITYGIS_DOMAIN_LAYER_OWNER).
        post_migrate.connect(register_after_migrate, sender=self, dispatch_uid=f"{self.label}.domain_layers")

    def register_domain_layers(self, owner) -> list[str]:
        """Register (or update) this app's layers owned by `owner` (a Department); returns their names."""
        from .maplayers import register_hazard_layers

        return [layer.name for layer in register_hazard_layers(owner)]
