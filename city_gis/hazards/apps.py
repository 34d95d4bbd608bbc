from django.apps import AppConfig
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
